"""The eBay search a product turns into: its query, price band and result-page URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from collect.settings import PriceBand

EBAY_SEARCH_URL = "https://www.ebay.com/sch/i.html"
RESULTS_PER_PAGE = 60

# Dropshipper filters: new condition, free shipping, located in the US.
_FILTERS = {"LH_ItemCondition": "1000", "LH_FS": "1", "LH_PrefLoc": "1"}


def make_query(title: str, max_chars: int = 80) -> str:
    """Cut a title at a word boundary to at most `max_chars` characters.

    eBay titles are at most 80 characters, so the tail of a long Amazon title only
    narrows the match to nothing. Punctuation eBay treats as operators is dropped.
    """
    words = _OPERATORS.sub(" ", title).split()
    query = ""
    for word in words:
        candidate = f"{query} {word}" if query else word
        if len(candidate) > max_chars:
            break
        query = candidate
    return query or (words[0][:max_chars] if words else "")


# eBay reads -word as exclusion and (a,b) as alternatives; quotes force exact phrases.
_OPERATORS = re.compile(r"[()\"]|(?:^|\s)-(?=\S)")


@dataclass(frozen=True)
class SearchRequest:
    """One result page of one product's eBay search."""

    query: str
    price_min: float
    price_max: float
    page: int

    @property
    def api_params(self) -> dict[str, object]:
        return {
            "query": self.query[:50],
            "price_min": self.price_min,
            "price_max": self.price_max,
            "page": self.page,
        }

    @property
    def url(self) -> str:
        params = {
            "_nkw": self.query,
            "_sacat": "0",
            **_FILTERS,
            "_udlo": f"{self.price_min:.2f}",
            "_udhi": f"{self.price_max:.2f}",
            "_ipg": str(RESULTS_PER_PAGE),
            "_pgn": str(self.page),
        }
        return f"{EBAY_SEARCH_URL}?{urlencode(params)}"


def search_request(
    title: str, price: float, band: PriceBand, page: int, max_chars: int = 80
) -> SearchRequest:
    low, high = band.bounds(price)
    return SearchRequest(make_query(title, max_chars), low, high, page)
