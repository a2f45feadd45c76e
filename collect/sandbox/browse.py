"""The eBay Browse API side of the sandbox: tokens, search answers and error bodies.

    POST /identity/v1/oauth2/token              client-credentials grant
    GET  /buy/browse/v1/item_summary/search     q, filter, limit, offset

Search answers come from `synth.search_listings`, the same listings the synthetic
HTML pages show, so a query finds the same sellers through either eBay source (grid
pages excepted: the page hides its sellers, the API does not). Offsets run over the
whole result list, so `limit=60&offset=60` is exactly HTML page 2. The price band in
`filter` is ignored, as the HTML pages ignore `_udlo`/`_udhi`: faults and filters never
change the data. Error bodies have eBay's shape (`errors[]` with `errorId`); the ids
are the ones eBay documents for these cases where we know them, the wording is ours.
No HTTP here: `server` routes requests to these functions.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from collect.sandbox import synth

TOKEN_PATH = "/identity/v1/oauth2/token"
SEARCH_PATH = "/buy/browse/v1/item_summary/search"
SCOPE = "https://api.ebay.com/oauth/api_scope"
# What eBay announces; the sandbox's `token_ttl_s` may make a token die sooner, which
# is how a test gets a 401 with errorId 1001 from a client that trusts `expires_in`.
ANNOUNCED_EXPIRES_IN = 7200
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_OFFSET = 9_999
INVALID_TOKEN = 1001
MISSING_TOKEN = 1002
TOO_MANY_REQUESTS = 2001
BAD_PARAMETER = 12001
INTERNAL_ERROR = 12000


class TokenRegistry:
    """Tokens the sandbox issued and until when each is accepted (thread-safe)."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic):
        self._ttl_s = ttl_s
        self._clock = clock
        self._deadlines: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        token = "v^1.1#i^1#p^1#r^0#I^3#f^0#t^SANDBOX" + secrets.token_urlsafe(48)
        now = self._clock()
        with self._lock:
            self._deadlines = {t: d for t, d in self._deadlines.items() if d > now}
            self._deadlines[token] = now + self._ttl_s
        return token

    def accepts(self, token: str) -> bool:
        with self._lock:
            deadline = self._deadlines.get(token)
        return deadline is not None and self._clock() < deadline


class BadBrowseRequest(Exception):
    """A request eBay refuses with 400; `body` is the answer to send."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.body = body


# --- OAuth ---------------------------------------------------------------------------


def check_token_request(body: bytes) -> None:
    """Validate the form body of a token request, or raise BadBrowseRequest."""
    form = parse_qs(body.decode("utf-8", errors="replace"))
    if form.get("grant_type") != ["client_credentials"]:
        raise BadBrowseRequest(
            oauth_error("unsupported_grant_type", "grant type is not supported")
        )
    scopes = " ".join(form.get("scope", [])).split()
    if SCOPE not in scopes:
        raise BadBrowseRequest(
            oauth_error("invalid_scope", "the requested scope is invalid or unknown")
        )


def token_answer(token: str) -> dict[str, Any]:
    return {
        "access_token": token,
        "expires_in": ANNOUNCED_EXPIRES_IN,
        "token_type": "Application Access Token",
    }


def oauth_error(code: str, description: str) -> dict[str, Any]:
    """The identity service answers in RFC 6749's shape, not in `errors[]`."""
    return {"error": code, "error_description": description}


