"""eBay Browse API search answers: sellers, prices, paging and API errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from collect.errors import ParseError
from collect.models import SellerSighting
from collect.parsers.browse import parse_browse_search


def _body(samples: Path, name: str) -> bytes:
    return (samples / "ebay-browse-api" / name).read_bytes()


def _item(**fields: object) -> dict[str, object]:
    item: dict[str, object] = {
        "itemId": "v1|111122223333|0",
        "title": "Phone",
        "price": {"value": "10.00", "currency": "USD"},
        "seller": {
            "username": "seller1",
            "feedbackPercentage": "99.9",
            "feedbackScore": 10,
        },
    }
    item.update(fields)
    return item


def _answer(*items: object, **fields: object) -> dict[str, object]:
    answer = {"href": "https://api.ebay.com/x", "total": len(items), **fields}
    return {**answer, "itemSummaries": list(items)}


def test_iphone_sample(samples: Path) -> None:
    """The recorded 100-item answer: 100 sightings from 38 sellers, more pages."""
    result = parse_browse_search(_body(samples, "search-iphone-100.json"))
    assert (
        result.listings,
        len(result.sightings),
        result.unique_sellers,
        result.skipped,
        result.has_next,
    ) == (100, 100, 38, 0, True)
    assert result.sightings[0] == SellerSighting(
        seller="cocosprinkles",
        feedback_percent=99.9,
        feedback_count=31327,
        item_id="334691749565",
        title="2020 Apple iPhone SE 2nd Gen (Great Condition) Unlocked Verizon "
        "ATT TMobile",
        price=189.99,
        currency="USD",
    )


def test_iphone_sample_zero_feedback(samples: Path) -> None:
    """ "0.0" with score 0 is a new seller's real feedback, not a missing value."""
    result = parse_browse_search(_body(samples, "search-iphone-100.json"))
    zero = [s for s in result.sightings if s.seller == "zaloc_3"]
    assert {(s.feedback_percent, s.feedback_count) for s in zero} == {(0.0, 0)}


def test_docs_sample_masked_names(samples: Path) -> None:
    """eBay's masked documentation sample keeps names like `m********e` as given."""
    result = parse_browse_search(_body(samples, "search-docs-sample.json"))
    assert [s.seller for s in result.sightings] == [
        "m********e",
        "m********e",
        "epadronics",
    ]
    assert (result.listings, result.unique_sellers, result.has_next) == (3, 2, True)


def test_invalid_token_sample(samples: Path) -> None:
    """errorId 1001 is a ParseError at stage api carrying eBay's message."""
    with pytest.raises(ParseError) as caught:
        parse_browse_search(_body(samples, "error-1001-invalid-token.json"))
    assert caught.value.error_stage == "api"
    assert str(caught.value) == "eBay Browse API error 1001: Invalid access token"
    assert caught.value.hint is not None and "Authorization" in caught.value.hint


def test_token_answer_is_not_a_search(samples: Path) -> None:
    """The OAuth token answer is refused, and the token is not quoted."""
    with pytest.raises(ParseError) as caught:
        parse_browse_search(_body(samples, "oauth-token-response.json"))
    assert "v^1.1" not in str(caught.value)


@pytest.mark.parametrize(
    "item",
    [
        _item(seller=None),
        {k: v for k, v in _item().items() if k != "seller"},
        _item(seller={"username": "  \u200b"}),
        _item(seller="seller1"),
        "not an item",
    ],
    ids=["null-seller", "no-seller", "blank-name", "seller-not-object", "string"],
)
def test_items_without_seller_are_skipped(item: object) -> None:
    """An item that names no seller is counted in `skipped`."""
    result = parse_browse_search(_answer(item, _item()))
    assert (result.listings, len(result.sightings), result.skipped) == (2, 1, 1)


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ({"value": "189.99", "currency": "USD"}, (189.99, "USD")),
        (
            {
                "value": "150.00",
                "currency": "EUR",
                "convertedFromValue": "162.30",
                "convertedFromCurrency": "USD",
            },
            (162.3, "USD"),
        ),
        (
            {
                "value": "162.30",
                "currency": "USD",
                "convertedFromValue": "150.00",
                "convertedFromCurrency": "EUR",
            },
            (162.3, "USD"),
        ),
        ({"value": "150.00", "currency": "GBP"}, (150.0, "GBP")),
    ],
    ids=["usd", "converted-from-usd", "converted-to-usd", "gbp"],
)
def test_price_prefers_usd(
    price: object, expected: tuple[float | None, str | None]
) -> None:
    """Of a converted price, the USD side is stored."""
    (sighting,) = parse_browse_search(_answer(_item(price=price))).sightings
    assert (sighting.price, sighting.currency) == expected


