"""Readers: partial lines held back, pipes polled, files followed like `tail -F`."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

from collect.tail.reader import BatchedLines, FollowedFile, PipeLines

DEADLINE_S = 15.0


def _line(number: int) -> bytes:
    return b'{"n": %d, "pad": "%s"}\n' % (number, b"x" * (number % 40))


def test_batched_lines_end_with_the_unterminated_last_line() -> None:
    source = BatchedLines(io.BytesIO(b"a\nb\nc"), batch=2)
    batches = []
    while not source.finished:
        batches.append(source.poll(0))
    assert batches == [[b"a\n", b"b\n"], [b"c"]]


def test_a_pipe_holds_back_a_partial_line_until_its_newline() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb", buffering=0) as stream:
        source = PipeLines(stream)
        os.write(write_end, b"first\nsec")
        assert source.poll(1.0) == [b"first"]
        assert source.poll(0.01) == []
        os.write(write_end, b"ond\nthi")
        assert source.poll(1.0) == [b"second"]
        os.close(write_end)
        assert source.poll(1.0) == [b"thi"]
        assert source.finished


def test_a_followed_file_waits_for_the_file_and_for_the_newline(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.jsonl"
    source = FollowedFile(str(path), sleep=lambda _: None)
    assert source.poll(0) == []
    path.write_bytes(b'{"a": 1}\n{"b"')
    assert source.poll(0) == [b'{"a": 1}']
    with path.open("ab") as out:
        out.write(b": 2}\n")
    assert source.poll(0) == [b'{"b": 2}']
    source.close()


def test_follow_survives_rotation_and_truncation_while_written(tmp_path: Path) -> None:
    """A writer thread appends (splitting some lines in two writes), renames the file
    away and keeps writing to the old one, recreates it, then truncates it: every
    complete line is read exactly once, in order."""
    path = tmp_path / "events.jsonl"
    written: list[bytes] = []
    read: list[bytes] = []
    caught_up = threading.Event()

    def wait_for_reader() -> None:
        deadline = time.monotonic() + DEADLINE_S
        while len(read) < len(written) and time.monotonic() < deadline:
            time.sleep(0.005)

    def write(out: io.BufferedWriter, numbers: range) -> None:
        for number in numbers:
            line = _line(number)
            if number % 7 == 0:  # a line arriving in two pieces
                out.write(line[:9])
                out.flush()
                time.sleep(0.002)
                line = line[9:]
            out.write(line)
            out.flush()
            written.append(_line(number).rstrip(b"\n"))
            if number % 10 == 0:
                time.sleep(0.001)

    def writer() -> None:
        with path.open("wb") as out:
            write(out, range(0, 200))
            os.rename(path, tmp_path / "events.jsonl.1")
            write(out, range(200, 230))  # still into the renamed file
        with path.open("wb") as out:
            write(out, range(230, 400))
        wait_for_reader()  # lines written but not read before a truncation are lost
        with path.open("r+b") as out:
            out.truncate(0)
        with path.open("ab") as out:
            write(out, range(400, 450))
        caught_up.set()

    thread = threading.Thread(target=writer, daemon=True)
    source = FollowedFile(str(path), sleep=time.sleep)
    thread.start()
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        read.extend(line.rstrip(b"\n") for line in source.poll(0.005))
        if caught_up.is_set() and len(read) >= len(written):
            break
    read.extend(source.poll(0))
    thread.join(timeout=DEADLINE_S)
    source.close()

    assert not thread.is_alive()
    assert read == written
    assert len(read) == 450
