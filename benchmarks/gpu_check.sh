#!/usr/bin/env bash
# The GPU check, one command on a machine with a CUDA device (about 10 minutes; CI never runs it):
#
#     KERNEL_SDISTS=/path/to/sdists bash benchmarks/gpu_check.sh   # builds both kernels for this GPU only (minutes)
#     WHEELS=/path/to/wheels bash benchmarks/gpu_check.sh          # or installs prebuilt wheels, offline
#     bash benchmarks/gpu_check.sh                                 # or pip builds the `cuda` extra (every arch: ~1 h)
#
# 1. makes mamba-ssm and causal-conv1d importable (skipped when both already import): from the sdists in
#    KERNEL_SDISTS with benchmarks/build_kernels.py into KERNEL_TARGET (default: the output folder), or from WHEELS,
#    or with pip; then prints the backend report (python -m monai_mamba.info);
# 2. runs the `gpu` tests: every block and network with mamba-ssm's and causal-conv1d's kernels against the torch
#    backend on the same weights (outputs and every gradient, float32 and bfloat16/float16 autocast), the scan's GPU
#    backends against the reference, and a bundle's `amp: true` on CUDA (at most TESTS_TIMEOUT s, default 300);
# 3. runs benchmarks/networks.py on CUDA (BENCHMARK_ARGS; at most BENCHMARK_TIMEOUT s, default 240): by default the
#    training step of every network at the papers' inputs, mamba-ssm vs the torch backend, float32 and AMP (bfloat16,
#    float16), with peak memory;
# 4. prints one table: each test's result, then the benchmark's rows. Exit status: the tests'.
set -uo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
out=${OUT_DIR:-$(mktemp -d)}
export PYTHONUNBUFFERED=1

if ! "$python" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  echo "gpu_check: no CUDA device visible to $python; nothing to check" >&2
  exit 2
fi

if ! "$python" -c "import mamba_ssm.ops.selective_scan_interface, causal_conv1d" 2>/dev/null; then
  extra=$(sed -n '/^cuda =/,/^[^ ]/p' setup.cfg | grep -E '^\s+[a-z]' | tr -d ' ')
  if [ -n "${KERNEL_SDISTS:-}" ]; then
    target=${KERNEL_TARGET:-$out/kernels}
    "$python" benchmarks/build_kernels.py --sdists="$KERNEL_SDISTS" --target="$target" || exit 1
    export PYTHONPATH="$target${PYTHONPATH:+:$PYTHONPATH}"
  elif [ -n "${WHEELS:-}" ]; then
    "$python" -m pip install --quiet --no-index --find-links "$WHEELS" $extra || exit 1
  else  # their setup.py compiles for every architecture it lists, whatever TORCH_CUDA_ARCH_LIST says
    MAX_JOBS=$(nproc) "$python" -m pip install --quiet --no-build-isolation $extra || exit 1
  fi
fi
"$python" -m pip install --quiet --no-deps --no-build-isolation -e . >/dev/null 2>&1 || true

"$python" -m monai_mamba.info --device cuda | tee "$out/info.txt"

timeout "${TESTS_TIMEOUT:-300}" "$python" -m pytest -v -m gpu -p no:cacheprovider tests/test_gpu.py tests/test_selective_scan.py \
  --junitxml="$out/gpu_tests.xml" >"$out/gpu_tests.log" 2>&1
tests_status=$?
tail -n 15 "$out/gpu_tests.log"

benchmark_args=${BENCHMARK_ARGS:---inputs=paper --backends=default,torch --precisions=float32,bfloat16,float16 --repeats=5}
(cd benchmarks && timeout "${BENCHMARK_TIMEOUT:-240}" "$python" networks.py --device=cuda $benchmark_args) \
  >"$out/networks.md" 2>&1

echo
echo "| gpu test | result |"
echo "|---|---|"
"$python" - "$out/gpu_tests.xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET

for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
    print(f"| {case.get('name')} | {outcome} |")
EOF
echo
grep -E '^(device=|torch=|\|)' "$out/networks.md"
echo
echo "gpu_check: outputs in $out"
exit "$tests_status"
