"""Whether a finished run did its job: the verdict behind the exit codes."""

from __future__ import annotations

from typing import Any

EXIT_ERROR = 1
EXIT_TEMPORARY = 75


def judge_outcome(
    totals: dict[str, dict[str, Any]], max_error_rate: float
) -> tuple[int, str] | None:
    """None when the run did its job; otherwise (exit code, one-line reason)."""
    amazon, ebay = totals.get("amazon", {}), totals.get("ebay", {})
    tasks = sum(_tasks(phase) for phase in (amazon, ebay))
    failed = amazon.get("tasks_failed", 0) + ebay.get("tasks_failed", 0)
    found = amazon.get("pages", 0) + ebay.get("pages", 0)
    if tasks and not found and totals.get("rate_limited_only"):
        return EXIT_TEMPORARY, "every request was rate-limited; try again later"
    if tasks and failed / tasks > max_error_rate:
        return (
            EXIT_ERROR,
            f"{failed} of {tasks} tasks failed for good "
            f"(more than --max-error-rate {max_error_rate:g}); see the error events",
        )
    if not amazon.get("products") and not ebay.get("sightings"):
        return EXIT_ERROR, "nothing was collected: no product and no seller"
    return None


def _tasks(phase: dict[str, Any]) -> int:
    return sum(phase.get(k, 0) for k in ("tasks_done", "tasks_failed", "tasks_empty"))
