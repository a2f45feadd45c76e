"""One worker's task: attempts, events, retries and outcomes, over a mocked API."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
import responses

from collect.models import Product
from collect.settings import Credentials, RetryPolicy, RunSettings
from collect.worker import AmazonTask, EbayTask, Worker

BASE = "http://127.0.0.1:9"
ENDPOINT = f"{BASE}/v1/queries"

SCARD_PAGE = """<html><body><ul class="srp-results">
<li class="s-card" data-listingid="1"><div class="s-card__title">
<span>Blue Mug</span></div>
<a class="s-card__link" href="https://www.ebay.com/itm/111111111111">x</a>
<span class="s-card__price">$9.99</span>
<div class="s-card__attribute-row">
<span class="su-styled-text primary">mug.seller </span>
<span class="su-styled-text primary">99.5% positive (3.3K)</span></div></li>
</ul></body></html>"""


def settings(**overrides: Any) -> RunSettings:
    values: dict[str, Any] = {
        "run_id": "r1",
        "node_ids": (("1040660", "Women"),),
        "oxylabs_url": BASE,
        "oxylabs": Credentials("u", "p"),
        "retry": RetryPolicy(attempts=3, backoff_base=0.01),
        "ebay_pages": 2,
    }
    values.update(overrides)
    return RunSettings(**values)


class Recorder:
    """Collects what a worker puts on the writer's queue."""

    def __init__(self) -> None:
        self.messages: list[tuple[Any, ...]] = []

    def __call__(self, message: tuple[Any, ...]) -> None:
        self.messages.append(message)

    @property
    def events(self) -> list[dict[str, Any]]:
        lines = [line for m in self.messages if m[0] == "lines" for line in m[1]]
        return [orjson.loads(line) for line in lines]

    def actions(self) -> list[str]:
        return [e["action"] for e in self.events]


def make_worker(recorder: Recorder, sleeps: list[float], **overrides: Any) -> Worker:
    return Worker(3, settings(**overrides), recorder, sleep=sleeps.append)


def envelope(content: Any, status_code: int = 200) -> dict[str, Any]:
    return {"results": [{"content": content, "status_code": status_code, "page": 1}]}


def bestsellers(*items: dict[str, Any]) -> dict[str, Any]:
    return envelope(
        {"title": "Best Sellers in Women's Clothing", "results": list(items)}
    )


PRODUCT = Product("B000000001", "Blue Mug", 10.0, "USD", 1, "1040660")


@responses.activate
def test_retries_until_success_and_reports_each_attempt() -> None:
    """503, then 429 with Retry-After, then success: three attempts, all reported."""
    responses.add(responses.POST, ENDPOINT, status=503)
    responses.add(responses.POST, ENDPOINT, status=429, headers={"Retry-After": "2"})
    item = {"asin": "B000000001", "title": "Blue Mug", "price": 10.5, "pos": 1}
    responses.add(responses.POST, ENDPOINT, json=bestsellers(item))
    recorder, sleeps = Recorder(), []
    result = make_worker(recorder, sleeps).execute(AmazonTask("1040660", "Women"))

    assert result.status == "done"
    assert [p.asin for p in result.products] == ["B000000001"]
    assert result.requests == 3
    assert recorder.actions() == [
        "fetching", "error", "fetching", "rate_limited", "fetching", "found",
    ]  # fmt: skip
    error, limited, found = (recorder.events[i] for i in (1, 3, 5))
    assert (error["error_type"], error["http_status"]) == ("http_error", 503)
    assert (limited["error_type"], limited["retry_after_ms"]) == ("rate_limit", 2000)
    assert [e["attempt"] for e in recorder.events if e["action"] == "fetching"] == [
        1, 2, 3,
    ]  # fmt: skip
    assert found["api_params"] == {"node_id": "1040660", "page": 1}
    assert isinstance(found["duration_ms"], int)
    assert sleeps[1] == 2.0


@responses.activate
def test_gives_up_after_the_allowed_attempts_and_defers() -> None:
    """Three server errors in a row: the task is deferred, not lost."""
    for _ in range(3):
        responses.add(responses.POST, ENDPOINT, status=500)
    recorder, sleeps = Recorder(), []
    result = make_worker(recorder, sleeps).execute(AmazonTask("1040660", "Women"))
    assert result.status == "deferred"
    assert result.requests == 3
    assert len(sleeps) == 2
    assert recorder.actions().count("error") == 3


