"""The writer process: the only place that writes the event stream and the store.

Workers and the coordinator put messages on one multiprocessing queue:

    ("line", bytes), ("lines", [bytes, ...])   event lines, written as-is
    ("sightings", worker_id, asin, seen_at, [(seller, feedback %, count), ...]
        [, (job_id, kind, key, payload)])     the page's progress, committed with it
    ("products", worker_id, [Product, ...])
    ("progress", job_id, kind, key, payload)    a task done, after its sightings
    ("complete", phase, totals, operation_type)   operation_type "phase" or "run"
    ("reopen",)                                   SIGHUP: reopen --out by name
    ("stop",)

Sightings are applied to the store in batches; after each commit the writer emits
the pipeline events `deduped`, `inserted` and `updated` (worker_id 0). Because
those lines are produced only after the commit, a stream cut short by SIGKILL
never claims a seller the store lacks.

Lines are buffered whole and written with os.write in chunks that end on a line
boundary. On a pipe each chunk is at most PIPE_BUF bytes, which POSIX makes
atomic, so a reader never sees a torn line even if the writer is killed.

`Writer` holds the logic and can be driven directly; `writer_main` is the process
entry point (a top-level function, so the `spawn` start method can import it).
"""

from __future__ import annotations

import errno
import logging
import os
import queue as queue_module
import select
import stat
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from collect.errors import StoreError
from collect.events import EventIds, create_activity_event, utc_timestamp
from collect.metrics import MetricsFile
from collect.models import Product
from collect.signals import leave_signals_to_the_coordinator
from collect.store import BatchResult, ProgressRecord, SightingRecord, Store, open_store

logger = logging.getLogger(__name__)

PIPE_BUF = 4096  # the POSIX minimum, and Linux's value
# Larger writes to a regular file cost fewer syscalls; 1 MiB bounds the memory
# held while a slow disk catches up.
FILE_CHUNK = 1 << 20
# Flush early when this much is buffered, whatever the clock says.
BUFFER_LIMIT = 256 * 1024
# How long a writer whose parent died keeps reading what is already queued.
DRAIN_SECONDS = 5.0
STDOUT_FD = 1


@dataclass(frozen=True, slots=True)
class WriterConfig:
    out_path: str | None  # None: standard output (fd 1)
    store_path: str
    run_id: str
    batch_size: int = 500
    batch_seconds: float = 1.0
    flush_seconds: float = 0.5
    parent_pid: int | None = None
    # What the run was asked to do, recorded in the store so --resume can redo it.
    run_settings: dict[str, Any] | None = None
    metrics_path: str | None = None


class _Queue(Protocol):
    def get(self, block: bool = True, timeout: float | None = None) -> Any: ...


# --- output ---------------------------------------------------------------------


