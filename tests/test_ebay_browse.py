"""The Browse API client: request shape, token renewal, errors and the daily budget.

HTTP goes to a `responses` mock; nothing leaves the process except in the budget test,
which spawns processes that only share a file.
"""

from __future__ import annotations

import base64
import multiprocessing
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
import requests
import responses

from collect.errors import ConfigError, FetchError, HttpError, ParseError, RateLimited
from collect.providers.ebay_browse import (
    SCOPE,
    BrowseClient,
    DailyBudget,
    DailyBudgetExhausted,
    TokenRejected,
    browse_filter,
    browse_url,
    budget_path,
)
from collect.providers.token import SharedToken
from collect.search import SearchRequest
from collect.settings import Credentials

SPAWN = multiprocessing.get_context("spawn")
BASE = "https://api.ebay.test"
TOKEN_URL = f"{BASE}/identity/v1/oauth2/token"
SEARCH_URL = f"{BASE}/buy/browse/v1/item_summary/search"
CREDENTIALS = Credentials("client-id", "client-secret")
REQUEST = SearchRequest("wireless earbuds bluetooth", 15.99, 24.5, 1)
SECRET = "v^1.1#i^1#p^1#r^0#I^3#f^0#t^SECRET"


def token_answer(token: str = SECRET, expires_in: int = 7200) -> dict[str, Any]:
    return {"access_token": token, "expires_in": expires_in, "token_type": "x"}


def search_answer(*sellers: str) -> dict[str, Any]:
    items = [
        {
            "itemId": f"v1|{100 + n}|0",
            "price": {"value": "19.99", "currency": "USD"},
            "seller": {
                "username": name,
                "feedbackPercentage": "99.1",
                "feedbackScore": 7,
            },
        }
        for n, name in enumerate(sellers)
    ]
    return {"href": SEARCH_URL, "total": len(items), "itemSummaries": items}


EXPIRED = {"errors": [{"errorId": 1001, "message": "Invalid access token"}]}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def make_client(
    token: SharedToken | None = None, **kwargs: Any
) -> tuple[BrowseClient, SharedToken]:
    token = token or SharedToken(SPAWN)
    client = BrowseClient(
        requests.Session(), BASE, CREDENTIALS, (2.0, 5.0), token, **kwargs
    )
    return client, token


# --- request shape -------------------------------------------------------------------


def test_token_request_is_a_client_credentials_grant(
    mocked: responses.RequestsMock,
) -> None:
    """Basic auth with id:secret, the form grant, and expiry from `expires_in`."""
    mocked.post(TOKEN_URL, json=token_answer(expires_in=7200))
    client, _ = make_client()
    token, expires_at = client.fetch_token()

    sent = mocked.calls[0].request
    expected = base64.b64encode(b"client-id:client-secret").decode()
    assert sent.headers["Authorization"] == f"Basic {expected}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.body) == {
        "grant_type": ["client_credentials"],
        "scope": [SCOPE],
    }
    assert token == SECRET
    assert 7199 < expires_at - datetime.now(UTC).timestamp() <= 7200


@pytest.mark.parametrize(
    ("page", "limit", "offset"),
    [(1, 200, "0"), (3, 200, "400"), (2, 60, "60"), (50, 200, "9800")],
    ids=["first", "third-of-200", "second-of-60", "last-allowed"],
)
def test_search_request_shape(
    mocked: responses.RequestsMock, page: int, limit: int, offset: str
) -> None:
    """q, the dropshipper filter, limit, offset, the marketplace and bearer headers."""
    mocked.post(TOKEN_URL, json=token_answer())
    mocked.get(SEARCH_URL, json=search_answer("alice"))
    client, _ = make_client(limit=limit)
    request = SearchRequest(REQUEST.query, REQUEST.price_min, REQUEST.price_max, page)
    client.search(request)

    sent = mocked.calls[1].request
    assert parse_qs(urlsplit(sent.url).query) == {
        "q": ["wireless earbuds bluetooth"],
        "filter": [
            "price:[15.99..24.50],priceCurrency:USD,conditionIds:{1000},"
            "itemLocationCountry:US,deliveryCountry:US,maxDeliveryCost:0"
        ],
        "limit": [str(limit)],
        "offset": [offset],
    }
    assert sent.headers["X-EBAY-C-MARKETPLACE-ID"] == "EBAY_US"
    assert sent.headers["Authorization"] == f"Bearer {SECRET}"
    assert sent.url == client.url_for(request)


def test_browse_url_is_what_the_events_show() -> None:
    """Encoded like the request, on the real host by default, without the token."""
    assert browse_url(REQUEST, 200) == (
        "https://api.ebay.com/buy/browse/v1/item_summary/search"
        "?q=wireless+earbuds+bluetooth&filter=price%3A%5B15.99..24.50%5D%2C"
        "priceCurrency%3AUSD%2CconditionIds%3A%7B1000%7D%2CitemLocationCountry%3AUS"
        "%2CdeliveryCountry%3AUS%2CmaxDeliveryCost%3A0&limit=200&offset=0"
    )
    assert browse_filter(REQUEST).startswith("price:[15.99..24.50],")


