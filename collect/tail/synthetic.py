"""Synthetic activity streams shaped like `collect run` output, for tests and demos.

A run is simulated rather than assembled: workers take Amazon tasks first, then one
eBay task per product, each request may succeed, be rate limited or fail with any
error type and be retried, and the writer's pipeline events and the phase and run
`complete` events follow. Events are built with `create_activity_event`, so a field
the schema does not know fails here first. The same seed gives the same stream.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from collect.events import EventIds, create_activity_event, utc_timestamp
from collect.tail.stream import Event

START = 1_790_000_000.0  # 2026-09-21 UTC: a fixed origin keeps streams reproducible.
CATEGORY_NAMES = (
    "Electronics",
    "Home & Kitchen",
    "Toys & Games",
    "Beauty",
    "Sports & Outdoors",
    "Pet Supplies",
    "Office Products",
    "Tools & Home Improvement",
)
WORDS = ("wireless", "portable", "steel", "kit", "pro", "mini", "smart", "led", "usb")
# Outcome of one request: (weight, action, error_type, error_stage, http_status).
OUTCOMES = (
    (860, "found", None, None, None),
    (40, "rate_limited", "rate_limit", "api", 429),
    (25, "error", "timeout", "api", None),
    (20, "error", "http_error", "api", 503),
    (12, "error", "connection", "api", None),
    (12, "error", "blocked", "api", None),
    (11, "error", "api_error", "api", None),
    (20, "error", "parse_error", None, None),
)
ATTEMPTS = 3
PRODUCTS_PER_PAGE = 50
# Roughly how many events one category brings, to size a run from an event count.
EVENTS_PER_CATEGORY = 240


@dataclass
class Item:
    """One task: an Amazon category or one product's eBay search."""

    phase: str
    category: str
    node_id: str = ""
    asin: str = ""
    title: str = ""


