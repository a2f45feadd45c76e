"""Export the seller store for `collect sellers`: CSV, JSON lines or a text table.

Rows come out in evidence order (distinct products, then sightings), so the
likeliest dropshippers are at the top whatever the format.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Iterable
from typing import IO

import orjson

from collect.cells import spreadsheet_safe
from collect.store import SELLER_COLUMNS, SellerRow, Store

FORMATS = ("csv", "jsonl", "table")
EXPORT_COLUMNS = SELLER_COLUMNS

# A spreadsheet runs a cell starting with one of these as a formula
# (CSV injection), e.g. a seller named `=HYPERLINK("http://evil","click")`.
# Terminal table: long names are cut so one hostile name cannot widen every row.
_TABLE_NAME_WIDTH = 40
_TABLE_COLUMNS = (
    ("products", "products"),
    ("sightings", "sightings"),
    ("feedback_percent", "feedback %"),
    ("feedback_count", "feedback"),
    ("last_seen", "last seen"),
    ("name", "seller"),
)


def export_sellers(
    store: Store,
    fmt: str,
    out: IO[str] | IO[bytes],
    limit: int | None = None,
    min_products: int = 0,
) -> int:
    """Write the store's sellers to `out` (text or binary); return the row count."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    rows = store.iter_sellers(min_products=min_products, limit=limit)
    write = _text_writer(out)
    if fmt == "csv":
        return _write_csv(rows, write)
    if fmt == "jsonl":
        return _write_jsonl(rows, write)
    return _write_table(list(rows), write)


def _text_writer(out: IO[str] | IO[bytes]) -> Callable[[str], object]:
    if isinstance(out, io.TextIOBase):
        return out.write
    return lambda text: out.write(text.encode())  # type: ignore[arg-type]


def _write_csv(rows: Iterable[SellerRow], write: Callable[[str], object]) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([spreadsheet_safe(getattr(row, c)) for c in EXPORT_COLUMNS])
        count += 1
        # Hand the text over in pieces so a large store never sits in memory.
        if buffer.tell() > 65536:
            write(_take(buffer))
    write(_take(buffer))
    return count


def _take(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _write_jsonl(rows: Iterable[SellerRow], write: Callable[[str], object]) -> int:
    count = 0
    for row in rows:
        record = {column: getattr(row, column) for column in EXPORT_COLUMNS}
        write(orjson.dumps(record).decode() + "\n")
        count += 1
    return count


def _write_table(rows: list[SellerRow], write: Callable[[str], object]) -> int:
    header = [title for _, title in _TABLE_COLUMNS]
    body = [[_table_cell(row, column) for column, _ in _TABLE_COLUMNS] for row in rows]
    widths = [
        max(_width(line[index]) for line in [header, *body])
        for index in range(len(header))
    ]
    for line in [header, *body]:
        write(_table_line(line, widths) + "\n")
    return len(rows)


def _table_cell(row: SellerRow, column: str) -> str:
    value = getattr(row, column)
    if value is None:
        return "-"
    if column == "feedback_percent":
        return f"{value:.1f}"
    if column == "last_seen":
        return value[:16].replace("T", " ")
    if column == "name" and len(value) > _TABLE_NAME_WIDTH:
        return value[: _TABLE_NAME_WIDTH - 1] + "…"
    return str(value)


def _table_line(cells: list[str], widths: list[int]) -> str:
    # Numbers right-aligned, the name (last) left-aligned and not padded.
    padded = [
        " " * (width - _width(cell)) + cell
        for cell, width in zip(cells[:-1], widths, strict=False)
    ]
    return "  ".join([*padded, cells[-1]])


def _width(text: str) -> int:
    """Terminal columns: wide (CJK, most emoji) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
