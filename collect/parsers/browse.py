"""eBay Browse API `item_summary/search` answers: one seller sighting per item.

The API gives what the HTML page shows, as JSON: `seller.username`,
`seller.feedbackPercentage` (a string such as "99.9") and `seller.feedbackScore`
(an integer). Items without a seller are counted in `skipped`. An answer with an
`errors` list (an expired token is errorId 1001) raises ParseError carrying eBay's
own message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collect.errors import ParseError
from collect.models import SearchPage, SellerSighting
from collect.parsers.amazon import clean_text, parse_price
from collect.parsers.jsonbody import load_object

# The USD figure is kept: the price band compares against Amazon's USD price.
_HOME_CURRENCY = "USD"
_MAX_QUOTED = 200


def parse_browse_search(body: bytes | dict) -> SearchPage:
    """Seller sightings of one Browse API search answer."""
    answer = load_object(body, "Browse API")
    _raise_api_errors(answer)
    if not any(key in answer for key in ("itemSummaries", "total", "href")):
        raise ParseError("not an eBay Browse API search answer", stage="api")

    items = answer.get("itemSummaries") or []
    if not isinstance(items, list):
        raise ParseError("Browse API itemSummaries is not a list", stage="api")
    sightings = [s for item in items if (s := _read_item(item)) is not None]
    return SearchPage(
        sightings=sightings,
        listings=len(items),
        has_next=_has_next(answer),
        skipped=len(items) - len(sightings),
    )


def _raise_api_errors(answer: Mapping[str, Any]) -> None:
    errors = answer.get("errors")
    if not isinstance(errors, list) or not errors:
        return
    first = errors[0] if isinstance(errors[0], Mapping) else {}
    error_id = first.get("errorId")
    message = clean_text(first.get("message"))[:_MAX_QUOTED] or "no message"
    raise ParseError(
        f"eBay Browse API error {error_id}: {message}",
        stage="api",
        hint=clean_text(first.get("longMessage"))[:_MAX_QUOTED] or None,
    )


def _read_item(item: object) -> SellerSighting | None:
    if not isinstance(item, Mapping):
        return None
    seller = item.get("seller")
    if not isinstance(seller, Mapping):
        return None
    name = clean_text(seller.get("username"))
    if not name:
        return None
    price, currency = _usd_price(item.get("price"))
    if price is None:
        # An auction without a fixed price, or an unreadable one: not comparable
        # with the Amazon price, so skipped and counted like an item with no seller.
        return None
    return SellerSighting(
        seller=name,
        feedback_percent=_percent(seller.get("feedbackPercentage")),
        feedback_count=_count(seller.get("feedbackScore")),
        item_id=_item_id(item),
        title=clean_text(item.get("title")) or None,
        price=price,
        currency=currency,
    )


def _usd_price(price: object) -> tuple[float | None, str | None]:
    """The USD side of a price that eBay may have converted.

    `value`/`currency` is the marketplace's currency and `convertedFromValue`/
    `convertedFromCurrency` the seller's original; whichever side is in USD wins.
    """
    if not isinstance(price, Mapping):
        return None, None
    original = {
        "value": price.get("convertedFromValue"),
        "currency": price.get("convertedFromCurrency"),
    }
    shown = {"value": price.get("value"), "currency": price.get("currency")}
    for side in (shown, original):
        if side["currency"] == _HOME_CURRENCY and parse_price(side)[0] is not None:
            return parse_price(side)
    return parse_price(shown)


def _percent(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        percent = float(clean_text(value) if isinstance(value, str) else value)
    except ValueError:
        return None
    return percent if 0 <= percent <= 100 else None


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = clean_text(value)
    return int(text) if text.isdecimal() and len(text) < 20 else None


def _item_id(item: Mapping[str, Any]) -> str | None:
    """The legacy numeric id, as in the /itm/ links of the HTML pages."""
    legacy = clean_text(item.get("legacyItemId"))
    if legacy:
        return legacy
    # "v1|334691749565|543843548440": the middle part is the listing.
    parts = clean_text(item.get("itemId")).split("|")
    return parts[1] if len(parts) >= 2 and parts[1] else None


def _has_next(answer: Mapping[str, Any]) -> bool:
    if "next" in answer:
        return bool(answer.get("next"))
    offset, limit, total = (answer.get(k) for k in ("offset", "limit", "total"))
    if all(
        isinstance(n, int) and not isinstance(n, bool) for n in (offset, limit, total)
    ):
        return offset + limit < total
    return False