class RunSimulator:
    """One simulated run; iterate it for `(time, event dict)` in time order."""

    def __init__(
        self, rng: random.Random, events: int, workers: int, start: float, run: str
    ) -> None:
        self.rng = rng
        self.workers = workers
        self.start = start
        self.run_id = run
        self.ids = {wid: EventIds(run, wid) for wid in range(workers + 1)}
        categories = max(1, round(events / EVENTS_PER_CATEGORY))
        self.amazon = [self._category(i) for i in range(categories)]
        self.categories = categories
        self.amazon_left = categories
        self.ebay: list[Item] = []
        self.seen_asins: set[str] = set()
        self.counts = {"amazon": _counter(), "ebay": _counter()}
        self.pending_sightings = 0
        self.last_time = start

    def __iter__(self) -> Iterator[tuple[float, dict[str, Any]]]:
        heap = []
        for wid in range(1, self.workers + 1):
            worker = self._worker(wid, self.start + wid * 0.05)
            first = next(worker, None)
            if first is not None:
                heap.append((first[0], wid, first[1], worker))
        heapq.heapify(heap)
        while heap:
            when, wid, event, worker = heapq.heappop(heap)
            self.last_time = max(self.last_time, when)
            if event is not None:
                yield when, event
            following = next(worker, None)
            if following is not None:
                heapq.heappush(heap, (following[0], wid, following[1], worker))
        yield from self._finish()

    # -- tasks ------------------------------------------------------------------------

    def _category(self, index: int) -> Item:
        name = CATEGORY_NAMES[index % len(CATEGORY_NAMES)]
        return Item(
            "amazon", f"{name} {index // len(CATEGORY_NAMES) + 1}", str(1000 + index)
        )

    def _take(self) -> Item | None:
        if self.amazon:
            return self.amazon.pop()
        if self.ebay:
            return self.ebay.pop(self.rng.randrange(min(len(self.ebay), 8)))
        return None

    def _worker(self, wid: int, now: float) -> Iterator[tuple[float, Event | None]]:
        while True:
            item = self._take()
            if item is None:
                if self.amazon_left:
                    # Amazon pages still in flight will bring products: wait a bit,
                    # handing the turn to the other workers.
                    now += 1.0
                    yield now, None
                    continue
                return
            if self.rng.random() < 0.0005:
                yield now, self._event(0, item.phase, "error", **_lost(wid))
                # The coordinator puts a lost worker's task back in the queue.
                (self.ebay if item.phase == "ebay" else self.amazon).append(item)
                now += 2.0
                continue
            pages = 1 if item.phase == "amazon" else self.rng.choice((1, 1, 2, 3))
            for page in range(1, pages + 1):
                now = yield from self._request(wid, item, page, now)
                if now < 0:
                    break
                now += self.rng.uniform(0.03, 0.08)
            now = abs(now)
            if item.phase == "amazon":
                self.amazon_left -= 1
                if not self.amazon_left:
                    yield now, self._phase_complete("amazon")

    def _request(
        self, wid: int, item: Item, page: int, now: float
    ) -> Iterator[tuple[float, dict[str, Any]]]:
        """Every attempt of one page; returns the time, negated when it gave up."""
        context, url, params = self._context(item, page)
        failures = 0
        for attempt in range(1, ATTEMPTS + 3):
            self.counts[item.phase]["requests"] += 1
            yield (
                now,
                self._event(
                    wid,
                    item.phase,
                    "fetching",
                    url=url,
                    api_params=params,
                    attempt=attempt,
                    started_at=utc_timestamp(now),
                    **context,
                ),
            )
            action, error_type, stage, status = self._outcome()
            duration = self._duration(item.phase, error_type)
            now += duration / 1000
            if action == "found":
                yield from self._found(wid, item, page, now, duration, url, params)
                return now
            failures += action == "error"
            retry_ms = (
                self.rng.choice((1000, 2000, 5000)) if failures < ATTEMPTS else None
            )
            stage = stage or (
                "seller_extraction" if item.phase == "ebay" else "product_extraction"
            )
            yield (
                now,
                self._event(
                    wid,
                    item.phase,
                    action,
                    url=url,
                    attempt=attempt,
                    duration_ms=duration,
                    error_type=error_type,
                    error_stage=stage,
                    http_status=status,
                    error_message=_message(error_type, status),
                    retry_after_ms=retry_ms,
                    **context,
                ),
            )
            if failures >= ATTEMPTS:
                return -now
            now += (retry_ms or 0) / 1000
        return -now

    def _found(
        self,
        wid: int,
        item: Item,
        page: int,
        now: float,
        duration: int,
        url: str,
        params: dict[str, Any],
    ) -> Iterator[tuple[float, dict[str, Any]]]:
        context, _, _ = self._context(item, page)
        counts = self.counts[item.phase]
        counts["pages"] += 1
        if item.phase == "amazon":
            count = PRODUCTS_PER_PAGE
        else:
            count = self.rng.choice((0, 0, 3, 8, 12, 20, 35))
            counts["sightings"] += count
        unique = count if item.phase == "amazon" else self.rng.randint(0, count)
        yield (
            now,
            self._event(
                wid,
                item.phase,
                "found",
                url=url,
                api_params=params,
                duration_ms=duration,
                items_count=count,
                new_sellers_count=unique,
                **context,
            ),
        )
        if item.phase == "amazon":
            yield from self._products(wid, item, now)
        else:
            yield from self._sightings(wid, count, now)

    def _products(
        self, wid: int, item: Item, now: float
    ) -> Iterator[tuple[float, dict[str, Any]]]:
        fresh = 0
        for position in range(PRODUCTS_PER_PAGE):
            asin = f"B0{self.rng.randrange(10**8):08d}"
            title = " ".join(self.rng.choices(WORDS, k=6)) + f" #{position}"
            if self.rng.random() < 0.04:
                yield (
                    now,
                    self._event(
                        wid,
                        "amazon",
                        "error",
                        category=item.category,
                        product_name=title,
                        asin=asin,
                        error_type="parse_error",
                        error_stage="price_parsing",
                        error_message="no usable price ('N/A'); not searched",
                    ),
                )
                self.counts["amazon"]["products_rejected"] += 1
                continue
            if asin in self.seen_asins:
                continue
            self.seen_asins.add(asin)
            self.ebay.append(Item("ebay", item.category, asin=asin, title=title))
            fresh += 1
        self.counts["amazon"]["products"] += fresh
        yield (
            now + 0.01,
            self._event(
                0,
                "amazon",
                "uploading",
                items_count=fresh,
                source_worker_id=wid,
                operation_type="product_batch",
            ),
        )

    def _sightings(
        self, wid: int, count: int, now: float
    ) -> Iterator[tuple[float, dict[str, Any]]]:
        self.pending_sightings += count
        if self.pending_sightings < 60:
            return
        total, self.pending_sightings = self.pending_sightings, 0
        dupes = self.rng.randint(0, total // 4)
        new = self.rng.randint(0, total - dupes)
        known = total - dupes - new
        for offset, (action, items, operation) in enumerate(
            (
                ("deduped", dupes, "seller_dedupe"),
                ("inserted", new, "seller_insert"),
                ("updated", known, "seller_update"),
            )
        ):
            yield (
                now + 0.01 * (offset + 1),
                self._event(
                    0,
                    "ebay",
                    action,
                    items_count=items,
                    source_worker_id=wid,
                    operation_type=operation,
                ),
            )

    # -- details ------------------------------------------------------------------

    def _context(
        self, item: Item, page: int
    ) -> tuple[dict[str, Any], str, dict[str, Any]]:
        if item.phase == "amazon":
            url = f"https://www.amazon.com/gp/bestsellers/{item.node_id}?pg={page}"
            return (
                {"category": item.category},
                url,
                {"node_id": item.node_id, "page": page},
            )
        query = item.title[:50]
        keywords = query.replace(" ", "+")
        url = f"https://www.ebay.com/sch/i.html?_nkw={keywords}&_pgn={page}"
        params = {"query": query, "price_min": 16, "price_max": 24, "page": page}
        context = {
            "category": item.category,
            "product_name": item.title,
            "asin": item.asin,
        }
        return context, url, params

    def _outcome(self) -> tuple[str, str | None, str | None, int | None]:
        weights = [outcome[0] for outcome in OUTCOMES]
        _, action, error_type, stage, status = self.rng.choices(OUTCOMES, weights)[0]
        return action, error_type, stage, status

    def _duration(self, phase: str, error_type: str | None) -> int:
        if error_type == "timeout":
            return 30_000
        median = 2500 if phase == "amazon" else 1200
        return max(40, round(self.rng.lognormvariate(0, 0.5) * median))

    def _event(
        self, wid: int, phase: str, action: str, **fields: Any
    ) -> dict[str, Any]:
        fields = {name: value for name, value in fields.items() if value is not None}
        fields["run_id"] = self.run_id
        event = create_activity_event(
            wid, phase, action, id=self.ids[wid].next(), timestamp="", **fields
        )
        return event.to_dict()

    def _phase_complete(self, phase: str) -> dict[str, Any]:
        totals: dict[str, Any] = dict(self.counts[phase])
        if phase == "amazon":
            totals["categories"] = self.categories
        return self._event(0, phase, "complete", operation_type="phase", totals=totals)

    def _finish(self) -> Iterator[tuple[float, dict[str, Any]]]:
        end = self.last_time + 0.2
        if self.amazon_left:
            yield end, self._phase_complete("amazon")
        yield end, self._phase_complete("ebay")
        totals = {
            "status": "done",
            "elapsed_s": round(end - self.start, 3),
            "requests": sum(c["requests"] for c in self.counts.values()),
            "rounds": 0,
        }
        yield (
            end + 0.01,
            self._event(0, "ebay", "complete", operation_type="run", totals=totals),
        )


def _counter() -> Counter[str]:
    return Counter({"requests": 0, "pages": 0, "sightings": 0})


def _lost(wid: int) -> dict[str, Any]:
    return {
        "error_type": "worker_lost",
        "error_stage": "api",
        "source_worker_id": wid,
        "error_message": f"worker {wid} exited (exit code -9); its task was put back",
    }


def _message(error_type: str | None, status: int | None) -> str:
    if status:
        return f"HTTP {status} from the API"
    return {
        "timeout": "read timed out after 30 s",
        "connection": "connection reset by peer",
        "blocked": "the page is a bot check",
        "api_error": "the job was reported as faulted",
        "parse_error": "no results container in the page",
    }.get(error_type or "", "request failed")


def generate_events(
    events: int, workers: int = 4, seed: int = 1, runs: int = 1, start: float = START
) -> Iterator[tuple[float, dict[str, Any]]]:
    """`(time, event)` pairs of `runs` consecutive runs of about `events` events.

    The timestamps are filled in from the simulated time.
    """
    rng = random.Random(seed)
    for index in range(runs):
        run_id = f"r{seed:x}{index:02d}-{rng.randrange(16**6):06x}"
        simulator = RunSimulator(rng, max(1, events // runs), workers, start, run_id)
        for when, event in simulator:
            event["timestamp"] = utc_timestamp(when)
            yield when, event
        start = simulator.last_time + 60.0


def stream_lines(
    events: int, workers: int = 4, seed: int = 1, runs: int = 1
) -> list[bytes]:
    """The JSON lines (newline included) of `generate_events`, for tests."""
    return [
        orjson.dumps(event) + b"\n"
        for _, event in generate_events(events, workers, seed, runs)
    ]
