"""The fold and the snapshot: exact counts, bounded memory, an injected clock."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from stream_events import T0, event

from collect.tail.fold import MAX_RUNS, RECENT, StreamTally, duration_bucket
from collect.tail.snapshot import parse_time, percentiles, take_snapshot


def fold(*events: dict[str, Any]) -> StreamTally:
    tally = StreamTally()
    for item in events:
        tally.add(item)
    return tally


def test_percentiles_are_nearest_rank() -> None:
    result = percentiles({100: 50, 200: 45, 5000: 5})
    assert (result.count, result.p50, result.p95, result.max) == (100, 100, 200, 5000)


@pytest.mark.parametrize(
    ("duration", "bucket"),
    [(12_345, 12_300), (99_999, 99_900), (1_234_567, 1_230_000), (100_000, 100_000)],
    ids=str,
)
def test_long_durations_keep_three_digits(duration: int, bucket: int) -> None:
    assert duration_bucket(duration) == bucket


def test_memory_stays_bounded() -> None:
    """Runs, recent errors and histogram keys do not grow with the stream."""
    tally = StreamTally()
    for run in range(MAX_RUNS + 50):
        tally.add(event(run, 1, "fetching", run_id=f"run{run}"))
    for n in range(5000):
        tally.add(event(n, 2, "error", error_type="timeout", run_id="big"))
        tally.add(event(n, 2, "found", duration_ms=10_000 + n * 997, run_id="big"))
    big = tally.runs["big"]
    assert len(tally.runs) == MAX_RUNS
    assert tally.dropped_runs == 51
    assert len(big.recent_errors) == RECENT
    # 5,000 distinct durations from 10 s to 5,000 s: at most 900 keys a decade.
    assert len(big.durations["ebay"]) <= 900 * 3


def test_counts_follow_the_schema() -> None:
    tally = fold(
        event(0, 1, "fetching", api_params={"page": 1}),
        event(1, 1, "found", items_count=12, duration_ms=900, api_params={"page": 1}),
        event(2, 1, "error", error_type="parse_error", error_stage="price_parsing"),
        event(3, 2, "rate_limited", error_type="rate_limit", error_stage="api"),
        event(4, 2, "error", error_type="timeout", error_stage="api"),
        event(5, 0, "inserted", items_count=7, source_worker_id=1),
        event(6, 0, "error", error_type="worker_lost", error_stage="api"),
    )
    (run,) = take_snapshot(tally).runs
    assert run.requests == 1
    assert run.found == 1
    assert run.errors == 3
    assert dict(run.errors_by_type) == {
        "parse_error": 1,
        "timeout": 1,
        "worker_lost": 1,
    }
    assert dict(run.failures_by_type) == {"timeout": 1, "worker_lost": 1}
    assert run.request_failures == 1
    assert run.products_rejected == 1
    assert run.rate_limited == 1
    assert run.sellers_found == 12
    assert run.pipeline["inserted"] == 7
    assert [line.text for line in run.feed] == ["inserted 7 new sellers from worker 1"]


def test_the_snapshot_is_immutable() -> None:
    snapshot = take_snapshot(fold(event(0, 1, "fetching")))
    run = snapshot.runs[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.requests = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        run.actions["fetching"] = 5  # type: ignore[index]


def test_worker_state_follows_the_injected_clock() -> None:
    """Fetching now, idle after a few quiet seconds, stale after a long silence."""
    tally = fold(
        event(0, 1, "fetching"),
        event(1, 1, "found", duration_ms=1000),
        event(0, 2, "fetching"),
    )

    def states(seconds: float) -> dict[int, tuple[str, bool]]:
        snapshot = take_snapshot(tally, T0 + timedelta(seconds=seconds))
        return {w.worker_id: (w.state, w.stale) for w in snapshot.runs[0].workers}

    assert states(2) == {1: ("found", False), 2: ("fetching", False)}
    assert states(10) == {1: ("idle", False), 2: ("fetching", False)}
    assert states(40) == {1: ("stale", True), 2: ("stale", True)}
    assert take_snapshot(tally, T0 + timedelta(seconds=40)).runs[0].elapsed_s == 40


def test_a_finished_run_stops_the_clock() -> None:
    tally = fold(
        event(0, 1, "fetching"),
        event(5, 0, "complete", operation_type="run", totals={"elapsed_s": 5.5}),
    )
    run = take_snapshot(tally, T0 + timedelta(hours=3)).runs[0]
    assert run.elapsed_s == 5.5
    assert run.status == "done"
    assert [w.state for w in run.workers] == ["done"]


def test_progress_and_eta_from_the_phase_totals() -> None:
    """Categories and products done over the totals of the Amazon phase; the ETA
    extrapolates the eBay pace."""
    events = [
        event(0, 1, "found", phase="amazon", api_params={"page": 1}, items_count=50),
        event(1, 0, "complete", phase="amazon", operation_type="phase",
              totals={"categories": 2, "products": 11}),
    ]  # fmt: skip
    events += [
        event(10 + n, 1, "found", api_params={"page": 1}, items_count=3)
        for n in range(6)
    ]
    progress = take_snapshot(fold(*events)).runs[0].progress
    assert progress.categories_done == progress.categories_total == 2
    assert (progress.products_done, progress.products_total) == (6, 11)
    assert progress.eta_s == pytest.approx(5 * 5 / 5)


def test_requests_per_minute_counts_the_last_minute() -> None:
    tally = fold(*(event(n * 10, 1, "fetching") for n in range(13)))
    run = take_snapshot(tally).runs[0]
    assert run.requests_per_min == 6


def test_requests_per_minute_of_a_run_younger_than_a_minute() -> None:
    """Ten requests in ten seconds is 60 a minute, not 10."""
    tally = fold(*(event(n, 1, "fetching") for n in range(10)))
    run = take_snapshot(tally).runs[0]
    assert run.requests_per_min == 60


def test_a_bad_timestamp_does_not_raise() -> None:
    assert parse_time("yesterday").year == 1970
