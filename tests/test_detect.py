"""Recognising a saved file by its content (`collect parse FILE`)."""

from __future__ import annotations

import contextlib
import random
from pathlib import Path

import orjson
import pytest

from collect.errors import (
    Blocked,
    CollectError,
    EmptyCategory,
    FaultedJob,
    ParseError,
)
from collect.parsers.detect import KINDS, detect_and_parse

# path under samples/: (kind, sightings, products, rejected, listings or None)
SAMPLE_KINDS = {
    "ebay-search-html/scard-pokemon-us.html": ("ebay_page", 60, 0, 0, 60),
    "ebay-search-html/scard-grid-no-sellers-idr.html": ("ebay_page", 0, 0, 0, 60),
    "ebay-search-html/sitem-shirts-us-2025.html": ("ebay_page", 0, 0, 0, 60),
    "ebay-browse-api/search-iphone-100.json": ("browse_search", 100, 0, 0, 100),
    "ebay-browse-api/search-docs-sample.json": ("browse_search", 3, 0, 0, 3),
    "oxylabs/assembled-bestsellers-1040660.json": (
        "oxylabs_bestsellers",
        0,
        25,
        5,
        None,
    ),
    "oxylabs/assembled-bestsellers-1040658.json": (
        "oxylabs_bestsellers",
        0,
        12,
        18,
        None,
    ),
    "amazon/rainforest-bestsellers-sample.json": ("bestsellers", 0, 10, 0, None),
    "amazon/bestsellers-6-categories-no-prices.json": ("bestsellers", 0, 0, 36, None),
}


def _figures(data: bytes) -> tuple[object, ...]:
    parsed = detect_and_parse(data)
    listings = parsed.page.listings if parsed.page is not None else None
    return (
        parsed.kind,
        len(parsed.sightings),
        len(parsed.products),
        len(parsed.rejected),
        listings,
    )


@pytest.mark.parametrize(
    ("path", "figures"),
    SAMPLE_KINDS.items(),
    ids=[p.split("/")[1] for p in SAMPLE_KINDS],
)
def test_samples_are_recognised(
    samples: Path, path: str, figures: tuple[object, ...]
) -> None:
    """Each recorded file is parsed as its kind, with the README's figures."""
    assert _figures((samples / path).read_bytes()) == figures


def test_kinds_are_the_documented_ones(samples: Path) -> None:
    """Every kind the samples produce is one of the published names."""
    assert {figures[0] for figures in SAMPLE_KINDS.values()} | {
        "oxylabs_ebay_page"
    } == set(KINDS)


def test_ebay_page_inside_oxylabs_answer(samples: Path) -> None:
    """HTML in `results[0].content` is parsed as an eBay page."""
    html = (samples / "ebay-search-html" / "scard-pokemon-us-2.html").read_text()
    answer = {"results": [{"content": html, "status_code": 200, "page": 1}]}
    parsed = detect_and_parse(orjson.dumps(answer))
    assert parsed.page is not None
    assert (parsed.kind, parsed.page.listings, parsed.page.unique_sellers) == (
        "oxylabs_ebay_page",
        60,
        42,
    )


