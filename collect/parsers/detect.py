"""Recognise a saved answer or page by its content and run the matching parser.

This backs `collect parse FILE`, which a user runs to see why a page gave no
sellers: the file may be an eBay page saved from a browser, an Oxylabs answer
(HTML or parsed best sellers inside), a Browse API answer or a best-seller list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from collect.errors import EmptyCategory, ParseError
from collect.models import (
    BestSellersPage,
    Product,
    RejectedProduct,
    SearchPage,
    SellerSighting,
)
from collect.parsers.amazon import PRODUCT_KEYS, parse_bestsellers
from collect.parsers.browse import parse_browse_search
from collect.parsers.ebay_html import parse_search_page
from collect.parsers.oxylabs import unwrap_result

KINDS = (
    "ebay_page",
    "oxylabs_ebay_page",
    "oxylabs_bestsellers",
    "browse_search",
    "bestsellers",
)
RECOGNISED = (
    "recognised: an eBay search page (HTML), an Oxylabs answer holding an eBay page "
    "or parsed best sellers, an eBay Browse API search answer, a best-seller list"
)
_BROWSE_KEYS = ("itemSummaries", "errors")
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one file held; `page` is set for eBay kinds, `products` for Amazon."""

    kind: str
    sightings: list[SellerSighting] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    rejected: list[RejectedProduct] = field(default_factory=list)
    page: SearchPage | None = None


def detect_and_parse(data: bytes) -> Parsed:
    """Parse `data` with the parser its content calls for.

    Raises Blocked for a bot-check page, FaultedJob for a failed Oxylabs job,
    EmptyCategory for an empty best-seller node and ParseError for anything else.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ParseError(f"expected bytes, got {type(data).__name__}; {RECOGNISED}")
    head = bytes(data[:4096]).removeprefix(_UTF8_BOM).lstrip()
    if head[:1] in (b"{", b"["):
        return _parse_json(_load_json(data))
    if head[:1] == b"<":
        return _ebay_page("ebay_page", bytes(data))
    raise ParseError(f"neither HTML nor JSON; {RECOGNISED}")


def _load_json(data: bytes | bytearray | memoryview) -> Any:
    try:
        return orjson.loads(bytes(data).removeprefix(_UTF8_BOM))
    except orjson.JSONDecodeError as exc:
        raise ParseError(
            f"looks like JSON but does not parse ({exc}); {RECOGNISED}", stage="api"
        ) from exc


def _parse_json(answer: Any) -> Parsed:
    if isinstance(answer, list):
        return _bestsellers("bestsellers", answer)
    if not isinstance(answer, Mapping):
        raise ParseError(f"a bare JSON {type(answer).__name__}; {RECOGNISED}")
    if any(key in answer for key in _BROWSE_KEYS) or {"href", "total"} <= answer.keys():
        page = parse_browse_search(answer)
        return Parsed("browse_search", sightings=page.sightings, page=page)
    if _is_oxylabs(answer):
        return _oxylabs(answer)
    if any(key in answer for key in PRODUCT_KEYS):
        return _bestsellers("bestsellers", answer)
    raise ParseError(f"a JSON object of no known kind; {RECOGNISED}")


def _is_oxylabs(answer: Mapping[str, Any]) -> bool:
    results = answer.get("results")
    if isinstance(results, list):
        first = results[0] if results else None
        return isinstance(first, Mapping) and "content" in first
    # A lone result entry, or an error body such as {"message": "..."}.
    return ("content" in answer and "status_code" in answer) or "message" in answer


def _oxylabs(answer: Mapping[str, Any]) -> Parsed:
    result = unwrap_result(answer)
    if isinstance(result.content, str):
        return _ebay_page("oxylabs_ebay_page", result.content)
    return _bestsellers("oxylabs_bestsellers", result.content)


def _ebay_page(kind: str, html: bytes | str) -> Parsed:
    try:
        page = parse_search_page(html)
    except ParseError as exc:
        raise ParseError(f"{exc}; {RECOGNISED}", stage=exc.error_stage) from exc
    return Parsed(kind, sightings=page.sightings, page=page)


def _bestsellers(kind: str, content: Any) -> Parsed:
    try:
        pages = _bestseller_pages(content)
    except EmptyCategory:
        raise
    except ParseError as exc:
        raise ParseError(f"{exc}; {RECOGNISED}", stage=exc.error_stage) from exc
    return Parsed(
        kind,
        products=[p for page in pages for p in page.products],
        rejected=[r for page in pages for r in page.rejected],
    )


def _bestseller_pages(content: Any) -> list[BestSellersPage]:
    if _is_category_list(content):
        # [{"category": ..., "items": [...]}, ...]: several lists in one file.
        return [parse_bestsellers(entry) for entry in content]
    return [parse_bestsellers(content, _node_id(content))]


def _is_category_list(content: object) -> bool:
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(e, Mapping) and "items" in e for e in content)
    )


def _node_id(content: object) -> str:
    """Oxylabs echoes the node id it was asked for in `query`."""
    query = content.get("query") if isinstance(content, Mapping) else None
    return query if isinstance(query, str) and query.isdigit() else ""
