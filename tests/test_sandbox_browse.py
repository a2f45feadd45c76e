"""The sandbox's eBay Browse API: tokens, search answers, faults, replay, and the
client run against it.

Every server listens on 127.0.0.1 on a free port and is stopped by its fixture.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from collect.errors import ConfigError, FetchTimeout, HttpError, ParseError, RateLimited
from collect.models import SearchPage
from collect.parsers.ebay_html import parse_search_page
from collect.providers.ebay_browse import BrowseClient, TokenRejected
from collect.providers.http import make_session
from collect.providers.token import SharedToken
from collect.sandbox import SandboxConfig, synth
from collect.sandbox.server import SandboxHandle
from collect.search import SearchRequest
from collect.settings import Credentials

SPAWN = multiprocessing.get_context("spawn")
CONFIG = SandboxConfig()
EBAY = Credentials("sandbox", "sandbox")
TOKEN_PATH = "/identity/v1/oauth2/token"
SEARCH_PATH = "/buy/browse/v1/item_summary/search"
FORM = {
    "grant_type": "client_credentials",
    "scope": "https://api.ebay.com/oauth/api_scope",
}


def _plan(query: str) -> synth.SearchResults:
    return synth.search_results(CONFIG.seed, query, 1, CONFIG)


def _queries(*, grid: bool, pages: int) -> list[str]:
    """Synthetic queries whose search has `pages` pages, grid layout or not."""
    found = []
    for index in range(2000):
        query = f"browse query {index}"
        plan = _plan(query)
        if plan.grid == grid and plan.total_pages == pages:
            found.append(query)
    return found


LIST_QUERIES = _queries(grid=False, pages=3)[:3] + _queries(grid=False, pages=1)[:1]
GRID_QUERY = _queries(grid=True, pages=2)[0]


def get_token(http: requests.Session, handle: SandboxHandle) -> str:
    answer = http.post(
        f"{handle.url}{TOKEN_PATH}", data=FORM, auth=EBAY_AUTH, timeout=5
    )
    return str(answer.json()["access_token"])


EBAY_AUTH = ("sandbox", "sandbox")


def search(
    http: requests.Session, handle: SandboxHandle, token: str | None, **params: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.get(
        f"{handle.url}{SEARCH_PATH}", params=params, headers=headers, timeout=5
    )


def client(
    handle: SandboxHandle,
    *,
    limit: int = 200,
    token: SharedToken | None = None,
    read_timeout: float = 5.0,
) -> BrowseClient:
    return BrowseClient(
        make_session(),
        handle.url,
        EBAY,
        (2.0, read_timeout),
        token or SharedToken(SPAWN),
        limit=limit,
    )


def request(query: str, page: int = 1) -> SearchRequest:
    return SearchRequest(query, 10.0, 20.0, page)


def sightings(page: SearchPage) -> list[tuple[Any, ...]]:
    return [
        (s.seller, s.feedback_percent, s.feedback_count, s.item_id, s.price)
        for s in page.sightings
    ]


# --- the token endpoint --------------------------------------------------------------


def test_token_answer_has_the_sample_shape(
    sandbox: Callable[..., SandboxHandle], http: requests.Session, samples: Path
) -> None:
    handle = sandbox()
    answer = http.post(
        f"{handle.url}{TOKEN_PATH}", data=FORM, auth=EBAY_AUTH, timeout=5
    )
    sample = orjson.loads(
        (samples / "ebay-browse-api" / "oauth-token-response.json").read_bytes()
    )

    assert answer.status_code == 200
    body = answer.json()
    assert body.keys() == sample.keys()
    assert body["expires_in"] == 7200
    assert body["access_token"] != get_token(http, handle)
    stats = handle.stats()
    assert (stats["token_requests"], stats["tokens_issued"]) == (2, 2)


@pytest.mark.parametrize(
    ("auth", "form", "status", "error"),
    [
        (("sandbox", "wrong"), FORM, 401, "invalid_client"),
        (None, FORM, 401, "invalid_client"),
        (EBAY_AUTH, {**FORM, "grant_type": "password"}, 400, "unsupported_grant_type"),
        (EBAY_AUTH, {**FORM, "scope": "https://x/other"}, 400, "invalid_scope"),
    ],
    ids=["wrong-secret", "no-auth", "wrong-grant", "wrong-scope"],
)
def test_token_refusals(
    sandbox: Callable[..., SandboxHandle],
    http: requests.Session,
    auth: tuple[str, str] | None,
    form: dict[str, str],
    status: int,
    error: str,
) -> None:
    handle = sandbox()
    answer = http.post(f"{handle.url}{TOKEN_PATH}", data=form, auth=auth, timeout=5)
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    assert handle.stats()["tokens_issued"] == 0


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="token_ttl_s"):
        SandboxConfig(token_ttl_s=0)


# --- search answers ------------------------------------------------------------------


def test_search_without_or_with_a_foreign_token_is_refused(
    sandbox: Callable[..., SandboxHandle], http: requests.Session, samples: Path
) -> None:
    handle = sandbox()
    sample = orjson.loads(
        (samples / "ebay-browse-api" / "error-1001-invalid-token.json").read_bytes()
    )
    missing = search(http, handle, None, q="x")
    foreign = search(http, handle, "made-up-token", q="x")

    assert (missing.status_code, missing.json()["errors"][0]["errorId"]) == (401, 1002)
    assert foreign.status_code == 401
    assert foreign.json()["errors"][0].keys() == sample["errors"][0].keys()
    assert foreign.json()["errors"][0]["errorId"] == 1001
    assert handle.stats()["outcomes"]["token_expired"] == 1


def test_search_answer_has_the_sample_shape(
    sandbox: Callable[..., SandboxHandle], http: requests.Session, samples: Path
) -> None:
    handle = sandbox()
    query = LIST_QUERIES[0]
    body = search(http, handle, get_token(http, handle), q=query, limit=100).json()
    sample = orjson.loads(
        (samples / "ebay-browse-api" / "search-iphone-100.json").read_bytes()
    )
    item, sample_item = body["itemSummaries"][0], sample["itemSummaries"][0]

    assert list(body) == list(sample)
    assert body["next"].endswith("&limit=100&offset=100")
    assert body["next"].startswith(f"{handle.url}{SEARCH_PATH}?q=")
    assert item["seller"].keys() == sample_item["seller"].keys()
    assert item["price"].keys() >= {"value", "currency"}
    assert isinstance(item["seller"]["feedbackPercentage"], str)
    assert isinstance(item["seller"]["feedbackScore"], int)
    assert isinstance(item["price"]["value"], str)
    assert item["itemId"] == f"v1|{item['legacyItemId']}|0"
    assert body["total"] == len(synth.search_listings(CONFIG.seed, query, CONFIG))


def test_paging_by_offset(
    sandbox: Callable[..., SandboxHandle], http: requests.Session
) -> None:
    """prev/next links, and past the end no itemSummaries at all."""
    handle = sandbox()
    token, query = get_token(http, handle), LIST_QUERIES[0]
    total = len(synth.search_listings(CONFIG.seed, query, CONFIG))
    middle = search(http, handle, token, q=query, limit=50, offset=50).json()
    last = search(http, handle, token, q=query, limit=50, offset=total - 10).json()
    past = search(http, handle, token, q=query, limit=50, offset=total).json()

    assert len(middle["itemSummaries"]) == 50
    assert middle["prev"].endswith("offset=0") and middle["next"].endswith("offset=100")
    assert len(last["itemSummaries"]) == 10 and "next" not in last
    assert "itemSummaries" not in past and past["total"] == total


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 201}, {"offset": 10_000}, {"offset": -1}, {"q": " "}],
    ids=["limit-0", "limit-201", "offset-10000", "offset-negative", "no-keyword"],
)
def test_bad_search_parameters_get_400(
    sandbox: Callable[..., SandboxHandle],
    http: requests.Session,
    params: dict[str, Any],
) -> None:
    handle = sandbox()
    answer = search(http, handle, get_token(http, handle), **{"q": "x", **params})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["errorId"] == 12001


# --- the same sellers through both eBay sources --------------------------------------


@pytest.mark.parametrize("query", LIST_QUERIES)
def test_browse_pages_of_60_are_the_html_pages(
    sandbox: Callable[..., SandboxHandle], query: str
) -> None:
    """Page N through the Browse API == page N of the HTML source, parsed by us."""
    handle = sandbox()
    browse = client(handle, limit=synth.EBAY_PAGE_SIZE)
    for page in range(1, _plan(query).total_pages + 1):
        html = synth.search_page_html(CONFIG.seed, query, page, CONFIG)
        from_html = parse_search_page(html)
        from_api = browse.search(request(query, page))

        assert [s.seller for s in from_api.sightings] == [
            s.seller for s in from_html.sightings
        ]
        assert sightings(from_api) == sightings(
            synth.search_page_truth(CONFIG.seed, query, page, CONFIG)
        )
        assert from_api.has_next == from_html.has_next


def test_browse_pages_of_100_hold_the_same_sellers(
    sandbox: Callable[..., SandboxHandle],
) -> None:
    """121-180 items: two Browse pages of 100 hold the three HTML pages' sellers."""
    handle = sandbox()
    query = LIST_QUERIES[0]
    browse = client(handle, limit=100)
    first, second = browse.search(request(query, 1)), browse.search(request(query, 2))
    truth = [
        sighting
        for page in (1, 2, 3)
        for sighting in sightings(
            synth.search_page_truth(CONFIG.seed, query, page, CONFIG)
        )
    ]

    assert first.has_next and not second.has_next
    assert sightings(first) + sightings(second) == truth


