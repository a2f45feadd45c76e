"""Best-seller parsing and the price and text cleaning shared by all parsers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from collect.errors import EmptyCategory, ParseError
from collect.models import Product, RejectedProduct
from collect.parsers.amazon import (
    NO_ASIN,
    NO_PRICE,
    NO_TITLE,
    clean_text,
    parse_bestsellers,
    parse_price,
)


def _content(samples: Path, name: str) -> dict[str, Any]:
    answer = json.loads((samples / "oxylabs" / name).read_text())
    return answer["results"][0]["content"]


def _entry(**fields: object) -> dict[str, object]:
    return {"pos": 1, "asin": "B0F6V8RDYM", "title": "A bra", **fields}


# -- parse_price --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (18.98, (18.98, None)),
        (5, (5.0, None)),
        ("$1,299.99", (1299.99, "USD")),
        ("$18.98", (18.98, "USD")),
        ("$12.99 - $24.99", (12.99, "USD")),
        ("$10.44 to $15.96", (10.44, "USD")),
        ("US $5.59", (5.59, "USD")),
        ("C $7.00", (7.0, "CAD")),
        ("£3", (3.0, "GBP")),
        ("€4,50", (4.5, "EUR")),
        ("12,99 €", (12.99, "EUR")),
        ("1.299,99 €", (1299.99, "EUR")),
        ("EUR 12,99", (12.99, "EUR")),
        ("IDR1,196,065.67", (1196065.67, "IDR")),
        ("12.99 USD", (12.99, "USD")),
        ("12.99 and up", (12.99, None)),
        ("from $5", (5.0, "USD")),
        ("\u200b$4.99\u200b", (4.99, "USD")),
        (
            {"symbol": "$", "value": 19.49, "currency": "USD", "raw": "$19.49"},
            (19.49, "USD"),
        ),
        ({"value": "59.99", "currency": "USD"}, (59.99, "USD")),
        ({"symbol": "£", "value": 7}, (7.0, "GBP")),
        ({"raw": "€4,50"}, (4.5, "EUR")),
    ],
    ids=lambda value: repr(value)[:30],
)
def test_usable_prices(raw: object, expected: tuple[float, str | None]) -> None:
    """Every shape a price arrives in gives its amount (the low end) and currency."""
    assert parse_price(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        0,
        0.0,
        "",
        "   ",
        "N/A",
        "0",
        "$0.00",
        "-5",
        "$-5",
        -3.0,
        True,
        False,
        float("nan"),
        float("inf"),
        float("-inf"),
        10**400,
        "9" * 200,
        [18.98],
        {"value": None},
        {"value": 0, "currency": "USD"},
        {},
        object(),
    ],
    ids=lambda value: repr(value)[:20],
)
def test_unusable_prices(raw: object) -> None:
    """Missing, zero, negative, non-finite and non-price values give (None, None)."""
    assert parse_price(raw) == (None, None)


# -- clean_text -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  a   b\n\tc ", "a b c"),
        ("a\u200bb\u200c\u200d\ufeff", "ab"),
        ("a\x00b\x1fc\x7fd\x85e", "abcde"),
        ("Shirt™ – 2 Pack®", "Shirt™ – 2 Pack®"),
        ("a\ud800b", "ab"),
        (None, ""),
        (42, ""),
    ],
    ids=[
        "whitespace",
        "zero-width",
        "control",
        "symbols-kept",
        "surrogate",
        "none",
        "int",
    ],
)
def test_clean_text(raw: object, expected: str) -> None:
    """Text loses invisible characters and extra whitespace, and nothing else."""
    assert clean_text(raw) == expected


# -- the assembled Oxylabs pages ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "node_id", "products", "rejected"),
    [
        ("assembled-bestsellers-1040660.json", "1040660", 25, 5),
        ("assembled-bestsellers-1040658.json", "1040658", 12, 18),
    ],
    ids=["womens-5-no-price-key", "mens-18-price-0"],
)
def test_assembled_samples(
    samples: Path, name: str, node_id: str, products: int, rejected: int
) -> None:
    """Products without a usable price are rejected, the others all kept."""
    result = parse_bestsellers(_content(samples, name), node_id)
    assert (len(result.products), len(result.rejected)) == (products, rejected)
    assert {r.reason for r in result.rejected} == {NO_PRICE}
    assert {p.node_id for p in result.products} == {node_id}
    assert {p.currency for p in result.products} == {"USD"}
    positions = [p.position for p in result.products + result.rejected]
    assert sorted(positions) == list(range(1, 31))


def test_assembled_first_product(samples: Path) -> None:
    """The first product is read field by field."""
    result = parse_bestsellers(
        _content(samples, "assembled-bestsellers-1040660.json"), "1040660"
    )
    assert result.products[0] == Product(
        asin="B0F6V8RDYM",
        title=(
            "LetsJoli Bras for Women Supportive Wireless Push Up Bra Full Coverage "
            "No Underwire Seamless Plus Size for Older Women"
        ),
        price=18.98,
        currency="USD",
        position=1,
        node_id="1040660",
    )


def test_missing_price_key_is_rejected_with_raw_none(samples: Path) -> None:
    """The 7th women's product has no price key: rejected, raw price None."""
    result = parse_bestsellers(_content(samples, "assembled-bestsellers-1040660.json"))
    assert result.rejected[0] == RejectedProduct(
        asin="B075ZZ7XKD",
        title="Gildan Adult Ultra Cotton T-Shirt, Style G2000, Multipack",
        raw_price=None,
        reason=NO_PRICE,
        position=7,
    )