@pytest.mark.parametrize(
    "price",
    [{"value": "N/A", "currency": "USD"}, None, {"currency": "USD"}],
    ids=["n/a", "none", "no-value"],
)
def test_items_without_a_usable_price_are_skipped_and_counted(price: object) -> None:
    """An item whose price cannot be compared with Amazon's is skipped, counted."""
    page = parse_browse_search(_answer(_item(price=price)))
    assert (page.sightings, page.skipped, page.listings) == ([], 1, 1)


@pytest.mark.parametrize(
    ("percent", "score", "expected"),
    [
        ("99.9", 31327, (99.9, 31327)),
        ("0.0", 0, (0.0, 0)),
        ("100", "1234", (100.0, 1234)),
        ("bogus", None, (None, None)),
        ("101", True, (None, None)),
        (None, 1.5, (None, None)),
    ],
    ids=["usual", "zero", "int-string", "bogus", "out-of-range", "missing"],
)
def test_feedback_values(
    percent: object, score: object, expected: tuple[float | None, int | None]
) -> None:
    """Feedback strings and numbers are read; nonsense becomes None."""
    seller = {"username": "s", "feedbackPercentage": percent, "feedbackScore": score}
    (sighting,) = parse_browse_search(_answer(_item(seller=seller))).sightings
    assert (sighting.feedback_percent, sighting.feedback_count) == expected


def test_legacy_item_id_preferred() -> None:
    """`legacyItemId`, when sent, is the id of the /itm/ link."""
    item = _item(legacyItemId="998877665544")
    (sighting,) = parse_browse_search(_answer(item)).sightings
    assert sighting.item_id == "998877665544"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"next": "https://api.ebay.com/next"}, True),
        ({"next": ""}, False),
        ({"offset": 0, "limit": 1, "total": 5}, True),
        ({"offset": 4, "limit": 1, "total": 5}, False),
        ({"offset": "0", "limit": 1, "total": 5}, False),
        ({}, False),
    ],
    ids=[
        "next-link",
        "empty-next",
        "more-by-count",
        "last-by-count",
        "bad-ints",
        "none",
    ],
)
def test_has_next(fields: dict[str, object], expected: bool) -> None:
    """The `next` link decides; without it, offset + limit < total."""
    answer = {"href": "x", "itemSummaries": [_item()], **fields}
    assert parse_browse_search(answer).has_next is expected


def test_zero_results_answer() -> None:
    """eBay leaves out itemSummaries when nothing matched: an empty page."""
    result = parse_browse_search(b'{"href": "x", "total": 0, "limit": 50, "offset": 0}')
    assert (result.listings, result.sightings, result.has_next) == (0, [], False)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>error</html>",
        b'{"itemSummaries": [',
        b"[]",
        b'{"foo": 1}',
        b'{"href": "x", "itemSummaries": {"a": 1}}',
        b'{"errors": [{"errorId": 12001}]}',
        b'{"errors": ["odd"]}',
        b"\xff\xfe",
    ],
    ids=[
        "empty",
        "html",
        "truncated",
        "list",
        "other-object",
        "summaries-not-list",
        "error-no-message",
        "error-not-object",
        "invalid-utf8",
    ],
)
def test_bad_bodies(body: bytes) -> None:
    """Anything that is not a search answer is a ParseError at stage api."""
    with pytest.raises(ParseError) as caught:
        parse_browse_search(body)
    assert caught.value.error_stage == "api"


def test_name_cleaned_of_invisible_characters() -> None:
    """Zero-width and control characters are stripped from API names too."""
    seller = {"username": "\u200bsel\x00ler\ufeff", "feedbackScore": 1}
    (sighting,) = parse_browse_search(_answer(_item(seller=seller))).sightings
    assert sighting.seller == "seller"


def test_bytes_and_dict_agree(samples: Path) -> None:
    """Raw bytes and decoded JSON give the same page."""
    body = _body(samples, "search-docs-sample.json")
    assert parse_browse_search(body) == parse_browse_search(orjson.loads(body))
