# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""Keep freed memory for reuse (glibc): large tensors on a CPU without page faults, at the price of a higher peak.

PyTorch's CPU tensors come from ``malloc``. glibc serves every block above its mmap threshold (at most 32 MiB) with a
fresh ``mmap`` and unmaps it on ``free``, so each large tensor a 3-D network allocates (a 32-channel 128^3 map is
128 MiB in bfloat16) is faulted in page by page and zeroed by the kernel, every window, every step: system time that
took 40-60 % of a 3-D network's CPU inference (the README's figures, ``benchmarks/networks.py --inference
--backends=default,reuse``). ``reuse_freed_memory()`` tells glibc to serve large blocks from its
heap (``M_MMAP_MAX`` 0) and never to return the heap's top to the system (``M_TRIM_THRESHOLD`` at its maximum): after
the first window the blocks are reused and the page faults are gone. Freed memory stays with the process, so its
resident size is the peak of what it held, plus the heap's fragmentation (``benchmarks/networks.py --inference
--backends=default,reuse`` measures both). It is process-wide, applies to the allocations after the call and cannot
change any result. The glibc environment variables ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=18446744073709551615``
do the same for a process from its start (a MONAI Label server, a script).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import platform
import warnings

__all__ = ["reuse_freed_memory"]

_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
_M_MMAP_MAX = -4
_NO_TRIM = -1  # mallopt takes an int and stores it as size_t: -1 is the largest threshold, no trimming


@functools.cache
def _glibc():
    """glibc's C library, or None on another C library (macOS, musl, Windows)."""
    if platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


@functools.cache
def _warn_unsupported() -> None:
    warnings.warn(
        f"reuse_freed_memory: needs glibc's malloc, this system has {platform.libc_ver()[0] or 'another C library'}; "
        "the allocator is left as it is. Set reuse_freed_memory to false to silence this.",
        stacklevel=3,
    )


def reuse_freed_memory(enabled: bool = True) -> bool:
    """Tell glibc's malloc to keep freed memory for reuse (see the module docstring); ``enabled=False`` does nothing
    (a bundle's ``reuse_freed_memory: false``). Returns whether the allocator is now set so; on a system without
    glibc it warns once and returns False."""
    if not enabled:
        return False
    libc = _glibc()
    if libc is None:
        _warn_unsupported()
        return False
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _NO_TRIM))