def test_zero_price_keeps_raw_value(samples: Path) -> None:
    """A price of 0 is rejected and the 0 is kept for the report."""
    result = parse_bestsellers(_content(samples, "assembled-bestsellers-1040658.json"))
    assert {r.raw_price for r in result.rejected} == {0}


def test_rainforest_price_objects(samples: Path) -> None:
    """Another vendor's `bestsellers` list with `{symbol, value, currency}` prices."""
    answer = json.loads(
        (samples / "amazon" / "rainforest-bestsellers-sample.json").read_text()
    )
    result = parse_bestsellers(answer)
    first = answer["bestsellers"][0]
    assert result.products[0] == Product(
        first["asin"], first["title"], 19.49, "USD", 1, ""
    )
    assert len(result.products) + len(result.rejected) == len(answer["bestsellers"])


def test_category_lists_without_prices(samples: Path) -> None:
    """Lists with no prices at all reject every product, naming the category."""
    categories = json.loads(
        (samples / "amazon" / "bestsellers-6-categories-no-prices.json").read_text()
    )
    result = parse_bestsellers(categories[0])
    assert (len(result.products), len(result.rejected)) == (0, 6)
    assert result.category_name == "Home & Kitchen"


# -- lenient shapes and rejects -------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        {"results": [_entry(price=9.99)]},
        {"results": {"organic": [_entry(price=9.99)], "paid": []}},
        {"bestsellers": [_entry(price=9.99)]},
        {"products": [_entry(price=9.99)]},
        [_entry(price=9.99)],
    ],
    ids=["results", "results.organic", "bestsellers", "products", "bare-list"],
)
def test_product_list_keys(content: object) -> None:
    """The product list is found under each key vendors use for it."""
    (product,) = parse_bestsellers(content, "42").products  # type: ignore[arg-type]
    assert (product.asin, product.price, product.node_id) == ("B0F6V8RDYM", 9.99, "42")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (_entry(price=9.99, asin=""), NO_ASIN),
        ({"pos": 1, "title": "t", "price": 9.99}, NO_ASIN),
        (_entry(price=9.99, asin="not-an-asin"), NO_ASIN),
        (_entry(price=9.99, title="  \u200b "), NO_TITLE),
        (_entry(price=9.99, title=None), NO_TITLE),
        (_entry(price="N/A"), NO_PRICE),
        (_entry(price=""), NO_PRICE),
        (_entry(price=None), NO_PRICE),
        (_entry(price=True), NO_PRICE),
        (_entry(price=-1), NO_PRICE),
    ],
    ids=[
        "empty-asin",
        "no-asin",
        "bad-asin",
        "blank-title",
        "null-title",
        "N/A",
        "empty-string",
        "null",
        "bool",
        "negative",
    ],
)
def test_rejected_entries(entry: dict[str, object], reason: str) -> None:
    """A product that cannot be searched is rejected with the reason why."""
    content = {"results": [entry, _entry(price=1.0, asin="B000000001")]}
    result = parse_bestsellers(content)
    assert [r.reason for r in result.rejected] == [reason]
    assert len(result.products) == 1


