"""The sandbox: synthetic data, the Oxylabs-shaped HTTP answers, faults and replay.

Every server here listens on 127.0.0.1 on a free port and is stopped by its fixture.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import orjson
import pytest
import requests

from collect.errors import ConfigError
from collect.sandbox import SandboxConfig, sandbox_process_main, synth
from collect.sandbox.faults import RateLimiter
from collect.sandbox.server import SandboxHandle

AUTH = ("sandbox", "sandbox")
CONFIG = SandboxConfig()
QUERIES = [f"synthetic query {index}" for index in range(120)]


def amazon_body(node_id: str = "1040660", page: int = 1) -> dict[str, Any]:
    return {
        "source": "amazon_bestsellers",
        "domain": "com",
        "query": node_id,
        "start_page": page,
        "parse": True,
    }


def ebay_url(query: str, page: int = 1, low: float = 8.0, high: float = 12.0) -> str:
    return (
        f"https://www.ebay.com/sch/i.html?_nkw={quote_plus(query)}&_sacat=0"
        f"&LH_ItemCondition=1000&LH_FS=1&LH_PrefLoc=1&_udlo={low}&_udhi={high}"
        f"&_ipg=60&_pgn={page}"
    )


def ebay_body(query: str, page: int = 1, **price: float) -> dict[str, Any]:
    return {"source": "universal", "url": ebay_url(query, page, **price)}


def query(
    http: requests.Session, handle: SandboxHandle, body: dict[str, Any], **kwargs: Any
) -> requests.Response:
    kwargs.setdefault("auth", AUTH)
    kwargs.setdefault("timeout", 10)
    return http.post(f"{handle.url}/v1/queries", json=body, **kwargs)


# --- feedback formatting and the seller population -----------------------------------


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0"),
        (5, "5"),
        (810, "810"),
        (999, "999"),
        (1000, "1K"),
        (3300, "3.3K"),
        (4000, "4K"),
        (14_500, "14.5K"),
        (573_300, "573.3K"),
        (999_950, "1M"),
        (1_600_000, "1.6M"),
        (2_000_000, "2M"),
    ],
    ids=lambda value: str(value),
)
def test_feedback_count_is_rendered_like_ebay(count: int, text: str) -> None:
    """Counts get eBay's K/M suffixes with one decimal, and `.0` dropped."""
    assert synth.format_feedback_count(count) == text
    assert synth.parse_feedback_count(text) == synth.displayed_feedback_count(count)


@pytest.mark.parametrize(
    ("percent", "text"),
    [(100.0, "100"), (0.0, "0"), (98.0, "98"), (99.5, "99.5"), (77.8, "77.8")],
    ids=["100", "0", "98", "99.5", "77.8"],
)
def test_feedback_percent_drops_trailing_zero(percent: float, text: str) -> None:
    """eBay writes `100%` and `98%`, never `100.0%`."""
    assert synth.format_feedback_percent(percent) == text


def test_seller_population_has_every_name_shape_and_feedback_extreme() -> None:
    """Names use `.`, `-`, `_`, `*`, digits and capitals; feedback spans 0%..100% and
    counts up to millions; names are unique after case-folding."""
    sellers = synth.seller_population(7, 400)
    names = [seller.name for seller in sellers]

    assert len({name.casefold() for name in names}) == 400
    for mark in ".-_*":
        assert any(mark in name for name in names), mark
    assert any(any(ch.isdigit() for ch in name) for name in names)
    assert any(name != name.lower() for name in names)
    percents = {seller.feedback_percent for seller in sellers}
    assert {0.0, 100.0} <= percents
    counts = [seller.feedback_count for seller in sellers]
    assert min(counts) < 10 and max(counts) >= 1_000_000


def test_seller_popularity_is_heavy_tailed() -> None:
    """A few sellers show up on many searches; most on few or none."""
    appearances: Counter[str] = Counter()
    for text in QUERIES:
        truth = synth.search_page_truth(7, text, 1, CONFIG)
        appearances.update({sighting.seller for sighting in truth.sightings})

    top = appearances.most_common(1)[0][1]
    searches_with_sellers = sum(
        1 for text in QUERIES if synth.search_page_truth(7, text, 1, CONFIG).sightings
    )
    assert top >= 0.8 * searches_with_sellers
    assert sum(1 for count in appearances.values() if count <= 2) > 50


