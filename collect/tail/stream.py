"""Decoding one JSON line into an event, or recognising it as garbage.

A line that is not JSON, or JSON without the fields every event carries, is garbage:
it is shown as it is and counted, never an exception. The test is kept to one
`orjson.loads` and a key-set comparison because it runs once per line of files with
millions of lines.
"""

from __future__ import annotations

from typing import Any

import orjson

REQUIRED_FIELDS = frozenset({"id", "timestamp", "worker_id", "phase", "action"})

Event = dict[str, Any]


def decode_event(line: bytes) -> Event | None:
    """The event on `line`, or None when the line is garbage."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(event) is not dict or not event.keys() >= REQUIRED_FIELDS:
        return None
    if type(event["worker_id"]) is not int or type(event["action"]) is not str:
        return None
    if type(event["timestamp"]) is not str or type(event["phase"]) is not str:
        return None
    return event
