"""The immutable picture of the stream at one moment, computed from the fold.

`take_snapshot` only reads the tally. `now` is the injected clock: a live view passes
the wall-clock time, so that elapsed time grows and a silent worker turns stale; a
report on a finished file passes None, and the stream's own last timestamp stands in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from collect.tail.fold import RATE_WINDOW, RunTally, StreamTally, WorkerTally
from collect.tail.stream import Event
from collect.tail.words import describe_system_event

# A worker that finished its request this long ago and sent nothing since is idle.
IDLE_AFTER_S = 5.0
# Stale: silent for this many times its usual request time, and at least STALE_MIN_S.
STALE_FACTOR = 10
STALE_MIN_S = 30.0


@dataclass(frozen=True, slots=True)
class Percentiles:
    count: int
    p50: int | None
    p95: int | None
    max: int | None


@dataclass(frozen=True, slots=True)
class Progress:
    categories_done: int
    categories_total: int | None
    products_done: int
    products_total: int | None
    eta_s: float | None


@dataclass(frozen=True, slots=True)
class WorkerView:
    worker_id: int
    phase: str | None
    state: str
    stale: bool
    silent_s: float | None
    category: str | None
    product: str | None
    url: str | None
    attempt: int | None
    last_duration_ms: int | None
    requests: int
    successes: int
    errors: int
    rate_limited: int


@dataclass(frozen=True, slots=True)
class FeedLine:
    timestamp: str
    text: str
    action: str


@dataclass(frozen=True, slots=True)
class ErrorLine:
    timestamp: str
    worker_id: int
    phase: str
    action: str
    error_type: str | None
    error_stage: str | None
    http_status: int | None
    message: str | None


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    run_id: str | None
    first_ts: str
    last_ts: str
    elapsed_s: float
    phase: str | None
    status: str
    events: int
    actions: Mapping[str, int]
    requests: int
    requests_by_phase: Mapping[str, int]
    requests_per_min: float
    found: int
    found_by_phase: Mapping[str, int]
    rate_limited: int
    errors: int
    errors_by_type: Mapping[str, int]
    errors_by_stage: Mapping[str, int]
    failures_by_type: Mapping[str, int]
    request_failures: int
    products_rejected: int
    products_found: int
    sellers_found: int
    pipeline: Mapping[str, int]
    durations: Mapping[str, Percentiles]
    progress: Progress
    totals: Mapping[str, Mapping[str, Any]]
    workers: tuple[WorkerView, ...]
    feed: tuple[FeedLine, ...]
    recent_errors: tuple[ErrorLine, ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    events: int
    garbage: int
    dropped_runs: int
    runs: tuple[RunSnapshot, ...]
    live: bool

    @property
    def latest(self) -> RunSnapshot | None:
        """The run with the most recent event: the one a live view follows."""
        return max(self.runs, key=lambda run: run.last_ts, default=None)


def take_snapshot(tally: StreamTally, now: datetime | None = None) -> Snapshot:
    return Snapshot(
        events=tally.events,
        garbage=tally.garbage,
        dropped_runs=tally.dropped_runs,
        runs=tuple(run_snapshot(run, now) for run in tally.runs.values()),
        live=now is not None,
    )


def run_snapshot(run: RunTally, now: datetime | None) -> RunSnapshot:
    finished = "run" in run.totals
    reference = parse_time(run.last_ts) if now is None or finished else now
    elapsed = _elapsed(run, reference)
    actions = run.actions
    return RunSnapshot(
        run_id=run.run_id,
        first_ts=run.first_ts,
        last_ts=run.last_ts,
        elapsed_s=elapsed,
        phase="done" if finished else run.phase,
        status=_status(run, now),
        events=run.events,
        actions=_frozen(actions),
        requests=actions.get("fetching", 0),
        requests_by_phase=_frozen(run.requests),
        requests_per_min=requests_per_minute(run, reference),
        found=actions.get("found", 0),
        found_by_phase=_frozen(run.found),
        rate_limited=actions.get("rate_limited", 0),
        errors=actions.get("error", 0),
        errors_by_type=_frozen(run.errors_by_type),
        errors_by_stage=_frozen(run.errors_by_stage),
        failures_by_type=_frozen(run.failures_by_type),
        request_failures=run.request_failures,
        products_rejected=run.products_rejected,
        products_found=run.products_found,
        sellers_found=run.sellers_found,
        pipeline=_frozen(run.pipeline_items),
        durations=MappingProxyType(
            {phase: percentiles(h) for phase, h in sorted(run.durations.items())}
        ),
        progress=progress(run),
        totals=MappingProxyType(
            {key: MappingProxyType(dict(t)) for key, t in run.totals.items()}
        ),
        workers=tuple(
            worker_view(run.workers[wid], reference, finished)
            for wid in sorted(run.workers)
        ),
        feed=tuple(feed_line(event) for event in run.feed),
        recent_errors=tuple(error_line(event) for event in run.recent_errors),
    )


def _frozen(counts: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(sorted(counts.items())))


def _status(run: RunTally, now: datetime | None) -> str:
    if "run" in run.totals:
        return str(run.totals["run"].get("status", "done"))
    return "running" if now is not None else "unfinished"


def _elapsed(run: RunTally, reference: datetime) -> float:
    reported = run.totals.get("run", {}).get("elapsed_s")
    if isinstance(reported, int | float):
        return float(reported)
    return max(0.0, (reference - parse_time(run.first_ts)).total_seconds())


def parse_time(timestamp: str) -> datetime:
    """The event's ISO 8601 timestamp as an aware datetime (Python 3.11 reads `Z`)."""
    try:
        return datetime.fromisoformat(timestamp)
    except ValueError:
        return datetime.fromisoformat("1970-01-01T00:00:00Z")