# --- synthetic Amazon best sellers ---------------------------------------------------


def test_bestsellers_content_has_the_sample_shape(samples: Path) -> None:
    """Same top-level and product keys as the assembled Oxylabs sample."""
    sample = json.loads(
        (samples / "oxylabs" / "assembled-bestsellers-1040660.json").read_text()
    )
    sample_content = sample["results"][0]["content"]
    sample_keys = {key for entry in sample_content["results"] for key in entry}

    content = synth.bestsellers_content(7, "1040660", 1, CONFIG)

    assert content.keys() == sample_content.keys()
    assert len(content["results"]) == 50
    for product in content["results"]:
        assert product.keys() <= sample_keys
        assert {"pos", "url", "asin", "title", "currency"} <= product.keys()


def test_bestsellers_products_are_realistic() -> None:
    """ASINs `B0` + 8, ranks 1..100 over two pages, titles up to 200 characters with
    ™ ® – and emoji somewhere in the catalogue."""
    products = [
        product
        for node in range(1000, 1030)
        for page in (1, 2)
        for product in synth.bestsellers_content(7, str(node), page, CONFIG)["results"]
    ]
    first = synth.bestsellers_content(7, "1000", 2, CONFIG)["results"]

    assert [product["pos"] for product in first] == list(range(51, 101))
    assert all(re.fullmatch(r"B0[A-Z0-9]{8}", p["asin"]) for p in products)
    titles = [product["title"] for product in products]
    assert max(len(title) for title in titles) == 200
    assert min(len(title) for title in titles) >= 10
    for mark in ("™", "®", "–", "🔥"):
        assert any(mark in title for title in titles), mark


def test_bestsellers_prices_come_in_every_shape() -> None:
    """Floats mostly; and absent, null, 0, "", "N/A", "$1,299.99" and ranges."""
    shapes: Counter[str] = Counter()
    for node in range(2000, 2040):
        for product in synth.category_products(7, str(node), 100):
            shapes[_price_shape(product)] += 1

    assert set(shapes) == {
        "float", "absent", "null", "zero", "empty", "n/a", "dollars", "comma", "range",
    }  # fmt: skip
    assert shapes["float"] > 0.7 * sum(shapes.values())


def _price_shape(product: dict[str, Any]) -> str:
    if "price" not in product:
        return "absent"
    price = product["price"]
    if price is None:
        return "null"
    if isinstance(price, float):
        return "float"
    if price == 0:
        return "zero"
    if price in ("", "N/A"):
        return "empty" if price == "" else "n/a"
    if " - " in price:
        return "range"
    return "comma" if "," in price else "dollars"


def test_some_asins_appear_in_two_categories() -> None:
    """About a tenth of each list comes from a shared pool."""
    seen: Counter[str] = Counter()
    for node in range(3000, 3020):
        seen.update(
            product["asin"] for product in synth.category_products(7, str(node), 100)
        )
    assert sum(1 for count in seen.values() if count >= 2) >= 20


def test_bestsellers_depend_on_seed_and_node_only() -> None:
    """Same (seed, node) gives the same list; another seed or node another list."""
    first = synth.bestsellers_content(7, "1040660", 1, CONFIG)
    assert synth.bestsellers_content(7, "1040660", 1, CONFIG) == first
    assert synth.bestsellers_content(8, "1040660", 1, CONFIG) != first
    assert synth.bestsellers_content(7, "1040661", 1, CONFIG) != first


def test_non_numeric_node_has_no_products() -> None:
    """A node id Amazon does not know gives an empty list, like "Best undefined"."""
    assert synth.bestsellers_content(7, "not-a-node", 1, CONFIG)["results"] == []


# --- synthetic eBay search pages -----------------------------------------------------


def test_search_pages_vary_like_real_searches() -> None:
    """0 to 4 pages per query, some with no results, some grid pages without
    sellers, at most 60 cards, and a next page exactly when one exists."""
    plans = [synth.search_results(7, text, 1, CONFIG) for text in QUERIES]
    pages = Counter(plan.total_pages for plan in plans)

    assert set(pages) == {0, 1, 2, 3, 4}
    assert any(plan.grid for plan in plans)
    for text in QUERIES[:40]:
        first = synth.search_results(7, text, 1, CONFIG)
        for page in range(1, first.total_pages + 2):
            results = synth.search_results(7, text, page, CONFIG)
            assert len(results.listings) <= synth.EBAY_PAGE_SIZE
            assert results.has_next == (page < first.total_pages)


