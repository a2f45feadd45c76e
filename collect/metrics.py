"""A Prometheus text-format file (exposition format 0.0.4) for monitoring a run.

Made for node_exporter's textfile collector or any scraper that reads a file: the
counts come from the event stream (`MetricsCounters.observe_event`), an immutable
`MetricsSnapshot` is taken with an injected clock, and `write_metrics` replaces the
file atomically, so a reader sees the previous file or the new one, never a part.

Request outcomes count the worker events that end one attempt: `found`, `error` and
`rate_limited`. An `error` at the `price_parsing` stage is a product rejected from
an Amazon page that was fetched fine, so it counts as an error but not as a request.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from collect.events import ERROR_TYPES

log = logging.getLogger(__name__)

OUTCOMES = ("found", "error", "rate_limited")
PROVIDERS = ("oxylabs",)
# Rejections of products, not failed requests (see the module docstring).
_NOT_A_REQUEST_STAGE = "price_parsing"
_LAST_SUCCESS = "collect_last_success_timestamp_seconds"


def provider_of(event: Mapping[str, Any]) -> str:
    """The API an event's request went to: eBay's Browse API, or Oxylabs."""
    provider = event.get("provider")
    if isinstance(provider, str) and provider:
        return provider
    url = event.get("url")
    if isinstance(url, str) and "/buy/browse/" in url:
        return "browse"
    return "oxylabs"


@dataclass(frozen=True)
class MetricsSnapshot:
    """The run's counts at one moment; the pairs are sorted, so output is stable."""

    run_id: str
    duration_seconds: float
    requests_sent: tuple[tuple[str, int], ...]
    requests: tuple[tuple[tuple[str, str], int], ...]
    errors: tuple[tuple[str, int], ...]
    sellers_new: int
    sellers_updated: int
    last_success: float | None


@dataclass
class MetricsCounters:
    """Plain counters, fed event by event or set directly from other counters.

    `started_at` and `last_success` are unix times, from the clock given to
    `snapshot`.
    """

    run_id: str
    started_at: float
    requests_sent: Counter[str] = field(default_factory=Counter)
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    sellers_new: int = 0
    sellers_updated: int = 0
    last_success: float | None = None
    final_duration: float | None = None
    provider_of: Callable[[Mapping[str, Any]], str] = provider_of

    def observe_event(self, event: Mapping[str, Any]) -> None:
        """Count one event of the stream; unknown actions are ignored."""
        action = event.get("action")
        if event.get("worker_id") == 0:
            self._observe_system(action, event)
        elif action == "fetching":
            self.requests_sent[self.provider_of(event)] += 1
        elif action in OUTCOMES:
            self._observe_outcome(action, event)

    def _observe_outcome(self, action: str, event: Mapping[str, Any]) -> None:
        if action != "found":
            self._count_error(event)
            if event.get("error_stage") == _NOT_A_REQUEST_STAGE:
                return
        self.requests[self.provider_of(event), action] += 1
        if action == "found":
            self._saw_success(event.get("timestamp"))

    def _observe_system(self, action: Any, event: Mapping[str, Any]) -> None:
        count = event.get("items_count")
        count = count if type(count) is int else 0
        if action == "inserted":
            self.sellers_new += count
        elif action == "updated":
            self.sellers_updated += count
        elif action in ("error", "rate_limited"):
            self._count_error(event)
        elif action == "complete" and event.get("operation_type") == "run":
            # The coordinator's clock started before the writer's: use its figure.
            elapsed = (event.get("totals") or {}).get("elapsed_s")
            if isinstance(elapsed, int | float):
                self.final_duration = float(elapsed)

    def _count_error(self, event: Mapping[str, Any]) -> None:
        error_type = event.get("error_type")
        self.errors[error_type if isinstance(error_type, str) else "unknown"] += 1

    def _saw_success(self, timestamp: Any) -> None:
        moment = _unix_time(timestamp)
        if moment is not None and (self.last_success or 0) < moment:
            self.last_success = moment

    def snapshot(self, clock: Callable[[], float] = time.time) -> MetricsSnapshot:
        """Freeze the counts; each error type of the vocabulary shows, even at zero."""
        providers = {*PROVIDERS, *self.requests_sent, *(p for p, _ in self.requests)}
        requests = {(p, o): 0 for p in providers for o in OUTCOMES} | self.requests
        return MetricsSnapshot(
            run_id=self.run_id,
            duration_seconds=(
                self.final_duration
                if self.final_duration is not None
                else max(0.0, clock() - self.started_at)
            ),
            requests_sent=_sorted_pairs(
                dict.fromkeys(providers, 0) | self.requests_sent
            ),
            requests=_sorted_pairs(requests),
            errors=_sorted_pairs(dict.fromkeys(ERROR_TYPES, 0) | self.errors),
            sellers_new=self.sellers_new,
            sellers_updated=self.sellers_updated,
            last_success=self.last_success,
        )


def _sorted_pairs(counts: Mapping[Any, int]) -> tuple[tuple[Any, int], ...]:
    return tuple(sorted(counts.items()))


def _unix_time(timestamp: Any) -> float | None:
    if not isinstance(timestamp, str):
        return None
    try:
        return datetime.fromisoformat(timestamp).timestamp()
    except ValueError:
        return None


# -- the text format ----------------------------------------------------------------


