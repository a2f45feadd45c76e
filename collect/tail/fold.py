"""The fold: counters updated once per event, in bounded memory.

Nothing here keeps every event. Per run it keeps counters, one state per worker (the
worker's last event and its counts), a histogram of request durations whose keys are
bounded, the last few pipeline events and errors, and one request count per second
for the last minute. This is the hot path of `--summary` on files of millions of
lines, so it is written flat: string comparisons on the action, dict counters, no
objects made per event.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from collect.tail.stream import Event, decode_event

# How many pipeline events and errors the dashboard can show.
RECENT = 12
# A stream holding more runs than this keeps the latest ones: memory stays bounded.
MAX_RUNS = 100
# Durations under 10 s are kept to the millisecond; longer ones to 3 digits.
EXACT_MS = 10_000
# Seconds of request counts kept for the requests-per-minute rate.
RATE_WINDOW = 60


class WorkerTally:
    __slots__ = (
        "duration_n",
        "duration_sum",
        "errors",
        "last",
        "last_duration",
        "last_request",
        "rate_limited",
        "requests",
        "successes",
        "worker_id",
    )

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id
        self.last: Event = {}
        # The last `fetching`: it holds the URL, attempt, category and product.
        self.last_request: Event = {}
        self.requests = 0
        self.successes = 0
        self.errors = 0
        self.rate_limited = 0
        self.duration_sum = 0
        self.duration_n = 0
        self.last_duration: int | None = None


class RunTally:
    """Everything kept about one run (one `run_id`) of the stream."""

    def __init__(self, run_id: str | None, timestamp: str) -> None:
        self.run_id = run_id
        self.first_ts = timestamp
        self.last_ts = timestamp
        self.events = 0
        self.actions: dict[str, int] = {}
        self.requests: dict[str, int] = {}
        self.found: dict[str, int] = {}
        self.errors_by_type: dict[str, int] = {}
        self.errors_by_stage: dict[str, int] = {}
        self.failures_by_type: dict[str, int] = {}
        self.durations: dict[str, dict[int, int]] = {}
        self.pipeline_items: dict[str, int] = {}
        self.request_failures = 0
        self.products_rejected = 0
        self.products_found = 0
        self.sellers_found = 0
        self.categories_done = 0
        self.products_done = 0
        self.first_ebay_found_ts: str | None = None
        self.phase: str | None = None
        self.totals: dict[str, dict[str, Any]] = {}
        self.workers: dict[int, WorkerTally] = {}
        self.feed: deque[Event] = deque(maxlen=RECENT)
        self.recent_errors: deque[Event] = deque(maxlen=RECENT)
        self.per_second: deque[list[Any]] = deque(maxlen=RATE_WINDOW + 1)

    def add(self, event: Event) -> None:
        action = event["action"]
        timestamp = event["timestamp"]
        self.events += 1
        if timestamp > self.last_ts:
            self.last_ts = timestamp
        elif timestamp < self.first_ts:
            self.first_ts = timestamp
        actions = self.actions
        actions[action] = actions.get(action, 0) + 1
        worker_id = event["worker_id"]
        if worker_id:
            self._add_worker_event(worker_id, action, event)
        else:
            self._add_system_event(action, event)

    def _add_worker_event(self, worker_id: int, action: str, event: Event) -> None:
        worker = self.workers.get(worker_id)
        if worker is None:
            worker = self.workers[worker_id] = WorkerTally(worker_id)
        worker.last = event
        phase = self.phase = event["phase"]
        if action == "fetching":
            worker.requests += 1
            worker.last_request = event
            requests = self.requests
            requests[phase] = requests.get(phase, 0) + 1
            self._count_second(event["timestamp"])
        elif action == "found":
            worker.successes += 1
            self._add_found(phase, event, worker)
        elif action == "error":
            worker.last_duration = event.get("duration_ms", worker.last_duration)
            self._add_error(event, worker)
        elif action == "rate_limited":
            worker.last_duration = event.get("duration_ms", worker.last_duration)
            worker.rate_limited += 1
            self.recent_errors.append(event)

    def _add_found(self, phase: str, event: Event, worker: WorkerTally) -> None:
        found = self.found
        found[phase] = found.get(phase, 0) + 1
        duration = event.get("duration_ms")
        if type(duration) is int:
            worker.last_duration = duration
            worker.duration_sum += duration
            worker.duration_n += 1
            histogram = self.durations.get(phase)
            if histogram is None:
                histogram = self.durations[phase] = {}
            key = duration if duration < EXACT_MS else duration_bucket(duration)
            histogram[key] = histogram.get(key, 0) + 1
        items = event.get("items_count")
        items = items if type(items) is int else 0
        params = event.get("api_params")
        first_page = not isinstance(params, dict) or params.get("page", 1) == 1
        if phase == "amazon":
            self.products_found += items
            self.categories_done += first_page
        else:
            self.sellers_found += items
            self.products_done += first_page
            if self.first_ebay_found_ts is None:
                self.first_ebay_found_ts = event["timestamp"]

    def _add_error(self, event: Event, worker: WorkerTally | None) -> None:
        error_type = event.get("error_type")
        if type(error_type) is not str:
            error_type = "unknown"
        by_type = self.errors_by_type
        by_type[error_type] = by_type.get(error_type, 0) + 1
        stage = event.get("error_stage")
        if type(stage) is not str:
            stage = "unknown"
        by_stage = self.errors_by_stage
        by_stage[stage] = by_stage.get(stage, 0) + 1
        # A product without a usable price is a rejection, not a failed request.
        if stage == "price_parsing":
            self.products_rejected += 1
            return
        self.recent_errors.append(event)
        failures = self.failures_by_type
        failures[error_type] = failures.get(error_type, 0) + 1
        if worker is not None:
            worker.errors += 1
            self.request_failures += 1

    def _add_system_event(self, action: str, event: Event) -> None:
        if action == "error":
            self._add_error(event, None)
            return
        items = event.get("items_count")
        if type(items) is int:
            pipeline = self.pipeline_items
            pipeline[action] = pipeline.get(action, 0) + items
        if action == "complete":
            self._add_complete(event)
        self.feed.append(event)

    def _add_complete(self, event: Event) -> None:
        totals = event.get("totals")
        if not isinstance(totals, dict):
            return
        key = "run" if event.get("operation_type") == "run" else event["phase"]
        self.totals[key] = totals

    def _count_second(self, timestamp: str) -> None:
        second = timestamp[:19]
        window = self.per_second
        if window and window[-1][0] == second:
            window[-1][1] += 1
        else:
            window.append([second, 1])


def duration_bucket(duration_ms: int) -> int:
    """`duration_ms` rounded down to 3 significant digits (at most 0.1 % off)."""
    step = 10 ** (len(str(duration_ms)) - 3)
    return duration_ms - duration_ms % step


class StreamTally:
    """The whole stream: its runs, and the lines that were not events."""

    def __init__(self) -> None:
        self.runs: dict[str | None, RunTally] = {}
        self.events = 0
        self.garbage = 0
        self.dropped_runs = 0
        self._last_run_id: Any = object()
        self._last_run: RunTally | None = None

    def add(self, event: Event) -> None:
        self.events += 1
        run_id = event.get("run_id")
        if run_id == self._last_run_id and self._last_run is not None:
            self._last_run.add(event)
            return
        key = run_id if isinstance(run_id, str) else None
        run = self.runs.get(key)
        if run is None:
            run = self._new_run(key, event["timestamp"])
        self._last_run_id = run_id
        self._last_run = run
        run.add(event)

    def add_garbage(self) -> None:
        self.garbage += 1

    def _new_run(self, run_id: str | None, timestamp: str) -> RunTally:
        if len(self.runs) >= MAX_RUNS:
            oldest = next(iter(self.runs))
            del self.runs[oldest]
            self.dropped_runs += 1
        run = self.runs[run_id] = RunTally(run_id, timestamp)
        return run


def fold_lines(
    tally: StreamTally,
    lines: Iterable[bytes],
    keep: Callable[[Event], bool] | None = None,
) -> StreamTally:
    """Add every line to `tally`: events to their run, the rest as garbage."""
    add = tally.add
    for line in lines:
        event = decode_event(line)
        if event is None:
            if line.strip():
                tally.garbage += 1
        elif keep is None or keep(event):
            add(event)
    return tally