# --- search --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrowseQuery:
    q: str
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def parse_search_query(query_string: str) -> BrowseQuery:
    """The validated query parameters of a search, or raise BadBrowseRequest."""
    params = parse_qs(query_string)
    q = params.get("q", [""])[0].strip()
    if not q:
        raise BadBrowseRequest(
            error_body(BAD_PARAMETER, "API_BROWSE", "REQUEST", "A keyword is required.")
        )
    limit = _bounded(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _bounded(params, "offset", 0, 0, MAX_OFFSET)
    return BrowseQuery(q, limit, offset)


def _bounded(
    params: dict[str, list[str]], name: str, default: int, low: int, high: int
) -> int:
    text = params.get(name, [str(default)])[0]
    if not text.isdigit() or not low <= int(text) <= high:
        raise BadBrowseRequest(
            error_body(
                BAD_PARAMETER,
                "API_BROWSE",
                "REQUEST",
                f"The '{name}' value must be a whole number from {low} to {high}.",
            )
        )
    return int(text)


def search_answer(
    seed: int, query: BrowseQuery, config: synth.SynthSettings, base_url: str
) -> dict[str, Any]:
    """One page of a synthetic search, shaped like `item_summary/search` answers."""
    listings = synth.search_listings(seed, query.q, config)
    total = len(listings)
    window = listings[query.offset : query.offset + query.limit]
    answer: dict[str, Any] = {
        "href": _page_href(base_url, query, query.offset),
        "total": total,
    }
    if query.offset + query.limit < total:
        answer["next"] = _page_href(base_url, query, query.offset + query.limit)
    if query.offset > 0:
        answer["prev"] = _page_href(base_url, query, max(0, query.offset - query.limit))
    answer["limit"] = query.limit
    answer["offset"] = query.offset
    if window:
        # eBay leaves the list out, rather than sending it empty, past the end.
        answer["itemSummaries"] = [_item(base_url, listing) for listing in window]
    return answer


def empty_answer(query: BrowseQuery, base_url: str) -> dict[str, Any]:
    return {
        "href": _page_href(base_url, query, query.offset),
        "total": 0,
        "limit": query.limit,
        "offset": query.offset,
    }


def _page_href(base_url: str, query: BrowseQuery, offset: int) -> str:
    params = urlencode({"q": query.q, "limit": query.limit, "offset": offset})
    return f"{base_url}{SEARCH_PATH}?{params}"


def _item(base_url: str, listing: synth.Listing) -> dict[str, Any]:
    item_id = f"v1|{listing.item_id}|0"
    seller = listing.seller
    item: dict[str, Any] = {
        "itemId": item_id,
        "title": listing.title,
        "price": _price(listing),
        "itemHref": f"{base_url}/buy/browse/v1/item/{quote(item_id, safe='')}",
    }
    if seller is not None:
        item["seller"] = {
            "username": seller.name,
            "feedbackPercentage": f"{seller.feedback_percent:.1f}",
            "feedbackScore": seller.feedback_count,
        }
    item.update(
        {
            "condition": "New",
            "conditionId": "1000",
            "shippingOptions": [
                {
                    "shippingCostType": "FIXED",
                    "shippingCost": {"value": "0.00", "currency": "USD"},
                }
            ],
            "buyingOptions": ["FIXED_PRICE"],
            "itemWebUrl": f"https://www.ebay.com/itm/{listing.item_id}",
            "itemLocation": {"postalCode": "9****", "country": "US"},
            "legacyItemId": listing.item_id,
            "listingMarketplaceId": "EBAY_US",
        }
    )
    return item


def _price(listing: synth.Listing) -> dict[str, str]:
    price = {"value": f"{listing.price:.2f}", "currency": "USD"}
    # A share of sellers list in pounds; eBay converts and says from what.
    if int(listing.item_id) % 17 == 0:
        price["convertedFromValue"] = f"{listing.price * 0.79:.2f}"
        price["convertedFromCurrency"] = "GBP"
    return price


# --- errors --------------------------------------------------------------------------


def error_body(
    error_id: int, domain: str, category: str, message: str, long_message: str = ""
) -> dict[str, Any]:
    error = {
        "errorId": error_id,
        "domain": domain,
        "category": category,
        "message": message,
    }
    if long_message:
        error["longMessage"] = long_message
    return {"errors": [error]}


def invalid_token_body() -> dict[str, Any]:
    return error_body(
        INVALID_TOKEN,
        "OAuth",
        "REQUEST",
        "Invalid access token",
        "The access token is invalid or has expired; ask for a new one.",
    )


def missing_token_body() -> dict[str, Any]:
    return error_body(
        MISSING_TOKEN,
        "OAuth",
        "REQUEST",
        "Missing access token",
        "Send the access token in the Authorization header as 'Bearer <token>'.",
    )


def too_many_requests_body() -> dict[str, Any]:
    return error_body(
        TOO_MANY_REQUESTS,
        "ACCESS",
        "REQUEST",
        "Too many requests.",
        "The call limit for this resource has been reached.",
    )


def internal_error_body() -> dict[str, Any]:
    return error_body(
        INTERNAL_ERROR,
        "API_BROWSE",
        "APPLICATION",
        "The Browse service failed to process the request.",
    )


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if that is what it is."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
