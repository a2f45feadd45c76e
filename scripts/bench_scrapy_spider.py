"""The Scrapy baseline: the eBay phase of collect as a minimal Scrapy spider.

Runs in the benchmark's own environment (bench-results/.venv-scrapy), which has
Scrapy and not collect, so nothing here imports collect. It reads a plan written by
the benchmark (per product, the Oxylabs-wrapped eBay search URLs of pages 1..N),
POSTs each page to the same sandbox collect uses, reads sellers with CSS selectors
and a regular expression, asks for the next page only when the page links one, and
writes what it counted as JSON.

    python scripts/bench_scrapy_spider.py PLAN.json RESULT.json --concurrency 6
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response

# "name 99.5% positive (3.3K)": the row a seller's name and feedback share.
SELLER_ROW = re.compile(r"^(?P<name>\S+)\s+(?P<percent>[\d.]+)%\s*positive\s*\(")
SELLER_TEXT = ".su-card-container__attributes__secondary span.su-styled-text::text"


class EbaySearchSpider(scrapy.Spider):
    name = "ebay_search"

    def __init__(self, api_url: str, plan: list[list[str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint = api_url.rstrip("/") + "/v1/queries"
        self.plan = plan
        token = base64.b64encode(b"sandbox:sandbox").decode()
        self.headers = {
            "Content-Type": "application/json",
            "Authorization": f"Basic {token}",
        }
        self.pages = 0
        self.sightings = 0
        self.sellers: set[str] = set()
        self.first_request: float | None = None
        self.last_response: float | None = None

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        # Scrapy before 2.13 calls this one; later versions call start().
        self.first_request = time.monotonic()
        for product in range(len(self.plan)):
            yield self.page_request(product, 0)

    def page_request(self, product: int, page: int) -> scrapy.Request:
        body = {
            "source": "universal",
            "url": self.plan[product][page],
            "geo_location": "United States",
        }
        return scrapy.Request(
            self.endpoint,
            method="POST",
            body=json.dumps(body),
            headers=self.headers,
            callback=self.parse_page,
            cb_kwargs={"product": product, "page": page},
            dont_filter=True,
        )

    def parse_page(self, response: Response, product: int, page: int) -> Iterator[Any]:
        html = json.loads(response.body)["results"][0]["content"]
        selector = scrapy.Selector(text=html)
        self.pages += 1
        for card in selector.css("ul.srp-results li.s-card"):
            row = " ".join(card.css(SELLER_TEXT).getall())
            match = SELLER_ROW.search(row.strip())
            if match:
                self.sightings += 1
                self.sellers.add(match["name"].casefold())
                yield {"seller": match["name"], "percent": match["percent"]}
        has_next = bool(selector.css("a.pagination__next"))
        if has_next and page + 1 < len(self.plan[product]):
            yield self.page_request(product, page + 1)
        self.last_response = time.monotonic()


def main() -> None:
    args = _parse_args()
    with open(args.plan, encoding="utf-8") as plan_file:
        plan = json.load(plan_file)
    process = CrawlerProcess(
        {
            "CONCURRENT_REQUESTS": args.concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
            "DOWNLOAD_DELAY": 0,
            "DOWNLOAD_TIMEOUT": 5,
            "ROBOTSTXT_OBEY": False,
            # As many tries on a 429 as collect waits out (8), so neither side
            # loses pages merely by giving up sooner.
            "RETRY_TIMES": args.retry_times,
            "LOG_LEVEL": "WARNING",
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    crawler = process.create_crawler(EbaySearchSpider)
    process.crawl(crawler, api_url=args.url, plan=plan)
    process.start()
    _write_result(args.result, crawler.spider, crawler.stats.get_stats())


def _write_result(path: str, spider: Any, stats: dict[str, Any]) -> None:
    elapsed = (spider.last_response or 0.0) - (spider.first_request or 0.0)
    result = {
        "pages": spider.pages,
        "sightings": spider.sightings,
        "sellers": len(spider.sellers),
        "elapsed_s": elapsed,
        "requests": stats.get("downloader/request_count", 0),
        "http_429": stats.get("downloader/response_status_count/429", 0),
        "gave_up": stats.get("retry/max_reached", 0),
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(result, out)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan")
    parser.add_argument("result")
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--retry-times", type=int, default=8)
    return parser.parse_args()


if __name__ == "__main__":
    main()