def render_metrics(snapshot: MetricsSnapshot) -> str:
    """The exposition text: for each metric, HELP, TYPE, then its samples."""
    return "".join(_render_family(*family) for family in _families(snapshot))


def _families(snapshot: MetricsSnapshot) -> Iterator[tuple[str, str, str, list[str]]]:
    yield (
        "collect_run_duration_seconds",
        "gauge",
        "Seconds since the run started.",
        [_sample("collect_run_duration_seconds", {}, snapshot.duration_seconds)],
    )
    yield (
        "collect_requests_sent_total",
        "counter",
        "Requests sent (fetching events), by provider.",
        [
            _sample("collect_requests_sent_total", {"provider": p}, n)
            for p, n in snapshot.requests_sent
        ],
    )
    yield (
        "collect_requests_total",
        "counter",
        "Requests answered, by provider and outcome (found, error, rate_limited).",
        [
            _sample("collect_requests_total", {"provider": p, "outcome": o}, n)
            for (p, o), n in snapshot.requests
        ],
    )
    yield (
        "collect_errors_total",
        "counter",
        "Error and rate_limited events, by error type.",
        [_sample("collect_errors_total", {"type": t}, n) for t, n in snapshot.errors],
    )
    yield (
        "collect_sellers_total",
        "counter",
        "Sellers written to the store: new (inserted) or updated.",
        [
            _sample("collect_sellers_total", {"kind": "new"}, snapshot.sellers_new),
            _sample(
                "collect_sellers_total", {"kind": "updated"}, snapshot.sellers_updated
            ),
        ],
    )
    last = snapshot.last_success
    yield (
        _LAST_SUCCESS,
        "gauge",
        "Unix time of the last page fetched successfully.",
        [] if last is None else [_sample(_LAST_SUCCESS, {}, last)],
    )
    yield (
        "collect_run_info",
        "gauge",
        "The run this file describes.",
        [_sample("collect_run_info", {"run_id": snapshot.run_id}, 1)],
    )


def _render_family(name: str, kind: str, help_text: str, samples: list[str]) -> str:
    header = f"# HELP {name} {_escape_help(help_text)}\n# TYPE {name} {kind}\n"
    return header + "".join(samples)


def _sample(name: str, labels: Mapping[str, str], value: float) -> str:
    if not labels:
        return f"{name} {format_value(value)}\n"
    pairs = ",".join(f'{key}="{escape_label_value(v)}"' for key, v in labels.items())
    return f"{name}{{{pairs}}} {format_value(value)}\n"


def escape_label_value(value: str) -> str:
    """Backslash, double quote and newline escaped, as the text format requires."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """Integers without a decimal point; floats as Python writes them; Inf and NaN."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


# -- writing the file ---------------------------------------------------------------


def write_metrics(path: str | Path, snapshot: MetricsSnapshot) -> bool:
    """Replace `path` with the snapshot; on failure log one warning, return False."""
    try:
        replace_atomically(Path(path), render_metrics(snapshot).encode())
    except OSError as exc:
        log.warning("metrics file %s not written: %s", path, exc.strerror or exc)
        return False
    return True


def replace_atomically(path: Path, data: bytes) -> None:
    """Write a temporary file beside `path`, fsync it, then rename it over `path`.

    The temporary name starts with a dot and does not end in `.prom`, so the
    textfile collector, which reads `*.prom`, never picks up a half-written file.
    """
    fd, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file 0600; the collector often runs as another user.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    # The rename is durable only once the folder's entry is on disk; not all
    # platforms can open a folder, and a lost rename only loses one update.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_last_success(path: str | Path) -> float | None:
    """The last success time a previous run left in the file, if any.

    A run with no success must not make monitoring forget the last one.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == _LAST_SUCCESS:
            with contextlib.suppress(ValueError):
                return float(value)
    return None


class MetricsFile:
    """The metrics file of one run: fed events, rewritten every `interval` seconds.

    Writing never stops the run: the first failure of a streak logs a warning, the
    ones after it are only logged at debug level.
    """

    def __init__(
        self,
        path: str | Path,
        run_id: str,
        *,
        clock: Callable[[], float] = time.time,
        interval: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.interval = interval
        self._clock = clock
        self.counters = MetricsCounters(run_id, started_at=clock())
        self.counters.last_success = read_last_success(self.path)
        self._last_write: float | None = None
        self._failing = False

    def observe_line(self, line: bytes) -> None:
        """Count one JSON line of the stream; anything but an object is skipped."""
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            return
        if isinstance(event, dict):
            self.counters.observe_event(event)

    def tick(self) -> None:
        """Write the file if `interval` seconds passed since the last write."""
        if (
            self._last_write is None
            or self._clock() - self._last_write >= self.interval
        ):
            self.write()

    def write(self) -> bool:
        self._last_write = self._clock()
        snapshot = self.counters.snapshot(self._clock)
        try:
            replace_atomically(self.path, render_metrics(snapshot).encode())
        except OSError as exc:
            self._report_failure(exc)
            return False
        if self._failing:
            log.info("metrics file %s written again", self.path)
        self._failing = False
        return True

    def _report_failure(self, exc: OSError) -> None:
        level = logging.DEBUG if self._failing else logging.WARNING
        log.log(
            level, "metrics file %s not written: %s", self.path, exc.strerror or exc
        )
        self._failing = True
