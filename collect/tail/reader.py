"""Where the lines come from: a whole file, a pipe, or a file that keeps growing.

Every source hands out complete lines only, with or without their newline: the
decoder does not care, and leaving it saves a copy per line on the hot path. A partial
last line is held back until its newline arrives; when the input ends for good (end of
a file read once, end of a pipe) it is handed out as it is, so a truncated last line
is shown rather than lost.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

CHUNK = 1 << 20


class LineSource(Protocol):
    """Lines in batches; `finished` once no more can ever come."""

    finished: bool

    def poll(self, timeout: float) -> list[bytes]:
        """The complete lines available now, waiting up to `timeout` s for some."""
        ...


def iter_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Every line of `stream` to its end, the last one even without a newline."""
    return iter(stream)


class _Splitter:
    """Cuts a byte stream into lines, keeping the unfinished tail for later."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        lines = (self.pending + data).split(b"\n")
        self.pending = lines.pop()
        return [line.rstrip(b"\r") for line in lines]

    def flush(self) -> list[bytes]:
        """The unfinished tail as a line of its own: its end will never come."""
        rest, self.pending = self.pending, b""
        return [rest] if rest else []


class BatchedLines:
    """A stream read to its end in batches, so a viewer can redraw in between."""

    def __init__(self, stream: BinaryIO, batch: int = 20_000) -> None:
        self._lines = iter_lines(stream)
        self._batch = batch
        self.finished = False

    def poll(self, timeout: float) -> list[bytes]:
        batch = []
        for line in self._lines:
            batch.append(line)
            if len(batch) >= self._batch:
                return batch
        self.finished = True
        return batch


class PipeLines:
    """A pipe or terminal, read without blocking longer than the poll timeout."""

    def __init__(self, stream: BinaryIO) -> None:
        self._fd = stream.fileno()
        self._splitter = _Splitter()
        self.finished = False

    def poll(self, timeout: float) -> list[bytes]:
        if self.finished:
            return []
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return []
        data = os.read(self._fd, CHUNK)
        if not data:
            self.finished = True
            return self._splitter.flush()
        return self._splitter.feed(data)


class FollowedFile:
    """A file read like `tail -F`: it may not exist yet, be rotated, or truncated.

    Rotation (the path now names another file) is noticed by the inode; the old file
    is read to its end first, since a writer may still append to it after the rename.
    Truncation (the file is shorter than what was read) starts over from the top. A
    file truncated and then refilled past the old offset between two polls cannot be
    told apart from one that grew: `tail -F` has the same blind spot.
    """

    finished = False

    def __init__(self, path: str, sleep: Callable[[float], None]) -> None:
        self._path = path
        self._sleep = sleep
        self._file: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._splitter = _Splitter()

    def poll(self, timeout: float) -> list[bytes]:
        lines = self._read_available()
        if not lines:
            self._sleep(timeout)
            lines = self._read_available()
        return lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _read_available(self) -> list[bytes]:
        if self._file is None and not self._open():
            return []
        assert self._file is not None
        if os.fstat(self._file.fileno()).st_size < self._file.tell():
            lines = self._splitter.flush()
            self._file.seek(0)
            return lines + self._drain()
        lines = self._drain()
        if self._rotated():
            lines += self._drain() + self._splitter.flush()
            self.close()
            if self._open():
                lines += self._drain()
        return lines

    def _open(self) -> bool:
        try:
            handle = open(self._path, "rb")  # noqa: SIM115 - kept open across polls
        except FileNotFoundError:
            return False
        stat = os.fstat(handle.fileno())
        self._file = handle
        self._identity = (stat.st_dev, stat.st_ino)
        return True

    def _drain(self) -> list[bytes]:
        assert self._file is not None
        lines: list[bytes] = []
        while data := self._file.read(CHUNK):
            lines += self._splitter.feed(data)
        return lines

    def _rotated(self) -> bool:
        try:
            stat = os.stat(self._path)
        except FileNotFoundError:
            # Renamed away and not recreated yet: keep reading the old file.
            return False
        return (stat.st_dev, stat.st_ino) != self._identity
