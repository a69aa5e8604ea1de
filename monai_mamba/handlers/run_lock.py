# Copyright (c) monai-mamba contributors. Licensed under the Apache License, Version 2.0.
"""One training run at a time in a run folder."""

from __future__ import annotations

import fcntl
import os
import time

__all__ = ["RunFolderBusyError", "RunLock"]

_HELD: dict[str, object] = {}  # lock file -> open handle, for the locks this process holds


class RunFolderBusyError(RuntimeError):
    """Another process is training in the same run folder."""


class RunLock:
    """An exclusive lock on ``folder/.run.lock``, held while a run trains there.

    The lock is an ``flock`` on an open file: the operating system releases it when the process ends, however it
    ends (a crash or ``kill -9`` leaves no stale lock). The file records the holder's pid and start time for the
    message a second run gets. Within one process the lock is re-entrant: a run that failed without releasing it
    (an exception) does not block the next run of the same process (a notebook, a test session).

    Args:
        folder: the run folder (created when missing).
    """

    def __init__(self, folder: str) -> None:
        self.path = os.path.abspath(os.path.join(folder, ".run.lock"))

    def acquire(self) -> None:
        """Take the lock or raise ``RunFolderBusyError`` at once, naming the process that holds it."""
        if self.path in _HELD:
            return
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held open while the run lasts: the lock lives with it
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunFolderBusyError(
                f"another training run is using {os.path.dirname(self.path)} ({holder}); two runs in one folder would "
                "interleave their checkpoints. Wait for it to finish (or stop it), or give this run its own folder "
                "with --bundle_root."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        _HELD[self.path] = handle

    def release(self) -> None:
        handle = _HELD.pop(self.path, None)
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