@pytest.mark.parametrize(
    ("entry", "currency"),
    [
        (_entry(price="£12.00", currency="USD"), "USD"),
        (_entry(price="£12.00"), "GBP"),
        (_entry(price=12.0), None),
        (_entry(price=12.0, currency="bogus"), None),
    ],
    ids=["field-wins", "from-symbol", "unknown", "bad-field"],
)
def test_product_currency(entry: dict[str, object], currency: str | None) -> None:
    """Currency comes from the product field, else the price's symbol, else None."""
    (product,) = parse_bestsellers({"results": [entry]}).products
    assert product.currency == currency


def test_position_falls_back_to_list_order() -> None:
    """Entries without `pos` get their place in the list."""
    entries = [
        {"asin": f"B00000000{i}", "title": "t", "price": 1.0} for i in range(1, 4)
    ]
    result = parse_bestsellers({"results": entries})
    assert [p.position for p in result.products] == [1, 2, 3]


def test_non_dict_entries_are_rejected() -> None:
    """Stray values in the list are reported, not silently dropped."""
    result = parse_bestsellers({"results": ["...", _entry(price=1.0)]})
    assert (len(result.products), len(result.rejected)) == (1, 1)


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Amazon Best Sellers: Best Women's Clothing", "Women's Clothing"),
        ("Best Sellers in Home & Kitchen", "Home & Kitchen"),
        ("Bestway Pools", "Bestway Pools"),
    ],
    ids=["amazon-title", "best-sellers-in", "not-a-prefix"],
)
def test_category_name(title: str, name: str) -> None:
    """The category name is the page title without Amazon's prefix."""
    result = parse_bestsellers({"title": title, "results": [_entry(price=1.0)]})
    assert result.category_name == name


# -- empty categories and wrong content -------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        {
            "title": "Amazon Best Sellers: Best undefined",
            "results": [_entry(price=1.0)],
        },
        {"title": "Best undefined", "results": []},
        {"results": []},
        {"results": {"organic": []}},
        [],
    ],
    ids=[
        "best-undefined",
        "undefined-and-empty",
        "no-products",
        "organic-empty",
        "bare",
    ],
)
def test_empty_category(content: object) -> None:
    """A node Amazon does not know, or with no products, is an EmptyCategory."""
    with pytest.raises(EmptyCategory) as caught:
        parse_bestsellers(content, "262613011")  # type: ignore[arg-type]
    assert caught.value.error_stage == "product_extraction"
    assert "262613011" in str(caught.value)


@pytest.mark.parametrize(
    "content",
    [
        "<html></html>",
        None,
        42,
        {"url": "https://www.amazon.com/"},
        {"results": "oops"},
        {"results": [{"pos": 1, "title": "no asin anywhere"}]},
        {"results": [{"content": {}, "job_id": "1", "status_code": 200}]},
        [1, 2, 3],
    ],
    ids=[
        "html-string",
        "none",
        "int",
        "no-list",
        "list-not-a-list",
        "no-asins",
        "envelope",
        "numbers",
    ],
)
def test_not_a_product_list(content: object) -> None:
    """Content without a product list is a ParseError at product_extraction."""
    with pytest.raises(ParseError) as caught:
        parse_bestsellers(content)  # type: ignore[arg-type]
    assert not isinstance(caught.value, EmptyCategory)
    assert caught.value.error_stage == "product_extraction"
