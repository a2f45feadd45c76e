"""Which events the user asked to see: --worker, --phase, --action, --errors, --since.

`--since` is turned into a timestamp in the events' own format (UTC, milliseconds,
`Z`) once, so that each event is kept or dropped by a plain string comparison.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from collect.tail.stream import Event

ERROR_ACTIONS = frozenset({"error", "rate_limited"})
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Keeps an event when it matches every criterion given; empty means any."""

    workers: frozenset[int] = frozenset()
    phases: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    since: str | None = None

    def __call__(self, event: Event) -> bool:
        if self.workers and event["worker_id"] not in self.workers:
            return False
        if self.phases and event["phase"] not in self.phases:
            return False
        if self.actions and event["action"] not in self.actions:
            return False
        return self.since is None or event["timestamp"] >= self.since


def build_filter(
    workers: Iterable[int] = (),
    phases: Iterable[str] = (),
    actions: Iterable[str] = (),
    errors_only: bool = False,
    since: str | None = None,
    now: datetime | None = None,
) -> EventFilter | None:
    """The filter for these options, or None when nothing is filtered out."""
    wanted_actions = set(actions) | (ERROR_ACTIONS if errors_only else set())
    cutoff = parse_since(since, now or datetime.now(UTC)) if since else None
    event_filter = EventFilter(
        frozenset(workers), frozenset(phases), frozenset(wanted_actions), cutoff
    )
    return event_filter if event_filter != EventFilter() else None


def parse_since(text: str, now: datetime) -> str:
    """`10m`, `1h30m`, `2d` before `now`; or a time: ISO 8601, or `HH:MM[:SS]` today.

    Times without a zone are UTC, like the stream. A time of day later than `now`
    means yesterday's. Raises ValueError with a message for the user.
    """
    text = text.strip()
    moment = _parse_duration(text, now) or _parse_time(text, now)
    if moment is None:
        raise ValueError(
            f"{text!r} is neither a duration (90s, 10m, 1h30m, 2d) "
            "nor a time (2026-12-04T15:00, 15:00)"
        )
    return format_timestamp(moment)


def format_timestamp(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _parse_duration(text: str, now: datetime) -> datetime | None:
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(_DURATION_PART.sub("", text).split()):
        return None
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
    return now - timedelta(seconds=seconds)


def _parse_time(text: str, now: datetime) -> datetime | None:
    try:
        clock = time.fromisoformat(text)
    except ValueError:
        clock = None
    if clock is not None:
        today = datetime.combine(now.astimezone(UTC).date(), clock, UTC)
        return today - timedelta(days=1) if today > now else today
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
