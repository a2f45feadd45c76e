"""`collect sellers` export: CSV safe for spreadsheets, JSON lines, a text table."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from collect.export import export_sellers, spreadsheet_safe
from collect.store import SightingRecord, Store, open_store

T1 = "2026-01-01T10:00:00.000Z"
HEADER = (
    "name,normalized_name,feedback_percent,feedback_count,sightings,products,"
    "first_seen,last_seen,first_run,last_run"
)


@pytest.fixture(params=["s.db", "s.csv"], ids=["sqlite", "csv"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = open_store(tmp_path / request.param)
    rows = [
        ('=HYPERLINK("http://x","y")', 99.5, 120, "A1"),
        ('=HYPERLINK("http://x","y")', None, None, "A2"),
        ("BigShop", 100.0, 3300, "A1"),
        ("BigShop", 100.0, 3300, "A2"),
        ("BigShop", 100.0, 3300, "A3"),
        ("tiny🛒", None, None, "A1"),
    ]
    opened.apply_sightings(
        [SightingRecord(name, pct, cnt, asin, 1, T1) for name, pct, cnt, asin in rows],
        "run-1",
        T1,
    )
    yield opened
    opened.close()


def test_csv_export(store: Store) -> None:
    """Header, evidence order, empty cells for unknown feedback, formulas defused."""
    out = io.StringIO()
    assert export_sellers(store, "csv", out) == 3
    assert out.getvalue().splitlines() == [
        HEADER,
        f"BigShop,bigshop,100.0,3300,3,3,{T1},{T1},run-1,run-1",
        f'"\'=HYPERLINK(""http://x"",""y"")","\'=hyperlink(""http://x"",""y"")",'
        f"99.5,120,2,2,{T1},{T1},run-1,run-1",
        f"tiny🛒,tiny🛒,,,1,1,{T1},{T1},run-1,run-1",
    ]
    parsed = list(csv.reader(io.StringIO(out.getvalue())))
    assert parsed[2][0] == '\'=HYPERLINK("http://x","y")'


def test_jsonl_export_to_binary_stream(store: Store) -> None:
    """JSON lines keep raw values (no spreadsheet quoting); bytes streams work."""
    out = io.BytesIO()
    assert export_sellers(store, "jsonl", out, limit=2) == 2
    records = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [r["name"] for r in records] == ["BigShop", '=HYPERLINK("http://x","y")']
    assert records[1] == {
        "name": '=HYPERLINK("http://x","y")',
        "normalized_name": '=hyperlink("http://x","y")',
        "feedback_percent": 99.5,
        "feedback_count": 120,
        "sightings": 2,
        "products": 2,
        "first_seen": T1,
        "last_seen": T1,
        "first_run": "run-1",
        "last_run": "run-1",
    }


def test_min_products_filters(store: Store) -> None:
    """min_products keeps only sellers with at least that many distinct products."""
    out = io.StringIO()
    assert export_sellers(store, "csv", out, min_products=3) == 1
    assert out.getvalue().splitlines()[1].startswith("BigShop,")


def test_table_export(store: Store) -> None:
    """An aligned table: numbers right-aligned, '-' for unknown feedback."""
    out = io.StringIO()
    assert export_sellers(store, "table", out) == 3
    assert out.getvalue().splitlines() == [
        "products  sightings  feedback %  feedback         last seen  seller",
        "       3          3       100.0      3300  2026-01-01 10:00  BigShop",
        "       2          2        99.5       120  2026-01-01 10:00  "
        '=HYPERLINK("http://x","y")',
        "       1          1           -         -  2026-01-01 10:00  tiny🛒",
    ]


def test_table_cuts_long_names(tmp_path: Path) -> None:
    """A 10 kB name is cut to 40 columns in the table only."""
    store = open_store(tmp_path / "s.db")
    store.apply_sightings(
        [SightingRecord("n" * 10_000, None, None, "A", 1, T1)], "r", T1
    )
    out = io.StringIO()
    export_sellers(store, "table", out)
    store.close()
    assert out.getvalue().splitlines()[1].endswith("  " + "n" * 39 + "…")


def test_empty_store_exports_header_only(tmp_path: Path) -> None:
    """No sellers: CSV is just the header, JSON lines is empty."""
    store = open_store(tmp_path / "s.db")
    text, binary = io.StringIO(), io.BytesIO()
    assert export_sellers(store, "csv", text) == 0
    assert export_sellers(store, "jsonl", binary) == 0
    store.close()
    assert (text.getvalue(), binary.getvalue()) == (HEADER + "\n", b"")


def test_unknown_format_is_refused(store: Store) -> None:
    """A format name that is not known is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="format must be one of"):
        export_sellers(store, "xlsx", io.StringIO())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("", ""),
        (None, ""),
        (-5, -5),
        (99.5, 99.5),
    ],
    ids=[
        "eq",
        "plus",
        "minus",
        "at",
        "tab",
        "cr",
        "plain",
        "empty",
        "none",
        "int",
        "float",
    ],
)
def test_spreadsheet_safe(value: object, expected: object) -> None:
    """Only text that a spreadsheet would run is quoted; numbers stay numbers."""
    assert spreadsheet_safe(value) == expected
