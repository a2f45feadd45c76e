"""One run per store: an advisory lock on `<store>.lock`, held for the whole run.

`flock` locks die with their process, so a lock left by a killed run is simply free
again; the file's content (pid, run id, start time) only serves the error message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import orjson

from collect.errors import StoreBusy, StoreError


@contextlib.contextmanager
def store_lock(store: str, run_id: str, started_at: str) -> Iterator[None]:
    """Hold the store's lock, or raise StoreBusy naming the process that has it."""
    # Named after the real file, so a link or another spelling of the path
    # meets the same lock.
    path = Path(f"{Path(store).resolve()}.lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(
            f"cannot create the lock file {path}: {exc.strerror}"
        ) from None
    try:
        _take(fd, path)
        holder = {"pid": os.getpid(), "run_id": run_id, "started_at": started_at}
        os.ftruncate(fd, 0)
        os.pwrite(fd, orjson.dumps(holder) + b"\n", 0)
        yield
        os.ftruncate(fd, 0)
    finally:
        os.close(fd)


def _take(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise StoreBusy(
            f"the store is in use by {_describe_holder(fd)}",
            hint=f"wait for that run to end; its lock is {path}",
        ) from None


def _describe_holder(fd: int) -> str:
    try:
        holder = orjson.loads(os.pread(fd, 4096, 0))
        return (
            f"collect run pid {holder['pid']} (run {holder['run_id']}, "
            f"started {holder['started_at']})"
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, OSError):
        return "another collect run"
