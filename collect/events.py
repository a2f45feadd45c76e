"""Activity events: the JSON lines `collect run` writes and `collect tail` reads.

The field names, action names and error vocabulary are a published contract: tools
written against older streams (jq filters, dashboards) must keep working, so fields may
be added but never renamed or removed.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

PHASES = ("amazon", "ebay")
WORKER_ACTIONS = ("fetching", "found", "rate_limited", "error", "complete")
PIPELINE_ACTIONS = ("uploading", "deduped", "inserted", "updated")
ERROR_TYPES = (
    "rate_limit",
    "timeout",
    "http_error",
    "parse_error",
    "connection",
    "blocked",
    "api_error",
    # Added by collect: a worker process died; the store could not be written.
    "worker_lost",
    "store_error",
)
ERROR_STAGES = ("api", "product_extraction", "seller_extraction", "price_parsing")

# Long free text is cut so that one event stays well under the pipe's atomic write size.
MAX_TEXT = 300


@dataclass(slots=True)
class ActivityEvent:
    """One step of the run; `None` fields are left out of the JSON line."""

    id: str
    timestamp: str
    worker_id: int
    phase: str
    action: str
    category: str | None = None
    product_name: str | None = None
    seller_found: str | None = None
    new_sellers_count: int | None = None
    error_message: str | None = None
    url: str | None = None
    api_params: dict[str, Any] | None = None
    duration_ms: int | None = None
    started_at: str | None = None
    attempt: int | None = None
    error_type: str | None = None
    error_stage: str | None = None
    items_count: int | None = None
    source_worker_id: int | None = None
    operation_type: str | None = None
    # Added by collect: not in the original schema.
    run_id: str | None = None
    http_status: int | None = None
    asin: str | None = None
    retry_after_ms: int | None = None
    totals: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            name: value
            for name in _FIELD_NAMES
            if (value := getattr(self, name)) is not None
        }

    def to_json_line(self) -> bytes:
        return orjson.dumps(self.to_dict()) + b"\n"


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(ActivityEvent))
_REQUIRED = frozenset({"id", "timestamp", "worker_id", "phase", "action"})
_OPTIONAL = frozenset(_FIELD_NAMES) - _REQUIRED
_TEXT_FIELDS = ("error_message", "product_name", "category", "seller_found")


def utc_timestamp(now: float | None = None) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. `2026-12-04T15:29:11.123Z`."""
    moment = datetime.now(UTC) if now is None else datetime.fromtimestamp(now, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventIds:
    """Ids unique across runs and processes: `<run>.<worker>.<sequence>`.

    A worker process started to replace a dead one gets a new `incarnation`, so its
    sequence can start again from 1 without repeating an id: `<run>.<worker>r<n>.<seq>`.
    """

    def __init__(self, run_id: str, worker_id: int, incarnation: int = 0) -> None:
        suffix = f"r{incarnation}" if incarnation else ""
        self._prefix = f"{run_id}.{worker_id}{suffix}."
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter)}"


_default_ids: dict[int, EventIds] = {}


def create_activity_event(
    worker_id: int, phase: str, action: str, **fields: Any
) -> ActivityEvent:
    """Build an event, refusing any field the schema does not know.

    `id` and `timestamp` are filled in unless given; text fields are cut to
    `MAX_TEXT` characters.
    """
    unknown = set(fields) - _OPTIONAL - {"id", "timestamp"}
    if unknown:
        raise TypeError(
            f"unknown activity event field(s): {', '.join(sorted(unknown))}; "
            f"known optional fields: {', '.join(sorted(_OPTIONAL))}"
        )
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")
    for name in _TEXT_FIELDS:
        text = fields.get(name)
        if isinstance(text, str) and len(text) > MAX_TEXT:
            fields[name] = text[: MAX_TEXT - 1] + "…"
    if "id" not in fields:
        ids = _default_ids.get(worker_id)
        if ids is None:
            run = fields.get("run_id") or f"p{os.getpid()}"
            ids = _default_ids[worker_id] = EventIds(run, worker_id)
        fields["id"] = ids.next()
    fields.setdefault("timestamp", utc_timestamp())
    return ActivityEvent(worker_id=worker_id, phase=phase, action=action, **fields)
