"""The eBay query, price band and search URL built for a product."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from collect.errors import ConfigError
from collect.search import make_query, search_request
from collect.settings import PriceBand


@pytest.mark.parametrize(
    ("title", "limit", "expected"),
    [
        ("Short title", 80, "Short title"),
        ("alpha beta gamma", 10, "alpha beta"),
        ("alpha beta gamma", 16, "alpha beta gamma"),
        ("Supercalifragilistic word", 5, "Super"),
        ('Mug (12 oz) "Classic" -white', 80, "Mug 12 oz Classic white"),
        ("Wi-Fi 6 Router", 80, "Wi-Fi 6 Router"),
        ("   ", 80, ""),
    ],
    ids=["short", "cut", "exact", "one-long-word", "operators", "hyphen-kept", "blank"],
)
def test_make_query(title: str, limit: int, expected: str) -> None:
    """Titles are cut at a word boundary and lose eBay's operator characters."""
    assert make_query(title, limit) == expected


def test_long_amazon_title_fits_an_ebay_title() -> None:
    """A 200-character Amazon title becomes a query of at most 80 characters."""
    title = " ".join(["Stainless Steel Insulated Water Bottle"] * 6)
    query = make_query(title)
    assert len(query) <= 80
    assert title.startswith(query)
    assert not query.endswith(" ")


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [("0.8:1.2", 0.8, 1.2), ("1.8:2.2", 1.8, 2.2), (" 1 - 3 ", 1.0, 3.0)],
    ids=["default", "markup", "dash-and-spaces"],
)
def test_price_band_parse(text: str, low: float, high: float) -> None:
    """LOW:HIGH parses into a band."""
    assert PriceBand.parse(text) == PriceBand(low, high)


@pytest.mark.parametrize("text", ["1.2:0.8", "0:1", "abc", "1:inf", ""], ids=str)
def test_price_band_rejects_nonsense(text: str) -> None:
    """A band that cannot filter anything is a configuration error with a hint."""
    with pytest.raises(ConfigError) as caught:
        PriceBand.parse(text)
    assert caught.value.hint


def test_price_band_rounds_outward_to_cents() -> None:
    """The band never shrinks by rounding: $19.99 → 15.99 .. 23.99."""
    assert PriceBand().bounds(19.99) == (15.99, 23.99)
    assert PriceBand(1.8, 2.2).bounds(10.0) == (18.0, 22.0)


def test_search_request_url_and_params() -> None:
    """The URL holds the dropshipper filters; api_params follow the seed."""
    request = search_request("A" * 30 + " " + "B" * 30, 25.0, PriceBand(), 2)
    query = parse_qs(urlsplit(request.url).query)
    assert query["_nkw"] == ["A" * 30 + " " + "B" * 30]
    assert query["LH_ItemCondition"] == ["1000"]
    assert query["LH_FS"] == ["1"]
    assert query["LH_PrefLoc"] == ["1"]
    assert (query["_udlo"], query["_udhi"], query["_pgn"]) == (
        ["20.00"],
        ["30.00"],
        ["2"],
    )
    assert request.api_params == {
        "query": ("A" * 30 + " " + "B" * 30)[:50],
        "price_min": 20.0,
        "price_max": 30.0,
        "page": 2,
    }
