"""Decoding an API's JSON answer, the one way every parser of an API answer does it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from collect.errors import ParseError


def load_object(body: bytes | Mapping[str, Any], source: str) -> Mapping[str, Any]:
    """The answer as a JSON object, or ParseError(stage="api") naming `source`."""
    if isinstance(body, Mapping):
        return body
    if not isinstance(body, bytes | bytearray | memoryview):
        raise ParseError(
            f"expected a JSON body, got {type(body).__name__}", stage="api"
        )
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # The body itself is not quoted: it may be an HTML page of any size.
        looks = (
            "an HTML page" if bytes(body[:1024]).lstrip()[:1] == b"<" else "not JSON"
        )
        raise ParseError(
            f"{source} answer is {looks} ({len(body)} bytes)", stage="api"
        ) from exc
    if not isinstance(answer, Mapping):
        raise ParseError(f"{source} answer is not a JSON object", stage="api")
    return answer
