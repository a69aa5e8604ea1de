# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""reuse_freed_memory: what it asks of glibc, what it does to page faults, and the bundles' setting."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest
from bundle_helpers import build_config_ids

from monai_mamba import allocator

pytestmark = pytest.mark.filterwarnings("error::UserWarning")


class _RecordingLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, parameter, value):
        self.calls.append((parameter, value))
        return 1


def test_enabled_asks_for_heap_blocks_and_no_trimming(monkeypatch):
    libc = _RecordingLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    assert allocator.reuse_freed_memory() is True
    assert libc.calls == [(-4, 0), (-1, -1)]  # M_MMAP_MAX 0; M_TRIM_THRESHOLD -1, stored as the largest size_t


def test_disabled_leaves_the_allocator_alone(monkeypatch):
    libc = _RecordingLibc()
    monkeypatch.setattr(allocator, "_glibc", lambda: libc)
    assert allocator.reuse_freed_memory(False) is False and libc.calls == []


def test_another_c_library_is_told_once_and_left_alone(monkeypatch):
    monkeypatch.setattr(allocator, "_glibc", lambda: None)
    allocator._warn_unsupported.cache_clear()
    with pytest.warns(UserWarning, match="needs glibc's malloc.*reuse_freed_memory to false") as warned:
        assert allocator.reuse_freed_memory() is False
        assert allocator.reuse_freed_memory() is False
    assert len(warned) == 1


_FAULTS = """
import resource, sys, torch
from monai_mamba.allocator import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):  # a 64 MiB tensor, allocated, written and freed until the heap holds it (it grows a few times)
    torch.ones(2**24).sum()
before = faults()
for _ in range(5):
    torch.ones(2**24).sum()
print(faults() - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")
def test_reused_memory_takes_no_page_faults_for_a_large_tensor():
    """A freed 64 MiB tensor is unmapped by default, so each new one faults its 16384 pages in again; with freed
    memory kept, the next ones reuse it (in a child process: the setting is process-wide)."""

    def faults(mode):
        run = subprocess.run([sys.executable, "-c", _FAULTS, mode], capture_output=True, text=True, check=True)
        return int(run.stdout.split()[-1])

    default, reused = faults("default"), faults("reuse")
    assert default >= 5 * 16384 * 0.9  # every allocation faulted in again
    assert reused < 16384 // 2  # not one allocation faulted in: the freed block was reused


@pytest.mark.parametrize("config", ["inference.json", "train.yaml", "evaluate.yaml"])
def test_bundle_setting_reaches_the_allocator_in_setup(config, monkeypatch):
    """``reuse_freed_memory`` (off by default) is what ``allocator`` passes on, and each config's setup runs it."""
    calls = []
    monkeypatch.setattr(allocator, "reuse_freed_memory", lambda enabled=True: calls.append(enabled) or enabled)
    configs = ["train.yaml", "evaluate.yaml"] if config == "evaluate.yaml" else [config]
    for setting in (False, True):
        overrides = {} if not setting else {"reuse_freed_memory": True}
        parser = build_config_ids("lightm_unet", configs, ["allocator"], overrides)
        assert "@allocator" in parser["setup"]
    assert calls == [False, True]