def test_search_page_markup_has_the_real_landmarks() -> None:
    """s-cards in `ul.srp-results`, placeholders, hidden title suffix, item links,
    price ranges in three spans, both seller-row forms, K/M counts."""
    pages = [synth.search_page_html(7, text, 1, CONFIG) for text in QUERIES[:60]]
    html = "".join(pages)

    assert '<ul class="srp-results srp-list clearfix">' in html
    assert html.count(">Shop on eBay</span>") >= 2
    assert '<span class="clipped">Opens in a new window or tab</span>' in html
    assert re.search(r'href="https://www\.ebay\.com/itm/\d{12}\?', html)
    assert re.search(r's-card__price">\$[\d,.]+</span><span[^>]*> to </span>', html)
    assert re.search(
        r' </span><span class="su-styled-text primary large">[\d.]+% pos', html
    )
    assert re.search(r'default">[^<]+  [\d.]+% positive \(', html)
    assert re.search(r"positive \(\d+(\.\d)?K\)", html)
    assert "pagination__next icon-link" in html


def test_search_page_ignores_case_and_spacing_of_the_query() -> None:
    assert synth.search_page_html(
        7, "Red  Kettle", 1, CONFIG
    ) == synth.search_page_html(7, "red kettle", 1, CONFIG)


def test_search_page_generation_is_fast() -> None:
    """Under 5 ms a page (best of three batches, so a busy machine does not fail it)."""
    batches = []
    for _ in range(3):
        started = time.perf_counter()
        for text in QUERIES[:50]:
            synth.search_page_html(11, text, 1, CONFIG)
        batches.append((time.perf_counter() - started) / 50)
    assert min(batches) < 0.005


def test_blocked_page_looks_like_ebays_bot_check() -> None:
    html = synth.blocked_page_html(7, "https://www.ebay.com/sch/i.html?_nkw=x")
    assert "<title>Pardon Our Interruption...</title>" in html
    assert "s-card" not in html


# --- the HTTP endpoint ---------------------------------------------------------------


def test_health_and_stats(sandbox: Callable[..., SandboxHandle], http) -> None:
    handle = sandbox()
    assert handle.url.startswith("http://127.0.0.1:")
    assert http.get(f"{handle.url}/health", timeout=5).json() == {"ok": True}
    query(http, handle, amazon_body())

    stats = http.get(f"{handle.url}/stats", timeout=5).json()
    assert stats["requests"] == 1
    assert stats["outcomes"]["ok"] == 1
    assert stats == handle.stats()


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        (None, "Authorization header not provided."),
        (("sandbox", "wrong"), "Invalid username or password."),
    ],
    ids=["missing", "wrong-password"],
)
def test_bad_credentials_get_401(
    sandbox: Callable[..., SandboxHandle], http, auth, message: str
) -> None:
    handle = sandbox()
    response = query(http, handle, amazon_body(), auth=auth)
    assert response.status_code == 401
    assert response.json()["message"] == message
    assert handle.stats()["outcomes"]["unauthorized"] == 1


def test_custom_credentials(sandbox: Callable[..., SandboxHandle], http) -> None:
    handle = sandbox(username="alice", password="s3cret")
    assert query(http, handle, amazon_body()).status_code == 401
    assert (
        query(http, handle, amazon_body(), auth=("alice", "s3cret")).status_code == 200
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "Json error: Unexpected value."),
        (b'{"source": "amazon_search", "query": "x"}', "Unsupported source."),
        (b'{"source": "universal"}', "`url` is required for source `universal`."),
        (b'{"source": "amazon_bestsellers"}', None),
        (b'{"source": "amazon_bestsellers", "query": "1", "start_page": 0}', None),
    ],
    ids=["not-json", "unknown-source", "no-url", "no-query", "bad-page"],
)
def test_bad_bodies_get_400(
    sandbox: Callable[..., SandboxHandle], http, body: bytes, message: str | None
) -> None:
    handle = sandbox()
    response = http.post(f"{handle.url}/v1/queries", data=body, auth=AUTH, timeout=5)
    assert response.status_code == 400
    assert response.json()["message"] == (message or response.json()["message"])
    assert response.json()["instance"] == "/v1/queries"