@pytest.mark.parametrize(
    ("page", "limit", "message"),
    [
        (51, 200, "page 51 of 200 items is beyond the 10,000 items"),
        (0, 200, "page 0 of 200 items"),
        (1, 201, "limit must be 1..200, not 201"),
        (1, 0, "limit must be 1..200, not 0"),
    ],
    ids=["past-10000", "page-0", "limit-too-big", "limit-0"],
)
def test_pages_ebay_would_not_serve_are_refused(
    page: int, limit: int, message: str
) -> None:
    request = SearchRequest("q", 1.0, 2.0, page)
    with pytest.raises(ConfigError, match=message):
        browse_url(request, limit)


def test_missing_credentials_say_which_variables_to_set() -> None:
    with pytest.raises(ConfigError) as caught:
        BrowseClient(requests.Session(), BASE, None, (1, 1), SharedToken(SPAWN))
    assert caught.value.hint == (
        "set EBAY_CLIENT_ID and EBAY_CLIENT_SECRET, or use --sandbox"
    )


# --- the token across calls ----------------------------------------------------------


def test_one_token_serves_many_searches(mocked: responses.RequestsMock) -> None:
    mocked.post(TOKEN_URL, json=token_answer())
    mocked.get(SEARCH_URL, json=search_answer("alice", "bob"))
    client, token = make_client()
    pages = [client.search(REQUEST) for _ in range(5)]

    assert [len(page.sightings) for page in pages] == [2] * 5
    assert token.fetches == 1
    assert [call.request.method for call in mocked.calls] == ["POST"] + ["GET"] * 5


def test_expired_token_is_renewed_and_the_page_kept(
    mocked: responses.RequestsMock,
) -> None:
    """401 with errorId 1001: the token is dropped and a retryable error raised at
    once; the next attempt gets a new token and the same page."""
    mocked.post(TOKEN_URL, json=token_answer("old-token"))
    mocked.post(TOKEN_URL, json=token_answer("new-token"))
    mocked.get(SEARCH_URL, status=401, json=EXPIRED)
    mocked.get(SEARCH_URL, json=search_answer("alice"))
    client, token = make_client()
    with pytest.raises(TokenRejected) as caught:
        client.search(REQUEST)
    page = client.search(REQUEST)

    assert not isinstance(caught.value, HttpError)
    assert caught.value.retryable and caught.value.retry_at_once
    assert caught.value.http_status == 401
    assert [s.seller for s in page.sightings] == ["alice"]
    assert token.fetches == 2
    searches = [c.request for c in mocked.calls if c.request.method == "GET"]
    assert [r.headers["Authorization"] for r in searches] == [
        "Bearer old-token",
        "Bearer new-token",
    ]
    assert searches[0].url == searches[1].url


@pytest.mark.parametrize(
    "body",
    [
        {"errors": [{"errorId": 1002, "message": "Missing access token"}]},
        {"message": "unauthorized"},
        "<html>401</html>",
    ],
    ids=["other-error-id", "other-json", "not-json"],
)
def test_other_401s_are_not_renewed(
    mocked: responses.RequestsMock, body: dict[str, Any] | str
) -> None:
    mocked.post(TOKEN_URL, json=token_answer())
    if isinstance(body, str):
        mocked.get(SEARCH_URL, status=401, body=body)
    else:
        mocked.get(SEARCH_URL, status=401, json=body)
    client, token = make_client()
    with pytest.raises(HttpError) as caught:
        client.search(REQUEST)
    assert caught.value.http_status == 401
    assert token.fetches == 1


def test_bad_client_credentials_are_an_http_401(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
    client, _ = make_client()
    with pytest.raises(HttpError, match="HTTP 401") as caught:
        client.search(REQUEST)
    assert caught.value.http_status == 401
    assert len(mocked.calls) == 1


# --- the token never shows -----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, b"<html>" + SECRET.encode(), ParseError),
        (200, orjson.dumps({"access_token": SECRET}), ParseError),
        (200, orjson.dumps({"access_token": "", "expires_in": 7200}), ParseError),
    ],
    ids=["not-json", "no-expires-in", "empty-token"],
)
def test_token_answer_errors_never_quote_the_body(
    mocked: responses.RequestsMock, status: int, body: bytes, error: type
) -> None:
    mocked.post(TOKEN_URL, status=status, body=body)
    client, _ = make_client()
    with pytest.raises(error) as caught:
        client.search(REQUEST)
    assert "SECRET" not in str(caught.value)
    assert "SECRET" not in repr(caught.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, HttpError), (429, RateLimited), (401, TokenRejected), (200, ParseError)],
    ids=["500", "429", "401-twice", "garbled"],
)
def test_search_errors_never_carry_the_token(
    mocked: responses.RequestsMock, status: int, error: type
) -> None:
    mocked.post(TOKEN_URL, json=token_answer())
    body = orjson.dumps(EXPIRED) if status == 401 else b'{"errors": "oops'
    mocked.get(SEARCH_URL, status=status, body=body)
    client, _ = make_client()
    with pytest.raises(error) as caught:
        client.search(REQUEST)

    chain: list[BaseException] = []
    exc: BaseException | None = caught.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert all("SECRET" not in f"{e!s} {e!r}" for e in chain)
    assert "SECRET" not in repr(client)