def percentiles(histogram: Mapping[int, int]) -> Percentiles:
    """Nearest-rank p50 and p95 from a histogram of durations."""
    count = sum(histogram.values())
    if not count:
        return Percentiles(0, None, None, None)
    keys = sorted(histogram)
    return Percentiles(
        count=count,
        p50=_rank(keys, histogram, count, 50),
        p95=_rank(keys, histogram, count, 95),
        max=keys[-1],
    )


def _rank(
    keys: list[int], histogram: Mapping[int, int], count: int, percent: int
) -> int:
    # Nearest rank: the smallest value with `percent` % of the samples at or below.
    wanted = max(1, -(-percent * count // 100))
    seen = 0
    for key in keys:
        seen += histogram[key]
        if seen >= wanted:
            return key
    return keys[-1]


def requests_per_minute(run: RunTally, reference: datetime) -> float:
    """The request rate over the minute before `reference` (stream time or clock).

    A run younger than a minute is measured over the seconds it covers, not
    divided by a full minute.
    """
    total = 0
    for second, count in run.per_second:
        age = (reference - parse_time(second + "Z")).total_seconds()
        if age < RATE_WINDOW:
            total += count
    lived = (reference - parse_time(run.first_ts)).total_seconds() + 1.0
    return total * 60.0 / min(float(RATE_WINDOW), max(lived, 1.0))


def progress(run: RunTally) -> Progress:
    amazon = run.totals.get("amazon", {})
    categories_total = _int_or_none(amazon.get("categories"))
    products_total = _int_or_none(amazon.get("products"))
    categories_done = run.categories_done
    if categories_total is not None:
        # The phase is over: failed and empty categories are done too.
        categories_done = categories_total
    products_done = run.products_done
    if products_total is not None:
        products_done = min(products_done, products_total)
    if "run" in run.totals and products_total is not None:
        products_done = products_total
    return Progress(
        categories_done=categories_done,
        categories_total=categories_total,
        products_done=products_done,
        products_total=products_total,
        eta_s=_eta(run, products_done, products_total),
    )


def _eta(run: RunTally, done: int, total: int | None) -> float | None:
    if total is None or run.first_ebay_found_ts is None or "run" in run.totals:
        return None
    started = parse_time(run.first_ebay_found_ts)
    spent = (parse_time(run.last_ts) - started).total_seconds()
    if done <= 1 or spent <= 0:
        return None
    return max(0.0, (total - done) * spent / (done - 1))


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def worker_view(worker: WorkerTally, reference: datetime, finished: bool) -> WorkerView:
    last = worker.last
    request = worker.last_request
    silent = (reference - parse_time(last["timestamp"])).total_seconds()
    usual_s = worker.duration_sum / worker.duration_n / 1000 if worker.duration_n else 0
    stale = not finished and silent > max(STALE_MIN_S, STALE_FACTOR * usual_s)
    duration = worker.last_duration
    return WorkerView(
        worker_id=worker.worker_id,
        phase=last.get("phase"),
        state=_worker_state(last["action"], silent, finished, stale),
        stale=stale,
        silent_s=max(0.0, silent),
        category=last.get("category") or request.get("category"),
        product=last.get("product_name") or request.get("product_name"),
        url=last.get("url") or request.get("url"),
        attempt=request.get("attempt"),
        last_duration_ms=duration if isinstance(duration, int) else None,
        requests=worker.requests,
        successes=worker.successes,
        errors=worker.errors,
        rate_limited=worker.rate_limited,
    )


def _worker_state(action: str, silent: float, finished: bool, stale: bool) -> str:
    if finished:
        return "done"
    if stale:
        return "stale"
    if action in ("found", "error") and silent > IDLE_AFTER_S:
        return "idle"
    return "rate limited" if action == "rate_limited" else action


def feed_line(event: Event) -> FeedLine:
    return FeedLine(event["timestamp"], describe_system_event(event), event["action"])


def error_line(event: Event) -> ErrorLine:
    status = event.get("http_status")
    return ErrorLine(
        timestamp=event["timestamp"],
        worker_id=event["worker_id"],
        phase=event["phase"],
        action=event["action"],
        error_type=event.get("error_type"),
        error_stage=event.get("error_stage"),
        http_status=status if isinstance(status, int) else None,
        message=event.get("error_message"),
    )