def test_unknown_path_is_404(sandbox: Callable[..., SandboxHandle], http) -> None:
    handle = sandbox()
    response = http.post(f"{handle.url}/v1/queries/batch", json={}, auth=AUTH)
    assert response.status_code == 404


def test_amazon_answer_is_the_oxylabs_envelope(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    handle = sandbox()
    answer = query(http, handle, amazon_body("1040660", 2)).json()

    result = answer["results"][0]
    assert result.keys() >= {
        "content", "created_at", "updated_at", "page", "url", "job_id", "status_code",
        "parser_type",
    }  # fmt: skip
    assert result["status_code"] == 200
    assert result["page"] == 2
    assert result["content"] == synth.bestsellers_content(7, "1040660", 2, CONFIG)
    assert answer["job"]["id"] == result["job_id"]
    assert answer["job"]["status"] == "done"
    assert answer["job"]["source"] == "amazon_bestsellers"


def test_amazon_page_three_is_a_faulted_job(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    """Amazon shows two pages; asking for a third fails the job inside a 200."""
    handle = sandbox()
    response = query(http, handle, amazon_body("1040660", 3))
    assert response.status_code == 200
    result = response.json()["results"][0]
    assert (result["content"], result["status_code"]) == ("", 613)
    assert response.json()["job"]["status"] == "faulted"


def test_ebay_answer_is_raw_html_independent_of_the_price_band(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    handle = sandbox()
    text = QUERIES[3]
    first = query(http, handle, ebay_body(text, 1, low=5, high=9)).json()
    other_band = query(http, handle, ebay_body(text, 1, low=50, high=90)).json()

    html = first["results"][0]["content"]
    assert isinstance(html, str)
    assert html == synth.search_page_html(7, text, 1, CONFIG)
    assert other_band["results"][0]["content"] == html


def test_ebay_url_without_optional_params(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    """A bare `_nkw` is page 1; a URL that is no eBay search is a faulted job."""
    handle = sandbox()
    bare = {"source": "universal", "url": "https://www.ebay.com/sch/i.html?_nkw=tea"}
    other = {"source": "universal", "url": "https://example.com/"}

    assert query(http, handle, bare).json()["results"][0]["content"] == (
        synth.search_page_html(7, "tea", 1, CONFIG)
    )
    assert query(http, handle, other).json()["results"][0]["status_code"] == 613


def test_same_request_same_bytes_other_seed_other_data(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    seven, eight = sandbox(seed=7), sandbox(seed=8)
    for body in (amazon_body(), ebay_body(QUERIES[5])):
        first = query(http, seven, body).content
        assert query(http, seven, body).content == first
        assert query(http, eight, body).content != first


def test_faults_do_not_change_the_data(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    """Whatever succeeds under faults is byte-identical to the clean answer."""
    clean = sandbox()
    faulty = sandbox(rate_429=0.2, rate_5xx=0.2, rate_faulted=0.2, rate_block=0.2)
    compared = 0
    for text in QUERIES[:30]:
        answer = query(http, faulty, ebay_body(text))
        if (
            answer.status_code == 200
            and answer.json()["results"][0]["status_code"] == 200
        ):
            content = answer.json()["results"][0]["content"]
            if "Pardon Our Interruption" not in content:
                assert answer.content == query(http, clean, ebay_body(text)).content
                compared += 1
    assert compared >= 3


# --- faults --------------------------------------------------------------------------

FAULTY = {
    "rate_429": 0.10,
    "rate_5xx": 0.10,
    "rate_faulted": 0.10,
    "rate_block": 0.10,
    "rate_malformed": 0.05,
    "rate_truncated": 0.05,
}


def classify(response: requests.Response) -> str:
    """What a client sees, named like the sandbox's outcome counters."""
    if response.status_code == 429:
        return "rate_limited"
    if response.status_code >= 500:
        return "server_error"
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return "malformed" if b"<html>" in response.content else "truncated"
    result = answer["results"][0]
    if result["status_code"] == 613:
        return "faulted"
    return "blocked" if "Pardon Our Interruption" in result["content"] else "ok"


def test_fault_rates_are_honoured(sandbox: Callable[..., SandboxHandle], http) -> None:
    """Over 400 eBay requests each fault lands within four standard deviations of its
    rate, and the client sees exactly what the server counted."""
    handle = sandbox(**FAULTY)
    seen = Counter(
        classify(query(http, handle, ebay_body(QUERIES[index % 40])))
        for index in range(400)
    )

    expected = {
        "rate_limited": 0.10, "server_error": 0.10, "faulted": 0.10, "blocked": 0.10,
        "malformed": 0.05, "truncated": 0.05, "ok": 0.50,
    }  # fmt: skip
    for outcome, rate in expected.items():
        tolerance = 4 * math.sqrt(rate * (1 - rate) / 400)
        assert abs(seen[outcome] / 400 - rate) < tolerance, (outcome, seen)
    served = {key: value for key, value in handle.stats()["outcomes"].items() if value}
    assert served == dict(seen)


def test_retry_after_goes_on_a_share_of_429s(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    """`Retry-After: 1` on about `retry_after_share` of them; the rest carry none,
    like the real API."""
    handle = sandbox(rate_429=1.0, retry_after_share=0.3)
    responses = [query(http, handle, amazon_body()) for _ in range(200)]

    assert {response.status_code for response in responses} == {429}
    assert responses[0].json()["message"] == "Too many requests. (Total Dynamic)."
    with_header = [r for r in responses if "Retry-After" in r.headers]
    assert {r.headers["Retry-After"] for r in with_header} == {"1"}
    assert 0.2 < len(with_header) / 200 < 0.4
    assert handle.stats()["retry_after"] == len(with_header)


def test_server_errors_use_500_502_503(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    handle = sandbox(rate_5xx=1.0)
    statuses = {query(http, handle, amazon_body()).status_code for _ in range(60)}
    assert statuses == {500, 502, 503}


def test_block_only_hits_ebay(sandbox: Callable[..., SandboxHandle], http) -> None:
    """The bot check is an eBay page inside a 200; Amazon requests pass."""
    handle = sandbox(rate_block=1.0)
    blocked = query(http, handle, ebay_body("anything"))
    amazon = query(http, handle, amazon_body())

    assert blocked.status_code == 200
    assert "Pardon Our Interruption" in blocked.json()["results"][0]["content"]
    assert amazon.json()["results"][0]["status_code"] == 200


def test_truncated_body_is_half_of_a_valid_one(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    """Content-Length matches the cut body, so only the JSON decoder notices."""
    clean = query(http, sandbox(), amazon_body()).content
    cut = query(http, sandbox(rate_truncated=1.0), amazon_body())

    assert cut.status_code == 200
    assert cut.content == clean[: len(clean) // 2]
    assert int(cut.headers["Content-Length"]) == len(cut.content)


def test_timeout_holds_then_drops_the_connection(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    handle = sandbox(rate_timeout=1.0, timeout_hang_s=0.3)

    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        query(http, handle, amazon_body(), timeout=5)
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.ReadTimeout):
        query(http, handle, amazon_body(), timeout=0.1)


def test_latency_is_added_to_every_request(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    handle = sandbox(latency_ms=80, latency_jitter_ms=20)
    started = time.monotonic()
    assert query(http, handle, {"source": "nope"}).status_code == 400
    assert time.monotonic() - started >= 0.06


def test_rate_limit_answers_429_with_quota_headers(
    sandbox: Callable[..., SandboxHandle], http
) -> None:
    """Above `rate_limit_rps` the sandbox throttles like Oxylabs (no Retry-After)."""
    handle = sandbox(rate_limit_rps=5)
    responses = [query(http, handle, amazon_body()) for _ in range(20)]

    statuses = [response.status_code for response in responses]
    assert statuses[:5] == [200] * 5
    assert statuses.count(429) >= 10
    throttled = responses[statuses.index(429)]
    headers = {key.lower(): value for key, value in throttled.headers.items()}
    limit = [key for key in headers if re.fullmatch(r"x-ratelimit-.+-limit", key)]
    assert [headers[key] for key in limit] == ["5"]
    assert headers[limit[0].replace("-limit", "-remaining")] == "0"
    assert "retry-after" not in headers
    assert handle.stats()["outcomes"]["throttled"] == statuses.count(429)


def test_rate_limiter_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.take() for _ in range(3)] == [True, True, False]
    now[0] = 0.5
    assert [limiter.take(), limiter.take()] == [True, False]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"rate_429": 0.6, "rate_5xx": 0.6}, r"add up to 1\.200, over 1"),
        ({"rate_timeout": -0.1}, r"rate for timeout must be in 0\.\.1"),
        ({"retry_after_share": 2}, r"retry_after_share must be in 0\.\.1"),
        ({"latency_ms": -1}, r"latency_ms must not be negative"),
        ({"rate_limit_rps": -1}, r"rate_limit_rps must not be negative"),
        ({"seller_population": 0}, r"at least 1"),
    ],
    ids=["sum-over-one", "negative-rate", "share", "latency", "rps", "population"],
)
def test_bad_settings_are_refused_when_the_config_is_made(
    overrides: dict[str, float], message: str
) -> None:
    """Before any process starts, so the user sees the reason."""
    with pytest.raises(ConfigError, match=message):
        SandboxConfig(**overrides)


# --- replay --------------------------------------------------------------------------


@pytest.fixture
def replay_dir(tmp_path: Path, samples: Path) -> Path:
    """A replay folder built from the recorded samples at test time."""
    (tmp_path / "amazon").mkdir()
    (tmp_path / "ebay").mkdir()
    oxylabs = samples / "oxylabs"
    (tmp_path / "amazon" / "1040660.json").write_bytes(
        (oxylabs / "assembled-bestsellers-1040660.json").read_bytes()
    )
    envelope = json.loads((oxylabs / "assembled-bestsellers-1040658.json").read_text())
    (tmp_path / "amazon" / "1040658.json").write_text(
        json.dumps(envelope["results"][0]["content"])
    )
    for name in ("scard-pokemon-us.html", "scard-top-rated-comics-us.html"):
        shutil.copy(samples / "ebay-search-html" / name, tmp_path / "ebay" / name)
    return tmp_path


def test_replay_serves_a_recorded_envelope_as_is(
    sandbox: Callable[..., SandboxHandle], http, replay_dir: Path
) -> None:
    handle = sandbox(replay_dir=str(replay_dir))
    response = query(http, handle, amazon_body("1040660"))
    assert response.content == (replay_dir / "amazon" / "1040660.json").read_bytes()


def test_replay_wraps_bare_content(
    sandbox: Callable[..., SandboxHandle], http, replay_dir: Path
) -> None:
    handle = sandbox(replay_dir=str(replay_dir))
    result = query(http, handle, amazon_body("1040658")).json()["results"][0]
    recorded = json.loads((replay_dir / "amazon" / "1040658.json").read_text())
    assert result["content"] == recorded
    assert result["status_code"] == 200


@pytest.mark.parametrize(
    "body",
    [amazon_body("99999"), amazon_body("1040660", 2), amazon_body("../secrets")],
    ids=["unknown-node", "unrecorded-page", "path-escape"],
)
def test_replay_without_a_recording_is_a_faulted_job(
    sandbox: Callable[..., SandboxHandle], http, replay_dir: Path, body
) -> None:
    handle = sandbox(replay_dir=str(replay_dir))
    result = query(http, handle, body).json()["results"][0]
    assert (result["content"], result["status_code"]) == ("", 613)
    assert handle.stats()["no_data"] == 1


def test_replay_picks_ebay_pages_stably(
    sandbox: Callable[..., SandboxHandle], http, replay_dir: Path
) -> None:
    """Each (query, page) maps to one recorded page; all pages get used."""
    handle = sandbox(replay_dir=str(replay_dir))
    recorded = {
        path.read_text(encoding="utf-8") for path in (replay_dir / "ebay").iterdir()
    }
    served = []
    for text in QUERIES[:12]:
        first = query(http, handle, ebay_body(text)).json()["results"][0]["content"]
        again = query(http, handle, ebay_body(text.upper())).json()["results"][0]
        assert again["content"] == first
        served.append(first)
    assert set(served) == recorded


def test_replay_with_no_ebay_pages_is_a_faulted_job(
    sandbox: Callable[..., SandboxHandle], http, tmp_path: Path
) -> None:
    handle = sandbox(replay_dir=str(tmp_path))
    assert (
        query(http, handle, ebay_body("x")).json()["results"][0]["status_code"] == 613
    )


def test_faults_apply_in_replay_mode(
    sandbox: Callable[..., SandboxHandle], http, replay_dir: Path
) -> None:
    handle = sandbox(replay_dir=str(replay_dir), rate_429=1.0)
    assert query(http, handle, amazon_body("1040660")).status_code == 429


# --- running in a child process -------------------------------------------------------


def test_sandbox_runs_in_a_spawned_process() -> None:
    """The URL arrives over the pipe; SIGUSR1 stops the child cleanly, while the
    SIGTERM and SIGINT meant for the whole run leave it serving."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=sandbox_process_main, args=(CONFIG, sender))
    process.start()
    try:
        assert receiver.poll(20)
        url = receiver.recv()
        assert requests.get(f"{url}/health", timeout=5).json() == {"ok": True}
        for ignored in (signal.SIGTERM, signal.SIGINT):
            os.kill(process.pid, ignored)
        time.sleep(0.3)
        assert requests.get(f"{url}/health", timeout=5).json() == {"ok": True}
    finally:
        os.kill(process.pid, signal.SIGUSR1)
        process.join(10)
        receiver.close()
        sender.close()
    assert process.exitcode == 0
    process.close()


_ORPHAN_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, os
    from collect.sandbox import SandboxConfig, sandbox_process_main

    if __name__ == "__main__":
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        args = (SandboxConfig(), sender)
        context.Process(target=sandbox_process_main, args=args).start()
        print(receiver.recv(), flush=True)
        os._exit(0)
    """
)


def test_sandbox_process_stops_when_its_parent_dies(tmp_path: Path) -> None:
    """A parent killed without cleanup leaves no server behind (polled every 0.5 s)."""
    script = tmp_path / "orphan.py"
    script.write_text(_ORPHAN_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30
    )
    url = done.stdout.strip()
    assert url.startswith("http://127.0.0.1:"), done.stderr

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/health", timeout=1)
        except requests.ConnectionError:
            return
        time.sleep(0.2)
    pytest.fail("the sandbox outlived its parent")


# --- the product's parsers read what the sandbox writes ------------------------------


def test_every_synthetic_search_page_parses_to_the_truth() -> None:
    """Sellers, feedback, item ids, titles, listings, placeholders and has_next."""
    ebay_html = pytest.importorskip("collect.parsers.ebay_html")
    for text in QUERIES[:80]:
        for page in (1, 2, 3):
            truth = synth.search_page_truth(7, text, page, CONFIG)
            parsed = ebay_html.parse_search_page(
                synth.search_page_html(7, text, page, CONFIG)
            )
            assert _summary(parsed) == _summary(truth), (text, page)
            assert [s.title for s in parsed.sightings] == [
                s.title for s in truth.sightings
            ]
            assert [s.price for s in parsed.sightings] == [
                s.price for s in truth.sightings
            ]


def _summary(page: Any) -> tuple[Any, ...]:
    sellers = [
        (s.seller, s.feedback_percent, s.feedback_count, s.item_id)
        for s in page.sightings
    ]
    return page.listings, page.placeholders, page.has_next, sellers


def test_blocked_page_is_reported_blocked_by_the_parser() -> None:
    ebay_html = pytest.importorskip("collect.parsers.ebay_html")
    from collect.errors import Blocked

    with pytest.raises(Blocked):
        ebay_html.parse_search_page(synth.blocked_page_html(7, "x"))


def test_every_synthetic_bestseller_page_parses() -> None:
    """Every entry is a product or a rejection; prices without a value are rejected
    and plain prices are read exactly."""
    amazon = pytest.importorskip("collect.parsers.amazon")
    for node in range(4000, 4020):
        for page in (1, 2):
            content = synth.bestsellers_content(7, str(node), page, CONFIG)
            parsed = amazon.parse_bestsellers(content, str(node))
            entries = {entry["asin"]: entry for entry in content["results"]}
            assert len(parsed.products) + len(parsed.rejected) == len(entries)
            for product in parsed.products:
                raw = entries[product.asin].get("price")
                assert isinstance(raw, float | str) and raw not in ("", "N/A")
                if isinstance(raw, float):
                    assert product.price == raw
            for rejected in parsed.rejected:
                assert entries[rejected.asin].get("price") in (None, 0, "", "N/A")
