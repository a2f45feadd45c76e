"""CSV cells a spreadsheet opens safely: text it would run as a formula gets a quote."""

from __future__ import annotations

from typing import Any

# What Excel, LibreOffice and Google Sheets read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any, starts: tuple[str, ...] = FORMULA_STARTS) -> Any:
    """Prefix a quote to text starting with one of `starts`; None is empty."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(starts):
        return "'" + value
    return value
