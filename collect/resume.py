"""What earlier runs already did, read from the store: for --resume and for
--skip-searched-within, so that no request is paid for twice."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from collect.errors import ConfigError
from collect.events import utc_timestamp
from collect.models import Product
from collect.store import Store

FINISHED = ("done", "complete")
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class Progress:
    """Tasks to skip: finished best-seller pages (with their products) and ASINs
    whose eBay search is done."""

    amazon_pages: dict[str, list[Product]] = field(default_factory=dict)
    searched: frozenset[str] = frozenset()
    # ASIN -> the first result page not yet stored, for searches cut short.
    next_page: dict[str, int] = field(default_factory=dict)


def page_key(node_id: str, page: int) -> str:
    return f"{node_id}:{page}"


def encode_products(products: list[Product] | tuple[Product, ...]) -> str:
    rows = [
        [p.asin, p.title, p.price, p.currency, p.position, p.node_id] for p in products
    ]
    return orjson.dumps(rows).decode()


def decode_products(payload: str | None) -> list[Product]:
    return [Product(*row) for row in orjson.loads(payload or "[]")]


def parse_duration(text: str) -> float:
    """`90s`, `30m`, `12h`, `7d`, `2w` -> seconds; the unit is required."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise ConfigError(
            f"bad duration {text!r}", hint="write a number and a unit: 30m, 12h, 7d"
        )
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def unfinished_run(store: Store) -> dict[str, Any]:
    """The latest run, which must not have finished; its settings say what to redo."""
    run = store.latest_run()
    if run is None:
        raise ConfigError("nothing to resume: this store has no run yet")
    if run["status"] in FINISHED:
        raise ConfigError(
            f"nothing to resume: the last run ({run['run_id']}) finished",
            hint="start a new run; --skip-searched-within skips recent searches",
        )
    return run


def load_progress(store: Store, job_id: str) -> Progress:
    pages = store.load_progress(job_id, "amazon")
    searched = set(store.load_progress(job_id, "ebay"))
    next_page: dict[str, int] = {}
    for key, last in store.load_progress(job_id, "ebay-page").items():
        asin, _, page = key.rpartition(":")
        if last:
            searched.add(asin)
        next_page[asin] = max(next_page.get(asin, 1), int(page) + 1)
    return Progress(
        {key: decode_products(payload) for key, payload in pages.items()},
        frozenset(searched),
        {asin: page for asin, page in next_page.items() if asin not in searched},
    )


def searched_within(store: Store, seconds: float, now: float | None = None) -> set[str]:
    cutoff = (time.time() if now is None else now) - seconds
    return store.searched_since(utc_timestamp(cutoff))
