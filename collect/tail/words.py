"""Events told in words: shared by the plain lines, the dashboard and the summary."""

from __future__ import annotations

from typing import Any

from collect.tail.stream import Event

# The error types grouped as the dashboard shows them; the rest is "other".
ERROR_GROUPS = (
    ("rate limit", ("rate_limit",)),
    ("timeout", ("timeout",)),
    ("HTTP", ("http_error",)),
    ("parse", ("parse_error",)),
    ("blocked", ("blocked",)),
)


def plural(count: Any, noun: str, nouns: str | None = None) -> str:
    """`1 seller`, `12 sellers`; a missing count reads as `? sellers`."""
    nouns = nouns or noun + "s"
    if not isinstance(count, int):
        return f"? {nouns}"
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {nouns}"


def describe_system_event(event: Event) -> str:
    """What the writer or the coordinator did, as a short sentence."""
    action = event["action"]
    count = event.get("items_count")
    source = event.get("source_worker_id")
    origin = f" from worker {source}" if source is not None else ""
    if action == "uploading":
        return f"stored {plural(count, 'product')}{origin}"
    if action == "deduped":
        return f"deduped {plural(count, 'seller')} already known"
    if action == "inserted":
        return f"inserted {plural(count, 'new seller')}{origin}"
    if action == "updated":
        return f"updated {plural(count, 'known seller')}{origin}"
    if action == "complete":
        return describe_complete(event)
    if action == "error":
        return f"{event.get('error_type', 'error')}: {event.get('error_message', '')}"
    return action


def describe_complete(event: Event) -> str:
    totals = event.get("totals")
    totals = totals if isinstance(totals, dict) else {}
    if event.get("operation_type") == "run":
        status = totals.get("status", "?")
        elapsed = totals.get("elapsed_s")
        took = f" in {format_seconds(elapsed)}" if elapsed is not None else ""
        return f"run {status}{took}, {plural(totals.get('requests'), 'request')}"
    parts = [f"{event['phase']} phase complete"]
    if "categories" in totals:
        parts.append(plural(totals["categories"], "category", "categories"))
    if "products" in totals:
        parts.append(plural(totals["products"], "product"))
    if "requests" in totals:
        parts.append(plural(totals["requests"], "request"))
    return ", ".join(parts)


def format_seconds(seconds: Any) -> str:
    """`42.0 s`, `3m05s`, `2h04m`: short enough for a table cell."""
    if not isinstance(seconds, int | float):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_ms(duration_ms: Any) -> str:
    if not isinstance(duration_ms, int | float):
        return "-"
    if duration_ms < 1000:
        return f"{duration_ms:.0f} ms"
    return f"{duration_ms / 1000:.1f} s"


def shorten(text: Any, width: int) -> str:
    """Cut `text` to `width` characters with an ellipsis; None reads as empty."""
    if text is None:
        return ""
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def shorten_url(url: Any, width: int) -> str:
    """Drop the scheme, then keep the start and the end, where the page number is."""
    if not url:
        return ""
    text = str(url).split("://", 1)[-1]
    if len(text) <= width:
        return text
    head = (width - 1) * 2 // 3
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]