def test_grid_pages_hide_sellers_the_api_shows(
    sandbox: Callable[..., SandboxHandle],
) -> None:
    handle = sandbox()
    html_page = parse_search_page(
        synth.search_page_html(CONFIG.seed, GRID_QUERY, 1, CONFIG)
    )
    api_page = client(handle, limit=60).search(request(GRID_QUERY))

    assert html_page.sightings == [] and html_page.listings == 60
    assert len(api_page.sightings) == 60


# --- tokens across a run -------------------------------------------------------------


def test_expired_token_mid_run_is_renewed_once_and_the_page_kept(
    sandbox: Callable[..., SandboxHandle],
) -> None:
    handle = sandbox(token_ttl_s=1.0)
    token = SharedToken(SPAWN)
    browse = client(handle, token=token)
    query = LIST_QUERIES[0]
    before = browse.search(request(query))
    time.sleep(1.1)
    with pytest.raises(TokenRejected):
        browse.search(request(query))
    after = browse.search(request(query))

    assert sightings(after) == sightings(before) != []
    stats = handle.stats()
    assert (stats["token_requests"], token.fetches) == (2, 2)
    assert stats["outcomes"]["token_expired"] == 1
    assert stats["browse_searches"] == 3


def _search_in_worker(
    url: str, token: SharedToken, queries: list[str], start: Any, out: Any
) -> None:
    handle_url = url
    browse = BrowseClient(make_session(), handle_url, EBAY, (2.0, 5.0), token)
    start.wait(10)
    out.put([len(browse.search(request(query)).sightings) for query in queries])


