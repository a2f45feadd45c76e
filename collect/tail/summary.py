"""The final report of `--summary`: per run, as text or as JSON.

The JSON counts are plain counts and sums over the events, so that a `jq` reduction
over the same file gives the same figures:

    requests           events with action `fetching`
    found              `found`;  rate_limited: `rate_limited`;  errors: `error`
    errors_by_type     `error` events by `error_type` (rejected products included)
    request_failures   `error` events of workers, except `price_parsing` rejections
    products_found     sum of `items_count` of Amazon `found`
    sellers_found      sum of `items_count` of eBay `found` (sightings)
    pipeline           sum of `items_count` per system action (uploading, inserted, ...)
"""

from __future__ import annotations

from typing import Any

from collect.tail.snapshot import Percentiles, RunSnapshot, Snapshot
from collect.tail.words import ERROR_GROUPS, format_ms, format_seconds, plural


def report(snapshot: Snapshot) -> dict[str, Any]:
    """The machine-readable report: one entry per run, in order of appearance."""
    return {
        "events": snapshot.events,
        "garbage_lines": snapshot.garbage,
        "dropped_runs": snapshot.dropped_runs,
        "runs": [run_report(run) for run in snapshot.runs],
    }


def run_report(run: RunSnapshot) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "status": run.status,
        "first_event": run.first_ts,
        "last_event": run.last_ts,
        "elapsed_s": round(run.elapsed_s, 3),
        "events": run.events,
        "actions": dict(run.actions),
        "requests": run.requests,
        "requests_by_phase": dict(run.requests_by_phase),
        "found": run.found,
        "found_by_phase": dict(run.found_by_phase),
        "rate_limited": run.rate_limited,
        "errors": run.errors,
        "errors_by_type": dict(run.errors_by_type),
        "errors_by_stage": dict(run.errors_by_stage),
        "request_failures": run.request_failures,
        "products_rejected": run.products_rejected,
        "products_found": run.products_found,
        "sellers_found": run.sellers_found,
        "pipeline": {
            "products_stored": run.pipeline.get("uploading", 0),
            "sellers_deduped": run.pipeline.get("deduped", 0),
            "sellers_inserted": run.pipeline.get("inserted", 0),
            "sellers_updated": run.pipeline.get("updated", 0),
        },
        "durations_ms": {phase: _percentiles(p) for phase, p in run.durations.items()},
        "progress": {
            "categories_done": run.progress.categories_done,
            "categories_total": run.progress.categories_total,
            "products_done": run.progress.products_done,
            "products_total": run.progress.products_total,
        },
        "totals": {key: dict(totals) for key, totals in run.totals.items()},
        "workers": [
            {
                "worker_id": w.worker_id,
                "requests": w.requests,
                "successes": w.successes,
                "errors": w.errors,
                "rate_limited": w.rate_limited,
            }
            for w in run.workers
        ],
    }


def _percentiles(p: Percentiles) -> dict[str, int | None]:
    return {"count": p.count, "p50": p.p50, "p95": p.p95, "max": p.max}


def format_report(snapshot: Snapshot) -> str:
    """The report for people: a block per run."""
    blocks = [format_run(run) for run in snapshot.runs]
    if not blocks:
        blocks.append("no events")
    footer = f"{plural(snapshot.events, 'event')}"
    if snapshot.garbage:
        footer += f", {plural(snapshot.garbage, 'line')} that are not events"
    if snapshot.dropped_runs:
        footer += f", {plural(snapshot.dropped_runs, 'older run')} not kept"
    return "\n\n".join(blocks) + "\n\n" + footer + "\n"


def format_run(run: RunSnapshot) -> str:
    progress = run.progress
    lines = [
        f"run {run.run_id or '(no run id)'}: {run.status}, "
        f"{format_seconds(run.elapsed_s)} (events {run.first_ts} → {run.last_ts})",
        f"  requests     {run.requests:,} ({_by_phase(run.requests_by_phase)}), "
        f"{run.found:,} found, {run.request_failures:,} failed, "
        f"{run.rate_limited:,} rate limited",
        f"  errors       {_error_groups(run)}",
        f"  durations    {_durations(run)}",
        f"  categories   {_ratio(progress.categories_done, progress.categories_total)}"
        f"   products {_ratio(progress.products_done, progress.products_total)}"
        f" searched, {run.products_found:,} found, "
        f"{run.products_rejected:,} rejected (no price)",
        f"  sellers      {run.sellers_found:,} sightings, "
        f"{run.pipeline.get('inserted', 0):,} new, "
        f"{run.pipeline.get('updated', 0):,} updated, "
        f"{run.pipeline.get('deduped', 0):,} deduped",
    ]
    return "\n".join(lines)


def _by_phase(counts: dict[str, int] | Any) -> str:
    return ", ".join(f"{phase} {count:,}" for phase, count in counts.items()) or "-"


def _ratio(done: int, total: int | None) -> str:
    return f"{done:,}/{total:,}" if total is not None else f"{done:,}/?"


def _error_groups(run: RunSnapshot) -> str:
    groups = [f"{name} {count:,}" for name, count in error_groups(run)]
    if run.products_rejected:
        # `error` events too (stage price_parsing), so a jq count of errors agrees.
        groups.append(f"price parsing {run.products_rejected:,} (products rejected)")
    return ", ".join(groups) or "none"


def error_groups(run: RunSnapshot) -> list[tuple[str, int]]:
    """Errors and rate limits as the dashboard groups them; zero groups left out."""
    # Rejected products (no usable price) are not failed requests: left out here.
    by_type = dict(run.failures_by_type)
    groups = []
    for name, types in ERROR_GROUPS:
        count = sum(by_type.pop(error_type, 0) for error_type in types)
        if name == "rate limit":
            count += run.rate_limited
        groups.append((name, count))
    groups.append(("other", sum(by_type.values())))
    return [(name, count) for name, count in groups if count]


def _durations(run: RunSnapshot) -> str:
    parts = [
        f"{phase} p50 {format_ms(p.p50)} p95 {format_ms(p.p95)}"
        for phase, p in run.durations.items()
    ]
    return ", ".join(parts) or "-"