# --- the daily budget ----------------------------------------------------------------


class Clock:
    def __init__(self, moment: str) -> None:
        self.now = datetime.fromisoformat(moment).timestamp()

    def __call__(self) -> float:
        return self.now


def test_budget_counts_per_utc_day_and_stops_at_the_limit(tmp_path: Path) -> None:
    clock = Clock("2026-03-01T23:59:00+00:00")
    budget = DailyBudget(tmp_path / "s.db.browse-budget.json", 3, clock=clock)

    assert [budget.take() for _ in range(4)] == [True, True, True, False]
    assert budget.used() == 3 and budget.remaining() == 0
    assert budget.resets_at() == datetime(2026, 3, 2, tzinfo=UTC)
    clock.now += 120
    assert budget.take() is True
    assert budget.used() == 1
    document = orjson.loads(budget.path.read_bytes())
    assert document == {"limit": 3, "calls": {"2026-03-01": 3, "2026-03-02": 1}}


def test_budget_keeps_a_week_of_days(tmp_path: Path) -> None:
    clock = Clock("2026-03-01T12:00:00+00:00")
    budget = DailyBudget(tmp_path / "b.json", 10, clock=clock)
    for _ in range(10):
        budget.take()
        clock.now += 86_400
    days = orjson.loads(budget.path.read_bytes())["calls"]
    assert sorted(days) == [f"2026-03-{day:02d}" for day in range(4, 11)]


def test_unreadable_budget_file_counts_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(b'{"calls": {"2026-')
    budget = DailyBudget(path, 5)
    assert budget.used() == 0
    assert budget.take() is True and budget.used() == 1


def test_budget_path_sits_beside_the_store() -> None:
    assert budget_path("data/sellers.db") == Path("data/sellers.db.browse-budget.json")


def test_spent_budget_stops_the_search_before_any_request(
    mocked: responses.RequestsMock, tmp_path: Path
) -> None:
    """`spend` comes before the request and refuses once the day's calls are used."""
    mocked.post(TOKEN_URL, json=token_answer())
    mocked.get(SEARCH_URL, json=search_answer("alice"))
    clock = Clock("2026-03-01T10:00:00+00:00")
    budget = DailyBudget(tmp_path / "b.json", 2, clock=clock)
    client, _ = make_client(budget=budget)
    for _ in range(2):
        client.spend()
        client.search(REQUEST)
    with pytest.raises(DailyBudgetExhausted) as caught:
        client.spend()

    error = caught.value
    assert isinstance(error, FetchError) and not isinstance(error, RateLimited)
    assert (error.error_type, error.retryable) == ("rate_limit", False)
    assert str(error) == (
        "the daily eBay Browse API budget of 2 calls is spent; "
        "it resets at 2026-03-02 00:00 UTC"
    )
    assert len(mocked.calls) == 3


def test_token_renewal_retry_is_a_call_of_its_own(
    mocked: responses.RequestsMock, tmp_path: Path
) -> None:
    """The attempt after an expired token is spent from the budget like any call."""
    mocked.post(TOKEN_URL, json=token_answer())
    mocked.get(SEARCH_URL, status=401, json=EXPIRED)
    mocked.get(SEARCH_URL, json=search_answer("alice"))
    budget = DailyBudget(tmp_path / "b.json", 100)
    client, _ = make_client(budget=budget)
    client.spend()
    with pytest.raises(TokenRejected):
        client.search(REQUEST)
    client.spend()
    client.search(REQUEST)
    assert budget.used() == 2


def _spend(path: str, start: Any, out: Any) -> None:
    budget = DailyBudget(path, 50)
    start.wait(10)
    out.put(sum(budget.take() for _ in range(30)))


def test_budget_file_is_shared_by_processes(tmp_path: Path) -> None:
    """4 spawned processes × 30 calls against a budget of 50: exactly 50 granted."""
    path = str(tmp_path / "b.json")
    start, out = SPAWN.Event(), SPAWN.Queue()
    processes = [
        SPAWN.Process(target=_spend, args=(path, start, out)) for _ in range(4)
    ]
    for process in processes:
        process.start()
    start.set()
    granted = [out.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=10)

    assert sum(granted) == 50
    assert DailyBudget(path, 50).used() == 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json", "b.json.lock"]