@pytest.mark.parametrize("wrapped", [False, True], ids=["raw", "in-oxylabs-answer"])
def test_blocked_page(samples: Path, wrapped: bool) -> None:
    """A bot check is Blocked, whether saved raw or inside an Oxylabs answer."""
    html = (samples / "ebay-search-html" / "blocked-challenge.html").read_bytes()
    answer = {"results": [{"content": html.decode(), "status_code": 200}]}
    with pytest.raises(Blocked):
        detect_and_parse(orjson.dumps(answer) if wrapped else html)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("oxylabs/amazon_faulted_amazon_bestsellers_613.json", FaultedJob),
        ("oxylabs/amazon_faulted_entry_status_400.json", FaultedJob),
        ("oxylabs/api_realtime_faulted_job.json", FaultedJob),
        ("ebay-browse-api/error-1001-invalid-token.json", ParseError),
        ("oxylabs/bing-search-envelope.json", ParseError),
        ("amazon/categories-75.json", ParseError),
        ("amazon/bestsellers-fashion.csv", ParseError),
        ("oxylabs/api_error_responses.txt", ParseError),
    ],
    ids=[
        "faulted-613",
        "faulted-entry-400",
        "faulted-universal",
        "browse-1001",
        "bing",
        "catalogue",
        "csv",
        "http-captures",
    ],
)
def test_samples_that_are_errors(samples: Path, path: str, error: type) -> None:
    """Failed jobs, API errors and foreign files raise the matching error."""
    with pytest.raises(error):
        detect_and_parse((samples / path).read_bytes())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"hello",
        b"\xff\xfe\x00\x01",
        b"\x00\x00",
        b"{not json",
        b"null",
        b"42",
        b'"text"',
        b'{"foo": 1}',
        b"[1, 2, 3]",
        b"<html><body><p>not a shop</p></body></html>",
    ],
    ids=[
        "empty",
        "blank",
        "text",
        "invalid-utf8",
        "nul",
        "bad-json",
        "json-null",
        "json-number",
        "json-string",
        "unknown-object",
        "number-list",
        "other-html",
    ],
)
def test_unknown_content(data: bytes) -> None:
    """Unknown content is a ParseError; the message lists what is recognised."""
    with pytest.raises(ParseError) as caught:
        detect_and_parse(data)
    assert not isinstance(caught.value, EmptyCategory)
    assert "recognised: an eBay search page (HTML)" in str(caught.value)


def test_oxylabs_error_body_quotes_the_message() -> None:
    """An Oxylabs error body names the API's own reason."""
    with pytest.raises(ParseError, match="Too many requests"):
        detect_and_parse(b'{"message": "Too many requests. (Total Dynamic)."}')


def test_byte_order_mark_is_ignored(samples: Path) -> None:
    """A file saved with a UTF-8 BOM is recognised like one without."""
    data = (samples / "ebay-browse-api" / "search-docs-sample.json").read_bytes()
    assert _figures(b"\xef\xbb\xbf" + data) == _figures(data)


def test_empty_category_passes_through() -> None:
    """An empty best-seller node stays an EmptyCategory for the user to see."""
    answer = {"results": [{"content": {"title": "Best undefined", "results": []}}]}
    with pytest.raises(EmptyCategory):
        detect_and_parse(orjson.dumps(answer))


def test_node_id_from_query(samples: Path) -> None:
    """Products of an Oxylabs answer carry the node id Oxylabs echoes in `query`."""
    data = (samples / "oxylabs" / "assembled-bestsellers-1040660.json").read_bytes()
    assert {p.node_id for p in detect_and_parse(data).products} == {"1040660"}


def test_non_bytes_input() -> None:
    """A caller passing text instead of bytes gets a ParseError."""
    with pytest.raises(ParseError):
        detect_and_parse("<html></html>")  # type: ignore[arg-type]


def _mutations(data: bytes, seed: int, count: int) -> list[bytes]:
    """Copies of `data` with bytes flipped, markup injected and spans cut out."""
    rng = random.Random(seed)
    inserts = [b"<", b'"', b"{", b"]", b"\x00", b"\xff", b"% positive (", b"</li>"]
    mutated = []
    for _ in range(count):
        copy = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            at = rng.randrange(len(copy))
            choice = rng.random()
            if choice < 0.4:
                copy[at] = rng.randrange(256)
            elif choice < 0.7:
                copy[at:at] = rng.choice(inserts)
            else:
                del copy[at : at + rng.randint(1, 200)]
        mutated.append(bytes(copy))
    return mutated


@pytest.mark.parametrize(
    "path",
    [
        "ebay-browse-api/search-docs-sample.json",
        "oxylabs/assembled-bestsellers-1040658.json",
        "oxylabs/api_realtime_faulted_job.json",
        "ebay-search-html/blocked-challenge.html",
        "amazon/rainforest-bestsellers-sample.json",
    ],
    ids=["browse", "bestsellers", "faulted", "blocked", "rainforest"],
)
def test_mutated_samples_raise_only_project_errors(samples: Path, path: str) -> None:
    """Damaged files give a result or one of the project's errors, never a crash."""
    for data in _mutations((samples / path).read_bytes(), seed=len(path), count=100):
        with contextlib.suppress(CollectError):
            detect_and_parse(data)