class LineOutput:
    """Whole lines to one file descriptor, never split, never interleaved.

    After EPIPE (the reader went away) or ENOSPC (the disk is full) the output
    closes itself: later lines are counted and dropped, `on_closed` is called once.
    """

    def __init__(
        self,
        fd: int,
        *,
        on_closed: Callable[[], None] | None = None,
        write: Callable[[int, memoryview], int] = os.write,
        path: str | None = None,
    ) -> None:
        self.path = path
        mode = os.fstat(fd).st_mode
        self._fd = fd
        self._regular_file = stat.S_ISREG(mode)
        self._is_pipe = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
        self._chunk_limit = PIPE_BUF if self._is_pipe else FILE_CHUNK
        self._on_closed = on_closed
        self._write = write
        self._lines: list[bytes] = []
        self._buffered = 0
        self.closed = False
        self.lines_written = 0
        self.lines_discarded = 0

    def write_line(self, line: bytes) -> None:
        if self.closed:
            self.lines_discarded += 1
            return
        self._lines.append(line)
        self._buffered += len(line)
        if self._buffered >= BUFFER_LIMIT:
            self.flush()

    def flush(self) -> None:
        lines, self._lines, self._buffered = self._lines, [], 0
        for chunk, count in self._chunks(lines):
            if self.closed:
                self.lines_discarded += count
            elif self._write_chunk(chunk):
                self.lines_written += count
            else:
                self.lines_discarded += count

    def reopen(self) -> None:
        """Open the file again by name (SIGHUP: logrotate moved it away)."""
        if self.path is None:
            return
        self.flush()
        try:
            fd = _open_append(self.path)
        except OSError as exc:
            logger.error(
                "cannot reopen %s (%s); still writing the old file", self.path, exc
            )
            return
        os.close(self._fd)
        self._fd = fd
        logger.info("reopened %s", self.path)

    def _chunks(self, lines: list[bytes]) -> Iterator[tuple[bytes, int]]:
        """Group lines into writes of at most the chunk limit, ending on a line.

        A single line longer than the limit goes out alone.
        """
        group: list[bytes] = []
        size = 0
        for line in lines:
            if group and size + len(line) > self._chunk_limit:
                yield b"".join(group), len(group)
                group, size = [], 0
            group.append(line)
            size += len(line)
        if group:
            yield b"".join(group), len(group)

    def _write_chunk(self, chunk: bytes) -> bool:
        view = memoryview(chunk)
        written = 0
        while written < len(chunk):
            try:
                written += self._write(self._fd, view[written:])
            except BlockingIOError:
                # Someone handed us a non-blocking stdout: wait until it drains.
                select.select([], [self._fd], [], 1.0)
            except OSError as exc:
                self._fail(exc, chunk, written)
                return False
        return True

    def _fail(self, exc: OSError, chunk: bytes, written: int) -> None:
        if exc.errno == errno.EPIPE:
            # `collect run | head` is normal use, not an error worth a message.
            logger.debug("event output closed by its reader; discarding events")
        elif exc.errno == errno.ENOSPC:
            logger.error(
                "event output: no space left on device; the run stops, and the "
                "seller store keeps what was collected"
            )
        else:
            logger.error("event output failed (%s); discarding further events", exc)
        if written and self._regular_file:
            self._trim_torn_line(chunk, written)
        self.closed = True
        if self._on_closed is not None:
            self._on_closed()

    def _trim_torn_line(self, chunk: bytes, written: int) -> None:
        # A disk that fills mid-write leaves part of a line; cut the file back
        # to the last whole line so readers of the file never see half an event.
        whole = chunk.rfind(b"\n", 0, written) + 1
        try:
            end = os.lseek(self._fd, 0, os.SEEK_END)
            os.ftruncate(self._fd, end - written + whole)
        except OSError as exc:
            logger.warning("could not remove a partial line from the output: %s", exc)


def open_output(
    out_path: str | None, on_closed: Callable[[], None] | None = None
) -> LineOutput:
    """Standard output, or `out_path` opened for appending (created if missing)."""
    if out_path is None:
        return LineOutput(STDOUT_FD, on_closed=on_closed)
    return LineOutput(_open_append(out_path), on_closed=on_closed, path=out_path)


