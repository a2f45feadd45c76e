"""The bare-client baseline: collect's HTTP client and parser, nothing around them.

N threads walk the same plan as the pipeline's eBay phase (per product, pages 1..N
until a page has no next one) with collect's `OxylabsClient` and
`parse_search_page`, and no events, processes, writer or store. What it costs is
the least any client pays for the same pages; the pipeline's overhead is the rest.

    python scripts/bench_client.py PLAN.json RESULT.json --url URL --workers 6
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from collect.parsers.ebay_html import parse_search_page
from collect.providers.http import make_session
from collect.providers.oxylabs import OxylabsClient
from collect.settings import Credentials

_local = threading.local()


def _client(url: str) -> OxylabsClient:
    if not hasattr(_local, "client"):
        credentials = Credentials("sandbox", "sandbox")
        _local.client = OxylabsClient(make_session(), url, credentials, (10.0, 5.0))
    return _local.client


def walk_product(url: str, pages: list[str]) -> tuple[int, list[str]]:
    """Fetch one product's result pages in order; (pages fetched, seller names)."""
    sellers: list[str] = []
    fetched = 0
    for page_url in pages:
        result = _client(url).universal(page_url)
        page = parse_search_page(str(result.content))
        fetched += 1
        sellers += [sighting.seller for sighting in page.sightings]
        if not page.has_next:
            break
    return fetched, sellers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan")
    parser.add_argument("result")
    parser.add_argument("--url", required=True)
    parser.add_argument("--workers", type=int, default=6)
    args = parser.parse_args()
    with open(args.plan, encoding="utf-8") as plan_file:
        plan = json.load(plan_file)

    started = time.monotonic()
    with ThreadPoolExecutor(args.workers) as pool:
        walks = list(pool.map(lambda pages: walk_product(args.url, pages), plan))
    elapsed = time.monotonic() - started

    names = [name for _, sellers in walks for name in sellers]
    result = {
        "pages": sum(fetched for fetched, _ in walks),
        "sightings": len(names),
        "sellers": len({name.casefold() for name in names}),
        "elapsed_s": elapsed,
    }
    with open(args.result, "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
