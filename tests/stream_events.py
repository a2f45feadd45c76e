"""Hand-made activity events for tests of the stream's readers (tail, metrics)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 12, 4, 15, 0, 0, tzinfo=UTC)


def ts(seconds: float) -> str:
    """The timestamp `seconds` after T0, in the stream's format."""
    moment = T0 + timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(at: float, worker_id: int, action: str, **fields: Any) -> dict[str, Any]:
    """One event at `at` seconds after T0; `phase` and `run_id` may be given."""
    base = {
        "id": f"r1.{worker_id}.{at}",
        "timestamp": ts(at),
        "worker_id": worker_id,
        "phase": fields.pop("phase", "ebay"),
        "action": action,
        "run_id": fields.pop("run_id", "r1"),
    }
    return base | fields