def _open_append(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


# --- the writer -----------------------------------------------------------------

_BATCH_EVENTS = (
    ("deduped", "seller_dedupe", "deduped"),
    ("inserted", "seller_insert", "inserted"),
    ("updated", "seller_update", "updated"),
)
COUNTERS = (
    "sightings",
    "sellers_inserted",
    "sellers_updated",
    "sellers_deduped",
    "sightings_dropped",
    "sightings_lost",
    "products_stored",
)


class Writer:
    """Turns queue messages into output lines and store batches; no processes here.

    `clock` is injected so tests can drive the time-based batching and flushing.
    """

    def __init__(
        self,
        config: WriterConfig,
        store: Store,
        output: LineOutput,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_store_failure: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self._on_store_failure = on_store_failure
        self.store = store
        self.output = output
        self._clock = clock
        self._ids = EventIds(config.run_id, 0)
        self._pending: list[SightingRecord] = []
        self._progress: list[ProgressRecord] = []
        self.run_status = "stopped"
        self._pending_since: float | None = None
        self._last_flush = clock()
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.metrics = (
            MetricsFile(config.metrics_path, config.run_id)
            if config.metrics_path
            else None
        )
        self.run_completed = False

    def handle(self, message: tuple[Any, ...]) -> bool:
        """Act on one message; False once it was `stop`."""
        match message:
            case ("line", bytes() as line):
                self._write(line)
            case ("lines", list() as lines):
                for line in lines:
                    self._write(line)
            case ("sightings", int() as worker, str() as asin, str() as seen_at, rows):
                self._add_sightings(worker, asin, seen_at, rows)
            case (
                "sightings",
                int() as worker,
                str() as asin,
                str() as seen_at,
                rows,
                (
                    str() as job,
                    str() as kind,
                    str() as key,
                    payload,
                ),
            ):
                # The page's "done" record joins the batch before any flush can
                # split them: both commit in one transaction.
                self._add_progress(job, kind, key, payload)
                self._add_sightings(worker, asin, seen_at, rows)
            case ("products", int() as worker, list() as products):
                self._store_products(worker, products)
            case ("progress", str() as job, str() as kind, str() as key, payload):
                self._add_progress(job, kind, key, payload)
            case ("reopen",):
                self.output.reopen()
            case ("complete", str() as phase, dict() as totals, str() as operation):
                self._complete(phase, totals, operation)
            case ("stop",):
                self.apply_pending()
                return False
            case _:
                logger.warning("writer ignored an unknown message: %.200r", message)
        return True

    def _write(self, line: bytes) -> None:
        self.output.write_line(line if line.endswith(b"\n") else line + b"\n")
        if self.metrics is not None:
            self.metrics.observe_line(line)

    def tick(self) -> None:
        """Apply a batch and flush the output when their time has come."""
        now = self._clock()
        since = self._pending_since
        if since is not None and now - since >= self.config.batch_seconds:
            self.apply_pending()
        if now - self._last_flush >= self.config.flush_seconds:
            self.flush()
        if self.metrics is not None:
            self.metrics.tick()

    def flush(self) -> None:
        self.output.flush()
        self._last_flush = self._clock()

    def _add_sightings(
        self,
        worker: int,
        asin: str,
        seen_at: str,
        rows: list[tuple[str, float | None, int | None]],
    ) -> None:
        self._pending.extend(
            SightingRecord(seller, percent, count, asin, worker, seen_at)
            for seller, percent, count in rows
        )
        self.counters["sightings"] += len(rows)
        if self._pending and self._pending_since is None:
            self._pending_since = self._clock()
        if len(self._pending) >= self.config.batch_size:
            self.apply_pending()

    def _add_progress(self, job: str, kind: str, key: str, payload: str | None) -> None:
        # Recorded only after the sightings queued before it are committed, so a
        # task marked done never lacks its sightings.
        self._progress.append((job, kind, key, utc_timestamp(), payload))
        if self._pending_since is None:
            self._pending_since = self._clock()

    def apply_pending(self) -> None:
        """Commit the pending sightings, then announce what the commit did."""
        self._apply_sightings()
        self._apply_progress()

    def _apply_progress(self) -> None:
        if not self._progress:
            return
        records, self._progress = self._progress, []
        try:
            self.store.record_progress(records)
        except StoreError as exc:
            logger.error("%s; progress of %d tasks not saved", exc, len(records))

    def _apply_sightings(self) -> None:
        if not self._pending:
            self._pending_since = None
            return
        batch, self._pending, self._pending_since = self._pending, [], None
        # Every progress record queued so far follows its own sightings, which are
        # in this batch or an earlier one: they can commit together.
        progress, self._progress = self._progress, []
        try:
            result = self.store.apply_sightings(
                batch, self.config.run_id, utc_timestamp(), progress
            )
        except StoreError as exc:
            self.counters["sightings_lost"] += len(batch)
            self._store_failed(exc, f"{len(batch)} sightings could not be stored")
            return
        self._count(result)
        for worker, counts in result.by_worker.items():
            for action, operation, name in _BATCH_EVENTS:
                if count := getattr(counts, name):
                    self._emit(
                        "ebay",
                        action,
                        items_count=count,
                        source_worker_id=worker,
                        operation_type=operation,
                    )

    def _count(self, result: BatchResult) -> None:
        self.counters["sellers_inserted"] += result.totals.inserted
        self.counters["sellers_updated"] += result.totals.updated
        self.counters["sellers_deduped"] += result.totals.deduped
        self.counters["sightings_dropped"] += result.totals.dropped

    def _store_products(self, worker: int, products: list[Product]) -> None:
        try:
            stored = self.store.add_products(
                products, self.config.run_id, utc_timestamp()
            )
        except StoreError as exc:
            self._store_failed(exc, f"{len(products)} products could not be stored")
            return
        self.counters["products_stored"] += stored
        self._emit(
            "amazon",
            "uploading",
            items_count=stored,
            source_worker_id=worker,
            operation_type="product_batch",
        )

    def _store_failed(self, exc: StoreError, what: str) -> None:
        """Say it in the stream and tell the coordinator: a run that cannot keep
        what it finds must not go on spending requests."""
        message = f"{what}: {exc}" + (f" ({exc.hint})" if exc.hint else "")
        logger.error("%s", message)
        self._emit("ebay", "error", error_type="store_error", error_message=message)
        if self._on_store_failure is not None:
            self._on_store_failure()

    def _complete(self, phase: str, totals: dict[str, Any], operation: str) -> None:
        self.apply_pending()
        if operation == "run":
            self.run_completed = True
            self.run_status = str(totals.get("status", "complete"))
        try:
            self._emit(
                phase,
                "complete",
                operation_type=operation,
                totals={**totals, **self.totals()},
            )
        except ValueError as exc:
            logger.warning("writer ignored a complete message: %s", exc)
        self.flush()

    def _emit(self, phase: str, action: str, **fields: Any) -> None:
        event = create_activity_event(
            0, phase, action, id=self._ids.next(), run_id=self.config.run_id, **fields
        )
        self.output.write_line(event.to_json_line())
        if self.metrics is not None:
            self.metrics.counters.observe_event(event.to_dict())

    def totals(self) -> dict[str, int]:
        """The writer's counters plus the number of sellers now in the store."""
        totals = dict(self.counters)
        try:
            totals["store_sellers"] = self.store.seller_count()
        except StoreError as exc:
            logger.error("%s (%s)", exc, exc.hint)
        return totals

    def close(self, status: str) -> None:
        """Commit what is pending, record the run's end, flush, close the store."""
        self.apply_pending()
        try:
            self.store.record_run_end(
                self.config.run_id, utc_timestamp(), status, self.totals()
            )
        except StoreError as exc:
            logger.error("%s (%s)", exc, exc.hint)
        self.flush()
        if self.metrics is not None:
            self.metrics.write()
        try:
            self.store.close()
        except StoreError as exc:
            logger.error("%s (%s)", exc, exc.hint)

    @property
    def final_status(self) -> str:
        return self.run_status


# --- the process ----------------------------------------------------------------


def writer_main(
    config: WriterConfig,
    queue: _Queue,
    output_closed: Any | None = None,
    store_failed: Any | None = None,
) -> None:
    """Run the writer until `stop` (or until the parent process dies).

    `output_closed` (a multiprocessing.Event) is set when the event output can
    take no more lines (reader gone, disk full), `store_failed` when a batch could
    not be stored, so the coordinator can tell.
    """
    # Ctrl-C reaches the whole process group; the coordinator decides when to
    # stop and then sends "stop", so the writer must not die first.
    leave_signals_to_the_coordinator()
    _log_to_stderr()
    writer = _start_writer(config, output_closed, store_failed)
    status = serve(writer, queue, config.parent_pid)
    writer.close(status)


def _log_to_stderr() -> None:
    # A spawned process starts with no logging set up; stdout carries events only.
    if not logging.getLogger().handlers:
        logging.basicConfig(
            stream=sys.stderr,
            level=logging.WARNING,
            format="collect writer: %(levelname)s: %(message)s",
        )


def _start_writer(
    config: WriterConfig, output_closed: Any | None, store_failed: Any | None = None
) -> Writer:
    """Open the output and the store, or log why not and exit with status 2."""
    on_closed = output_closed.set if output_closed is not None else None
    try:
        output = open_output(config.out_path, on_closed)
    except OSError as exc:
        logger.error("cannot open event output %s: %s", config.out_path, exc.strerror)
        raise SystemExit(2) from None
    try:
        store = open_store(config.store_path)
        store.record_run_start(config.run_id, utc_timestamp(), _settings(config))
    except StoreError as exc:
        logger.error("%s (%s)", exc, exc.hint)
        raise SystemExit(2) from None
    on_failure = store_failed.set if store_failed is not None else None
    return Writer(config, store, output, on_store_failure=on_failure)


def _settings(config: WriterConfig) -> dict[str, Any]:
    return {
        "out_path": config.out_path,
        "batch_size": config.batch_size,
        "batch_seconds": config.batch_seconds,
        **(config.run_settings or {}),
    }


def serve(writer: Writer, queue: _Queue, parent_pid: int | None = None) -> str:
    """Feed queue messages to `writer`; return the run status to record."""
    config = writer.config
    # Waking at least twice per period keeps flushes and batches on time when idle.
    poll = max(0.01, min(config.flush_seconds, config.batch_seconds) / 2)
    while True:
        try:
            message = queue.get(timeout=poll)
        except queue_module.Empty:
            message = None
        except (EOFError, OSError) as exc:
            logger.error("the writer's queue broke (%s); stopping", exc)
            return "abandoned"
        if message is not None and not writer.handle(message):
            return writer.final_status
        writer.tick()
        if parent_pid is not None and os.getppid() != parent_pid:
            logger.warning(
                "parent process %d is gone; saving what is queued", parent_pid
            )
            _drain(writer, queue)
            return "abandoned"


def _drain(writer: Writer, queue: _Queue) -> None:
    """Handle what is already queued, for at most DRAIN_SECONDS."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while time.monotonic() < deadline:
        try:
            message = queue.get(timeout=0.1)
        except queue_module.Empty:
            return
        except Exception as exc:  # a message cut short by the parent's death
            logger.warning("stopped reading the queue: %s", exc)
            return
        if not writer.handle(message):
            return
