"""Parsers: plain functions from an answer's bytes or JSON to `collect.models` values.

No parser does I/O. Each raises only the project's own errors (ParseError and its
subclass EmptyCategory, Blocked, FaultedJob), whatever the input.

    ebay_html   eBay search-result pages (HTML) -> SearchPage
    browse      eBay Browse API search answers -> SearchPage
    amazon      Oxylabs parsed best-seller content -> BestSellersPage; price cleaning
    oxylabs     the Oxylabs envelope -> OxylabsResult (or FaultedJob)
    detect      any of the above, recognised by content (`collect parse FILE`)
"""

from collect.parsers.amazon import clean_text, parse_bestsellers, parse_price
from collect.parsers.browse import parse_browse_search
from collect.parsers.detect import Parsed, detect_and_parse
from collect.parsers.ebay_html import looks_blocked, parse_search_page
from collect.parsers.oxylabs import OxylabsResult, unwrap_result

__all__ = [
    "OxylabsResult",
    "Parsed",
    "clean_text",
    "detect_and_parse",
    "looks_blocked",
    "parse_bestsellers",
    "parse_browse_search",
    "parse_price",
    "parse_search_page",
    "unwrap_result",
]