@responses.activate
def test_refused_credentials_are_fatal_at_once() -> None:
    """HTTP 401 is not retried: the run must stop and say so."""
    responses.add(responses.POST, ENDPOINT, status=401, json={"message": "bad"})
    recorder, sleeps = Recorder(), []
    result = make_worker(recorder, sleeps).execute(AmazonTask("1040660", "Women"))
    assert (result.status, result.requests, sleeps) == ("fatal", 1, [])


@responses.activate
def test_faulted_job_is_an_api_error_and_retried() -> None:
    """HTTP 200 with status_code 613 inside is a failed job: api_error, retried."""
    responses.add(responses.POST, ENDPOINT, json=envelope("", 613))
    responses.add(responses.POST, ENDPOINT, json=envelope(SCARD_PAGE))
    recorder, sleeps = Recorder(), []
    result = make_worker(recorder, sleeps).execute(EbayTask(PRODUCT, "Women"))
    assert result.status == "done"
    errors = [e for e in recorder.events if e["action"] == "error"]
    assert [e["error_type"] for e in errors] == ["api_error"]


@responses.activate
def test_products_without_price_are_reported_not_searched() -> None:
    """A product with no usable price becomes an error at stage price_parsing."""
    items = [
        {"asin": "B000000001", "title": "Priced", "price": 12.0, "pos": 1},
        {"asin": "B000000002", "title": "Unpriced", "price": 0, "pos": 2},
    ]
    responses.add(responses.POST, ENDPOINT, json=bestsellers(*items))
    recorder, sleeps = Recorder(), []
    result = make_worker(recorder, sleeps).execute(AmazonTask("1040660", "Women"))
    assert [p.asin for p in result.products] == ["B000000001"]
    assert result.rejected == 1
    rejected = [e for e in recorder.events if e.get("error_stage") == "price_parsing"]
    assert [e["asin"] for e in rejected] == ["B000000002"]


@responses.activate
def test_ebay_task_sends_sightings_and_stops_without_next_page() -> None:
    """One page with no next link: one request, its sightings, one found event."""
    responses.add(responses.POST, ENDPOINT, json=envelope(SCARD_PAGE))
    recorder, sleeps = Recorder(), []
    result = make_worker(recorder, sleeps).execute(EbayTask(PRODUCT, "Women"))
    assert (result.status, result.pages, result.requests) == ("done", 1, 1)
    sightings = [m for m in recorder.messages if m[0] == "sightings"]
    done = ("r1", "ebay-page", "B000000001:1", "last")
    assert sightings == [("sightings", 3, "B000000001", sightings[0][3], [
        ("mug.seller", 99.5, 3300),
    ], done)]  # fmt: skip
    payload = json.loads(responses.calls[0].request.body)
    assert payload["source"] == "universal"
    assert payload["url"].startswith("https://www.ebay.com/sch/i.html?_nkw=Blue+Mug")
    found = recorder.events[-1]
    assert (found["action"], found["items_count"], found["new_sellers_count"]) == (
        "found", 1, 1,
    )  # fmt: skip


@responses.activate
def test_credentials_never_reach_the_events() -> None:
    """The password is sent as basic auth and appears in no event."""
    responses.add(responses.POST, ENDPOINT, status=500, body="p p p")
    recorder = Recorder()
    Worker(
        1,
        settings(oxylabs=Credentials("user", "s3cret-pass"), retry=RetryPolicy(1)),
        recorder,
        sleep=lambda _: None,
    ).execute(AmazonTask("1", "x"))
    assert b"s3cret-pass" not in orjson.dumps(recorder.events)
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


@pytest.mark.parametrize("pages", [1, 2], ids=["one-page", "two-pages"])
@responses.activate
def test_ebay_pages_bound_the_walk(pages: int) -> None:
    """With a next link on every page, the walk stops at --ebay-pages."""
    paged = SCARD_PAGE.replace(
        "</ul>",
        '</ul><nav class="pagination"><a class="pagination__next" '
        'href="https://www.ebay.com/sch/i.html?_pgn=2">next</a></nav>',
    )
    for _ in range(pages):
        responses.add(responses.POST, ENDPOINT, json=envelope(paged))
    recorder = Recorder()
    worker = make_worker(recorder, [], ebay_pages=pages)
    result = worker.execute(EbayTask(PRODUCT, "Women"))
    assert (result.pages, result.requests) == (pages, pages)