def test_six_spawned_workers_make_one_token_request(
    sandbox: Callable[..., SandboxHandle],
) -> None:
    handle = sandbox(latency_ms=20)
    token = SharedToken(SPAWN)
    start, out = SPAWN.Event(), SPAWN.Queue()
    processes = [
        SPAWN.Process(
            target=_search_in_worker,
            args=(handle.url, token, LIST_QUERIES, start, out),
        )
        for _ in range(6)
    ]
    for process in processes:
        process.start()
    start.set()
    counts = [out.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)

    assert [process.exitcode for process in processes] == [0] * 6
    expected = [
        len(synth.search_listings(CONFIG.seed, q, CONFIG)) for q in LIST_QUERIES
    ]
    assert counts == [expected] * 6
    stats = handle.stats()
    assert (stats["token_requests"], token.fetches) == (1, 1)
    assert stats["browse_searches"] == 6 * len(LIST_QUERIES)


# --- faults --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"rate_429": 1.0}, RateLimited),
        ({"rate_5xx": 1.0}, HttpError),
        ({"rate_malformed": 1.0}, ParseError),
        ({"rate_truncated": 1.0}, ParseError),
        ({"rate_timeout": 1.0, "timeout_hang_s": 1.0}, FetchTimeout),
    ],
    ids=["429", "5xx", "malformed", "truncated", "timeout"],
)
def test_faults_reach_the_client_classified(
    sandbox: Callable[..., SandboxHandle], fault: dict[str, float], error: type
) -> None:
    handle = sandbox(**fault)
    with pytest.raises(error) as caught:
        client(handle, read_timeout=0.3).search(request(LIST_QUERIES[0]))
    assert caught.value.retryable
    assert handle.stats()["token_requests"] == 1


