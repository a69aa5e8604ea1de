#!/usr/bin/env bash
# The GPU check, one command on a machine with a CUDA device (about 10 minutes; CI never runs it):
#
#     bash benchmarks/gpu_check.sh                 # installs the `cuda` extra (compiles mamba-ssm and causal-conv1d)
#     WHEELS=/path/to/wheels bash benchmarks/gpu_check.sh   # or from prebuilt wheels, offline
#
# 1. installs the `cuda` extra into the current Python (skipped when both packages already import), and prints the
#    backend report (python -m monai_mamba.info);
# 2. runs the `gpu` tests: every block and network with mamba-ssm's and causal-conv1d's kernels against the torch
#    backend on the same weights (outputs and every gradient, float32 and bfloat16/float16 autocast), the scan's GPU
#    backends against the reference, and a bundle's `amp: true` on CUDA;
# 3. runs benchmarks/networks.py on CUDA: training step of every network at the papers' inputs, mamba-ssm vs the torch
#    backend, float32 and AMP (bfloat16, float16), with peak memory;
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
  if [ -n "${WHEELS:-}" ]; then
    "$python" -m pip install --quiet --no-index --find-links "$WHEELS" $extra || exit 1
  else  # builds against the installed torch: TORCH_CUDA_ARCH_LIST keeps it to this GPU's architecture
    arch=$("$python" -c "import torch; print('.'.join(map(str, torch.cuda.get_device_capability())))")
    TORCH_CUDA_ARCH_LIST=$arch MAX_JOBS=$(nproc) "$python" -m pip install --quiet --no-build-isolation $extra || exit 1
  fi
fi
"$python" -m pip install --quiet --no-deps --no-build-isolation -e . >/dev/null 2>&1 || true

"$python" -m monai_mamba.info --device cuda | tee "$out/info.txt"

timeout 300 "$python" -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu.py tests/test_selective_scan.py \
  --junitxml="$out/gpu_tests.xml" >"$out/gpu_tests.log" 2>&1
tests_status=$?
tail -n 15 "$out/gpu_tests.log"

(cd benchmarks && timeout 240 "$python" networks.py --device=cuda --inputs=paper --backends=default,torch \
  --precisions=float32,bfloat16,float16 --repeats=5) >"$out/networks.md" 2>&1

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
