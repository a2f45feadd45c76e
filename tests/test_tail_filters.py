"""Filters: which events are kept, and how --since is read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collect.tail.filters import build_filter, parse_since

NOW = datetime(2026, 12, 4, 15, 30, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", "2026-12-04T15:20:00.000Z"),
        ("90s", "2026-12-04T15:28:30.000Z"),
        ("1h30m", "2026-12-04T14:00:00.000Z"),
        ("2d", "2026-12-02T15:30:00.000Z"),
        ("15:00", "2026-12-04T15:00:00.000Z"),
        ("16:00", "2026-12-03T16:00:00.000Z"),
        ("2026-12-01T08:00", "2026-12-01T08:00:00.000Z"),
        ("2026-12-01T09:00:00+01:00", "2026-12-01T08:00:00.000Z"),
    ],
    ids=["minutes", "seconds", "compound", "days", "today", "yesterday", "iso", "tz"],
)
def test_since_becomes_an_event_timestamp(text: str, expected: str) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["soon", "10x", "m10", ""], ids=str)
def test_since_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since(text, NOW)


def _event(**fields: object) -> dict[str, object]:
    event: dict[str, object] = {
        "id": "r.1.1",
        "timestamp": "2026-12-04T15:25:00.000Z",
        "worker_id": 1,
        "phase": "ebay",
        "action": "found",
    }
    event.update(fields)
    return event


def test_no_option_means_no_filter() -> None:
    assert build_filter(now=NOW) is None


@pytest.mark.parametrize(
    ("options", "event", "kept"),
    [
        ({"workers": [1, 2]}, _event(), True),
        ({"workers": [2]}, _event(), False),
        ({"phases": ["amazon"]}, _event(), False),
        ({"actions": ["found"]}, _event(), True),
        ({"errors_only": True}, _event(), False),
        ({"errors_only": True}, _event(action="rate_limited"), True),
        ({"errors_only": True}, _event(action="error"), True),
        ({"since": "10m"}, _event(), True),
        ({"since": "1m"}, _event(), False),
        ({"workers": [1], "since": "1m"}, _event(), False),
    ],
    ids=[
        "worker-in",
        "worker-out",
        "phase-out",
        "action-in",
        "errors-found",
        "errors-rate-limited",
        "errors-error",
        "since-in",
        "since-out",
        "all-must-match",
    ],
)
def test_filter_keeps_matching_events(
    options: dict[str, object], event: dict[str, object], kept: bool
) -> None:
    keep = build_filter(now=NOW, **options)  # type: ignore[arg-type]
    assert keep is not None
    assert keep(event) is kept
