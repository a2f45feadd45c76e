"""The writer: event lines out, sightings into the store, and its process life."""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from collect.events import create_activity_event
from collect.models import Product
from collect.store import open_store
from collect.writer import (
    PIPE_BUF,
    LineOutput,
    Writer,
    WriterConfig,
    open_output,
    writer_main,
)

SPAWN = multiprocessing.get_context("spawn")
T1 = "2026-01-01T10:00:00.000Z"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event_line(worker: int, size: int = 0) -> bytes:
    event = create_activity_event(
        worker, "ebay", "found", id=f"w{worker}", product_name="p" * size
    )
    return event.to_json_line()


def read_events(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return [orjson.loads(line) for line in data.splitlines()]


def pipeline_events(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (e["action"], e["operation_type"], e.get("source_worker_id"), e["items_count"])
        for e in events
        if e["worker_id"] == 0 and e["action"] != "complete"
    ]


@pytest.fixture
def out_path(tmp_path: Path) -> Path:
    return tmp_path / "events.jsonl"


@pytest.fixture
def make_writer(
    tmp_path: Path, out_path: Path
) -> Iterator[Callable[..., tuple[Writer, FakeClock]]]:
    writers: list[Writer] = []

    def make(**settings: Any) -> tuple[Writer, FakeClock]:
        config = WriterConfig(
            str(out_path), str(tmp_path / "sellers.db"), "run-1", **settings
        )
        clock = FakeClock()
        writer = Writer(
            config,
            open_store(config.store_path),
            open_output(config.out_path),
            clock=clock,
        )
        writers.append(writer)
        return writer, clock

    yield make
    for writer in writers:
        writer.store.close()


def sightings(worker: int, asin: str, *sellers: str) -> tuple[Any, ...]:
    return ("sightings", worker, asin, T1, [(s, 99.0, 10) for s in sellers])


# --- the Writer, driven directly -------------------------------------------------


def test_lines_are_written_as_given(make_writer, out_path: Path) -> None:
    """Worker lines pass through byte for byte, after a flush."""
    writer, _ = make_writer()
    writer.handle(("line", b'{"a":1}\n'))
    writer.handle(("line", b'{"b":2}'))
    assert out_path.read_bytes() == b""
    writer.flush()
    assert out_path.read_bytes() == b'{"a":1}\n{"b":2}\n'


def test_batch_applies_at_batch_size_and_emits_per_worker(
    make_writer, out_path: Path
) -> None:
    """A full batch is committed, then one event set per source worker."""
    writer, _ = make_writer(batch_size=5)
    writer.handle(sightings(1, "A1", "alice", "bob"))
    writer.handle(sightings(2, "A2", "ALICE", "carol"))
    assert writer.store.seller_count() == 0
    writer.handle(sightings(2, "A3", "dave"))  # fifth sighting: the batch goes
    writer.flush()
    assert writer.store.seller_count() == 4
    assert pipeline_events(read_events(out_path)) == [
        ("inserted", "seller_insert", 1, 2),
        ("deduped", "seller_dedupe", 2, 1),
        ("inserted", "seller_insert", 2, 2),
    ]
    writer.handle(sightings(3, "A4", "alice", "erin"))
    writer.apply_pending()
    writer.flush()
    assert pipeline_events(read_events(out_path))[3:] == [
        ("inserted", "seller_insert", 3, 1),
        ("updated", "seller_update", 3, 1),
    ]


def test_pipeline_event_fields(make_writer, out_path: Path) -> None:
    """Pipeline events: worker 0, phase ebay, run id, ids from the run's sequence."""
    writer, _ = make_writer(batch_size=1)
    writer.handle(sightings(7, "A1", "alice"))
    writer.flush()
    (event,) = read_events(out_path)
    assert set(event) == {
        "id",
        "timestamp",
        "worker_id",
        "phase",
        "action",
        "items_count",
        "source_worker_id",
        "operation_type",
        "run_id",
    }
    assert (event["id"], event["worker_id"], event["phase"], event["run_id"]) == (
        "run-1.0.1",
        0,
        "ebay",
        "run-1",
    )


def test_batch_applies_after_batch_seconds(make_writer) -> None:
    """A small batch still goes once batch_seconds have passed since its start."""
    writer, clock = make_writer(batch_size=500, batch_seconds=1.0)
    writer.handle(sightings(1, "A1", "alice"))
    clock.now += 0.9
    writer.tick()
    assert writer.store.seller_count() == 0
    clock.now += 0.1
    writer.tick()
    assert writer.store.seller_count() == 1


def test_output_flushes_after_flush_seconds(make_writer, out_path: Path) -> None:
    """Buffered lines reach the file once flush_seconds have passed."""
    writer, clock = make_writer(flush_seconds=0.5)
    writer.handle(("line", b"one\n"))
    clock.now += 0.4
    writer.tick()
    assert out_path.read_bytes() == b""
    clock.now += 0.1
    writer.tick()
    assert out_path.read_bytes() == b"one\n"


def test_products_are_stored_and_announced(make_writer, out_path: Path) -> None:
    """A product batch is upserted and announced with an `uploading` event."""
    writer, _ = make_writer()
    products = [
        Product("A1", "Mug", 9.5, "USD", 1, "1"),
        Product("A2", "Cup", 3.0, "USD", 2, "1"),
    ]
    writer.handle(("products", 3, products))
    writer.flush()
    (event,) = read_events(out_path)
    assert (event["phase"], event["action"], event["operation_type"]) == (
        "amazon",
        "uploading",
        "product_batch",
    )
    assert (event["items_count"], event["source_worker_id"]) == (2, 3)
    assert writer.counters["products_stored"] == 2


def test_complete_applies_pending_and_merges_totals(
    make_writer, out_path: Path
) -> None:
    """`complete` commits the pending batch first; its totals add the writer's."""
    writer, _ = make_writer()
    writer.handle(sightings(1, "A1", "alice", "Alice", "", "bob"))
    writer.handle(("complete", "ebay", {"pages": 3, "sightings": -1}, "phase"))
    events = read_events(out_path)
    assert events[-1]["action"] == "complete"
    assert events[-1]["operation_type"] == "phase"
    assert events[-1]["totals"] == {
        "pages": 3,
        "sightings": 4,
        "sellers_inserted": 2,
        "sellers_updated": 0,
        "sellers_deduped": 1,
        "sightings_dropped": 1,
        "sightings_lost": 0,
        "products_stored": 0,
        "store_sellers": 2,
    }
    assert writer.final_status == "stopped"
    writer.handle(("complete", "ebay", {}, "run"))
    assert writer.final_status == "complete"


def test_stop_applies_pending_and_close_records_the_run(
    make_writer, out_path: Path
) -> None:
    """`stop` ends the loop; close commits, records the run end, flushes."""
    writer, _ = make_writer()
    writer.handle(sightings(1, "A1", "alice"))
    assert writer.handle(("stop",)) is False
    assert writer.store.seller_count() == 1
    writer.close("stopped")
    store = open_store(writer.config.store_path)
    run = store.get_run("run-1")
    store.close()
    assert run is not None
    assert (run["status"], run["totals"]["store_sellers"]) == ("stopped", 1)
    assert pipeline_events(read_events(out_path)) == [
        ("inserted", "seller_insert", 1, 1)
    ]


def test_unknown_message_is_logged_and_ignored(
    make_writer, caplog: pytest.LogCaptureFixture
) -> None:
    """A malformed message does not kill the writer."""
    writer, _ = make_writer()
    with caplog.at_level(logging.WARNING, logger="collect.writer"):
        assert writer.handle(("lines", b"x")) is True
    assert caplog.messages == ["writer ignored an unknown message: ('lines', b'x')"]


# --- LineOutput -----------------------------------------------------------------


class RecordingWrite:
    """Stands in for os.write: records each call, writes at most `limit` bytes."""

    def __init__(self, limit: int | None = None) -> None:
        self.calls: list[bytes] = []
        self.limit = limit

    def __call__(self, fd: int, data: memoryview) -> int:
        taken = bytes(data[: self.limit] if self.limit else data)
        self.calls.append(taken)
        return len(taken)


@pytest.mark.parametrize(
    "sizes",
    [[100] * 100, [4095], [4000, 97, 1], [5000, 10, 5000], [1] * 5000],
    ids=["many-small", "one-at-limit", "exact-fit", "oversized", "tiny"],
)
def test_pipe_writes_stay_within_pipe_buf(sizes: list[int]) -> None:
    """On a pipe each write is whole lines of at most PIPE_BUF, or one long line."""
    read_fd, write_fd = os.pipe()
    fake = RecordingWrite()
    output = LineOutput(write_fd, write=fake)
    lines = [b"x" * (size - 1) + b"\n" for size in sizes]
    for line in lines:
        output.write_line(line)
    output.flush()
    os.close(read_fd)
    os.close(write_fd)
    assert b"".join(fake.calls) == b"".join(lines)
    for call in fake.calls:
        assert call.endswith(b"\n")
        assert len(call) <= PIPE_BUF or call.count(b"\n") == 1


def test_partial_writes_are_resumed(tmp_path: Path) -> None:
    """A short write is followed by the rest, not by the next chunk."""
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
    fake = RecordingWrite(limit=7)
    output = LineOutput(fd, write=fake)
    output.write_line(b"0123456789\n")
    output.write_line(b"abc\n")
    output.flush()
    os.close(fd)
    assert fake.calls == [b"0123456", b"789\nabc", b"\n"]


def test_broken_pipe_closes_output_quietly(caplog: pytest.LogCaptureFixture) -> None:
    """EPIPE: no exception, no warning, the callback fires once, lines are dropped."""
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    calls: list[str] = []
    output = LineOutput(write_fd, on_closed=lambda: calls.append("closed"))
    with caplog.at_level(logging.INFO):
        output.write_line(b"one\n")
        output.flush()
        output.write_line(b"two\n")
        output.flush()
    os.close(write_fd)
    assert (output.closed, calls, caplog.messages) == (True, ["closed"], [])
    assert (output.lines_written, output.lines_discarded) == (0, 2)


def test_full_disk_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """ENOSPC (here /dev/full) logs one clear error and closes the output."""
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is Linux only")
    calls: list[str] = []
    output = open_output("/dev/full", on_closed=lambda: calls.append("closed"))
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            output.write_line(b"event\n")
            output.flush()
    assert calls == ["closed"]
    assert caplog.messages == [
        "event output: no space left on device; the run stops, and the "
        "seller store keeps what was collected"
    ]


def test_disk_filling_mid_chunk_leaves_no_torn_line(tmp_path: Path) -> None:
    """If ENOSPC strikes mid-chunk, the file is cut back to its last whole line."""
    path = tmp_path / "out"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(fd, b"before\n")

    def fills_up(fd: int, data: memoryview) -> int:
        if len(data) > 10:
            return os.write(fd, data[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    output = LineOutput(fd, write=fills_up)
    output.write_line(b"first\n")
    output.write_line(b"second\n")
    output.flush()
    os.close(fd)
    assert path.read_bytes() == b"before\nfirst\n"


# --- the writer process -----------------------------------------------------------


def start_writer(config: WriterConfig, *args: Any) -> tuple[Any, Any]:
    queue = SPAWN.Queue()
    process = SPAWN.Process(target=writer_main, args=(config, queue, *args))
    process.start()
    return process, queue


def kill_writer(process: Any, queue: Any) -> None:
    if process.exitcode is None:
        os.kill(process.pid, signal.SIGKILL)
    process.join(timeout=10)
    # Messages the dead writer never read would make the queue's feeder thread
    # block at interpreter exit; let them go.
    queue.cancel_join_thread()
    queue.close()


def test_process_end_to_end(tmp_path: Path, out_path: Path) -> None:
    """A spawned writer fed through a queue: every line whole, totals consistent."""
    config = WriterConfig(
        str(out_path),
        str(tmp_path / "s.db"),
        "run-e2e",
        batch_size=50,
        flush_seconds=0.05,
    )
    process, queue = start_writer(config)
    for page in range(200):
        queue.put(("line", event_line(page % 4 + 1, size=page)))
        sellers = [f"Seller{(page * 7 + i) % 300}" for i in range(12)]
        queue.put(sightings(page % 4 + 1, f"A{page % 40}", *sellers))
    queue.put(("complete", "ebay", {"pages": 200}, "run"))
    queue.put(("stop",))
    process.join(timeout=60)
    assert process.exitcode == 0

    events = read_events(out_path)
    assert sum(e["worker_id"] != 0 for e in events) == 200
    inserted = sum(e["items_count"] for e in events if e["action"] == "inserted")
    store = open_store(config.store_path)
    assert inserted == store.seller_count() == 300
    assert store.get_run("run-e2e")["status"] == "complete"  # type: ignore[index]
    store.close()
    assert events[-1]["totals"]["sightings"] == 2400
    assert events[-1]["totals"]["store_sellers"] == 300


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_writer_killed_mid_stream_leaves_no_torn_line(tmp_path: Path) -> None:
    """kill -9 while writing to a pipe: what the reader got is whole lines only."""
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    config = WriterConfig(str(fifo), str(tmp_path / "s.db"), "run-k", flush_seconds=0)
    process, queue = start_writer(config)
    feeding = threading.Event()
    feeding.set()

    def feed() -> None:
        index = 0
        while feeding.is_set():
            queue.put(("line", event_line(1, size=index % 290)))
            index += 1

    feeder = threading.Thread(target=feed)
    feeder.start()
    time.sleep(0.5)  # the writer is busy writing when the kill lands
    os.kill(process.pid, signal.SIGKILL)
    feeding.clear()
    feeder.join(timeout=10)
    kill_writer(process, queue)
    reader.join(timeout=10)
    data = received[0]
    lines = data.splitlines()
    assert data.endswith(b"\n")
    assert len(lines) > 100
    assert {orjson.loads(line)["action"] for line in lines} == {"found"}


def test_killed_writer_store_holds_every_reported_insert(
    tmp_path: Path, out_path: Path
) -> None:
    """kill -9 between batches: the store opens and has every announced seller."""
    config = WriterConfig(
        str(out_path),
        str(tmp_path / "s.db"),
        "run-k",
        batch_size=20,
        flush_seconds=0.01,
    )
    process, queue = start_writer(config)
    pages = 400
    for page in range(pages):
        queue.put(sightings(1, f"A{page}", *(f"s{page}-{i}" for i in range(20))))
    # Kill once some inserts are announced and while batches are still queued.
    wait_for(lambda: out_path.exists() and out_path.stat().st_size > 2000)
    kill_writer(process, queue)

    announced = sum(e["items_count"] for e in read_events(out_path))
    store = open_store(config.store_path)
    count = store.seller_count()
    # Each page is one batch of 20 new sellers, committed whole or not at all.
    names = {row.normalized_name for row in store.iter_sellers()}
    store.close()
    assert 0 < announced <= count < pages * 20
    assert count % 20 == 0
    assert names == {f"s{p}-{i}" for p in range(count // 20) for i in range(20)}


BROKEN_PIPE_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, sys
    from collect.writer import WriterConfig, writer_main

    if __name__ == "__main__":
        ctx = multiprocessing.get_context("spawn")
        queue, closed = ctx.Queue(), ctx.Event()
        config = WriterConfig(None, sys.argv[1], "run-p", batch_size=100,
                              flush_seconds=0.01)
        writer = ctx.Process(target=writer_main, args=(config, queue, closed))
        writer.start()
        for page in range(300):
            line = b'{"worker_id":1,"action":"found","n":%d}\\n' % page
            queue.put(("line", line))
            rows = [("seller%d" % ((page * 10 + i) % 1000), 99.0, 5) for i in range(10)]
            queue.put(("sightings", 1, "A%d" % page, "t", rows))
        queue.put(("stop",))
        writer.join()
        print("closed=%s exit=%s" % (closed.is_set(), writer.exitcode), file=sys.stderr)
    """
)


def test_broken_pipe_keeps_the_store_going(tmp_path: Path) -> None:
    """`collect run | head -n 5`: no traceback, flag set, every seller stored."""
    store_path = tmp_path / "s.db"
    script = tmp_path / "run_writer.py"
    script.write_text(BROKEN_PIPE_SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), str(store_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    head = [process.stdout.readline() for _ in range(5)]
    process.stdout.close()
    _, stderr = process.communicate(timeout=60)
    assert [orjson.loads(line)["n"] for line in head] == [0, 1, 2, 3, 4]
    assert stderr.decode() == "closed=True exit=0\n"
    store = open_store(store_path)
    assert store.seller_count() == 1000
    store.close()


ORPHAN_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, os, sys, time
    from collect.writer import WriterConfig, writer_main

    if __name__ == "__main__":
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        config = WriterConfig(sys.argv[1], sys.argv[2], "run-o", batch_seconds=600,
                              parent_pid=os.getpid())
        writer = ctx.Process(target=writer_main, args=(config, queue))
        writer.start()
        rows = [("seller%d" % i, 99.0, 5) for i in range(250)]
        queue.put(("sightings", 1, "A1", "t", rows))
        time.sleep(0.5)  # let the queue's feeder thread hand the message over
        print(writer.pid, flush=True)
        time.sleep(600)
    """
)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_writer_exits_and_commits_when_its_parent_is_killed(tmp_path: Path) -> None:
    """Parent SIGKILLed: the writer commits what was queued and exits on its own."""
    if not os.path.isdir("/proc"):
        pytest.skip("needs /proc")
    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN_SCRIPT)
    store_path, out = tmp_path / "s.db", tmp_path / "events.jsonl"
    parent = subprocess.Popen(
        [sys.executable, str(script), str(out), str(store_path)],
        stdout=subprocess.PIPE,
    )
    assert parent.stdout is not None
    writer_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait(timeout=10)
    parent.stdout.close()
    deadline = time.monotonic() + 30
    while not _gone(writer_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(writer_pid)
    store = open_store(store_path)
    assert store.seller_count() == 250
    assert store.get_run("run-o")["status"] == "abandoned"  # type: ignore[index]
    store.close()
    assert [e["items_count"] for e in read_events(out)] == [250]
