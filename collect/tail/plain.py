"""One readable line per event, for pipes, logs and `--plain`.

    15:29:11.123  w3   ebay    found         12 sellers (5 unique) for "usb kit" p2

Colour is added only when the caller says so (a terminal, and `NO_COLOR` unset); the
words are the same either way, so a grep works on both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from collect.tail.filters import EventFilter
from collect.tail.stream import Event, decode_event
from collect.tail.words import describe_system_event, format_ms, plural, shorten

_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_COLOURS = {
    "found": "\x1b[32m",
    "rate_limited": "\x1b[33m",
    "error": "\x1b[31m",
    "complete": "\x1b[1m",
    "system": "\x1b[35m",
}


def use_colour(stream: TextIO, environ: Mapping[str, str] = os.environ) -> bool:
    """Colour on a terminal only, and never when NO_COLOR is set (no-color.org)."""
    if environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class PlainPrinter:
    """Writes events as lines; a header line marks where another run starts."""

    def __init__(
        self, out: TextIO, colour: bool, keep: EventFilter | None = None
    ) -> None:
        self.out = out
        self.colour = colour
        self.keep = keep
        self.events = 0
        self.garbage = 0
        self._run_id: Any = None

    def print_lines(self, lines: Iterable[bytes]) -> None:
        write = self.out.write
        for line in lines:
            event = decode_event(line)
            if event is None:
                self._print_garbage(line)
                continue
            if self.keep is not None and not self.keep(event):
                continue
            run_id = event.get("run_id")
            if run_id != self._run_id and run_id is not None:
                self._run_id = run_id
                write(self._paint("complete", f"── run {run_id} ──") + "\n")
            self.events += 1
            write(self.format(event) + "\n")

    def _print_garbage(self, line: bytes) -> None:
        if not line.strip():
            return
        self.garbage += 1
        text = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
        self.out.write((_DIM + text + _RESET if self.colour else text) + "\n")

    def format(self, event: Event) -> str:
        action = event["action"]
        worker_id = event["worker_id"]
        who = f"w{worker_id}" if worker_id else "sys"
        head = f"{event['timestamp'][11:23]}  {who:<4} {event['phase']:<7} "
        head += f"{action.replace('_', ' '):<13} "
        if not worker_id:
            kind = "complete" if action == "complete" else "system"
            return head + self._paint(kind, describe_system_event(event))
        return head + self._paint(action, describe_worker_event(event))

    def _paint(self, kind: str, text: str) -> str:
        colour = _COLOURS.get(kind) if self.colour else None
        return f"{colour}{text}{_RESET}" if colour else text


def describe_worker_event(event: Event) -> str:
    """The fields that matter for this action, in a few words."""
    action = event["action"]
    if action == "fetching":
        return _target(event) + _attempt(event)
    if action == "found":
        return _found(event)
    if action in ("error", "rate_limited"):
        return _failure(event)
    return _target(event)


def _target(event: Event) -> str:
    params = event.get("api_params")
    params = params if isinstance(params, dict) else {}
    page = f" p{params['page']}" if "page" in params else ""
    if event["phase"] == "amazon":
        node = f" (node {params['node_id']})" if "node_id" in params else ""
        return f"{event.get('category', '?')}{node}{page}"
    query = params.get("query") or event.get("product_name") or "?"
    band = ""
    if "price_min" in params and "price_max" in params:
        band = f" ${params['price_min']}–{params['price_max']}"
    return f'"{shorten(query, 50)}"{band}{page}'


def _attempt(event: Event) -> str:
    attempt = event.get("attempt")
    return f" · attempt {attempt}" if isinstance(attempt, int) and attempt > 1 else ""


def _found(event: Event) -> str:
    count = event.get("items_count")
    took = f" · {format_ms(event['duration_ms'])}" if "duration_ms" in event else ""
    if event["phase"] == "amazon":
        return f"{plural(count, 'product')} in {_target(event)}{took}"
    unique = event.get("new_sellers_count")
    distinct = f" ({unique} unique)" if unique is not None else ""
    return f"{plural(count, 'seller')}{distinct} for {_target(event)}{took}"


def _failure(event: Event) -> str:
    if event.get("error_stage") == "price_parsing":
        product = shorten(event.get("product_name") or event.get("asin"), 40)
        return f'rejected "{product}": {event.get("error_message", "")}'
    kind = f"{event.get('error_type', '?')}/{event.get('error_stage', '?')}"
    status = f" HTTP {event['http_status']}" if "http_status" in event else ""
    details = [f"attempt {event['attempt']}"] if "attempt" in event else []
    if "duration_ms" in event:
        details.append(format_ms(event["duration_ms"]))
    if "retry_after_ms" in event:
        details.append(f"retry in {format_ms(event['retry_after_ms'])}")
    suffix = f" ({', '.join(details)})" if details else ""
    message = shorten(event.get("error_message", ""), 120)
    return f"{kind}{status}: {message}{suffix}"