def test_html_only_faults_leave_browse_answers_clean(
    sandbox: Callable[..., SandboxHandle],
) -> None:
    handle = sandbox(rate_faulted=0.5, rate_block=0.5)
    page = client(handle).search(request(LIST_QUERIES[0]))
    listings = synth.search_listings(CONFIG.seed, LIST_QUERIES[0], CONFIG)
    assert len(page.sightings) == len(listings) > 120
    assert handle.stats()["outcomes"]["ok"] == 2  # the token and the search


def test_faults_do_not_change_the_data(
    sandbox: Callable[..., SandboxHandle],
) -> None:
    """With half the searches failing, the pages that come through are the same."""
    clean, faulty = sandbox(), sandbox(rate_5xx=0.3, rate_429=0.2, retry_after_share=0)
    query = LIST_QUERIES[1]
    expected = sightings(client(clean, limit=60).search(request(query)))
    faulty_client = client(faulty, limit=60)
    outcomes = []
    for _ in range(40):
        try:
            outcomes.append(sightings(faulty_client.search(request(query))))
        except (HttpError, RateLimited):
            outcomes.append(None)

    assert None in outcomes and expected in outcomes
    assert all(outcome in (None, expected) for outcome in outcomes)


def test_rate_limit_applies_to_searches(sandbox: Callable[..., SandboxHandle]) -> None:
    handle = sandbox(rate_limit_rps=0.2)  # one search, then one every 5 s
    browse = client(handle)
    results = []
    for _ in range(5):
        try:
            browse.search(request(LIST_QUERIES[0]))
            results.append("ok")
        except RateLimited:
            results.append("429")
    assert results[0] == "ok" and results.count("429") >= 3
    assert handle.stats()["outcomes"]["throttled"] == results.count("429")


# --- replay --------------------------------------------------------------------------


def test_replay_serves_recorded_answers_by_query_and_offset(
    sandbox: Callable[..., SandboxHandle], samples: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "browse"
    folder.mkdir()
    recorded = samples / "ebay-browse-api"
    shutil.copy(recorded / "search-iphone-100.json", folder / "a.json")
    shutil.copy(recorded / "search-docs-sample.json", folder / "b.json")
    handle = sandbox(replay_dir=str(tmp_path))
    browse = client(handle, limit=100)

    pages = {
        (query, page): browse.search(request(query, page))
        for query in ("iphone", "usb c charger", "lip balm")
        for page in (1, 2, 3)
    }
    again = browse.search(request("IPhone", 1))
    unique = {len({s.seller for s in page.sightings}) for page in pages.values()}

    assert sightings(again) == sightings(pages["iphone", 1])
    # The documentation sample masks two different names into the same one.
    assert unique == {38, 2}


def test_replay_without_recordings_finds_nothing(
    sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    handle = sandbox(replay_dir=str(tmp_path))
    page = client(handle).search(request("anything"))
    assert (page.listings, page.has_next) == (0, False)
    assert handle.stats()["no_data"] == 1
