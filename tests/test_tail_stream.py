"""Decoding lines into events: garbage is recognised, never raised."""

from __future__ import annotations

import pytest

from collect.tail.stream import decode_event

VALID = (
    b'{"id":"r.1.1","timestamp":"2026-09-21T14:13:20.050Z","worker_id":1,'
    b'"phase":"amazon","action":"fetching","attempt":1}'
)


def test_a_valid_line_decodes_with_or_without_its_newline() -> None:
    """The newline is optional: readers may or may not strip it."""
    assert decode_event(VALID) == decode_event(VALID + b"\n")
    assert decode_event(VALID)["attempt"] == 1  # type: ignore[index]


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"Traceback (most recent call last):",
        b"[1, 2, 3]",
        b'"just a string"',
        VALID[:40],
        b'{"id":"x","timestamp":"t","phase":"ebay","action":"found"}',
        b'{"id":"x","timestamp":"t","worker_id":"1","phase":"ebay","action":"found"}',
        b'{"id":"x","timestamp":1,"worker_id":1,"phase":"ebay","action":"found"}',
        b'{"id":"x","timestamp":"t","worker_id":1,"phase":"ebay","action":null}',
        b"\xff\xfe not utf-8",
    ],
    ids=[
        "empty",
        "text",
        "array",
        "string",
        "truncated",
        "no-worker",
        "worker-as-text",
        "numeric-time",
        "null-action",
        "not-utf8",
    ],
)
def test_garbage_is_none(line: bytes) -> None:
    """Anything but an object with the five required fields is garbage."""
    assert decode_event(line) is None
