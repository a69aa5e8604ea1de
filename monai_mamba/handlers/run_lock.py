# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""One training run at a time in a run folder."""

from __future__ import annotations

import os
import time

from filelock import FileLock, Timeout

from monai_mamba.errors import ActionableError

__all__ = ["RunFolderBusyError", "RunLock"]

_HELD: dict[str, FileLock] = {}  # lock file -> the lock, for the locks this process holds


class RunFolderBusyError(ActionableError, RuntimeError):
    """Another process is training in the same run folder."""


class RunLock:
    """An exclusive lock on ``folder/.run.lock``, held while a run trains there.

    The lock is ``filelock.FileLock`` (an ``flock`` on Linux and macOS, ``msvcrt.locking`` on Windows) on an open
    file: the operating system releases it when the process ends, however it ends (a crash or ``kill -9`` leaves no
    stale lock). ``folder/.run.lock.holder`` records the holder's pid and start time for the message a second run
    gets. Within one process the lock is re-entrant: a run that failed without releasing it (an exception) does not
    block the next run of the same process (a notebook, a test session).

    Args:
        folder: the run folder (created when missing).
    """

    def __init__(self, folder: str) -> None:
        self.path = os.path.abspath(os.path.join(folder, ".run.lock"))
        self.holder_path = f"{self.path}.holder"

    def acquire(self) -> None:
        """Take the lock or raise ``RunFolderBusyError`` at once, naming the process that holds it."""
        if self.path in _HELD:
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        lock = FileLock(self.path, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            try:
                with open(self.holder_path) as f:
                    holder = f.read().strip() or "another process"
            except OSError:
                holder = "another process"
            raise RunFolderBusyError(
                f"another training run is using {os.path.dirname(self.path)} ({holder}); two runs in one folder would "
                "interleave their checkpoints. Wait for it to finish (or stop it), or give this run its own folder "
                "with --bundle_root."
            ) from None
        with open(self.holder_path, "w") as f:
            f.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        _HELD[self.path] = lock

    def release(self) -> None:
        lock = _HELD.pop(self.path, None)
        if lock is not None:
            lock.release(force=True)
