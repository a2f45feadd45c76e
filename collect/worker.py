"""A worker process: takes one task at a time from the coordinator and runs it.

A task is one Amazon best-seller page or one product's eBay search (all its result
pages). The worker talks to the APIs, retries with backoff, and sends every step as an
event, and every seller it sees as a sighting, to the writer's queue. It returns a
`TaskResult` to the coordinator over its own pipe; it never touches the output or the
store.
"""

from __future__ import annotations

import logging
import multiprocessing
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from collect.errors import (
    Blocked,
    EmptyCategory,
    FetchError,
    HttpError,
    ParseError,
    RateLimited,
)
from collect.events import EventIds, create_activity_event, utc_timestamp
from collect.limits import BudgetExhausted, RequestGate
from collect.logs import setup_logging
from collect.models import Product, RejectedProduct, SearchPage
from collect.parsers.amazon import parse_bestsellers
from collect.parsers.ebay_html import parse_search_page
from collect.providers.ebay_browse import (
    BrowseClient,
    DailyBudget,
    DailyBudgetExhausted,
    budget_path,
)
from collect.providers.http import make_session
from collect.providers.oxylabs import OxylabsClient, bestsellers_url
from collect.providers.token import SharedToken
from collect.search import SearchRequest, search_request
from collect.settings import RetryPolicy, RunSettings
from collect.signals import leave_signals_to_the_coordinator

log = logging.getLogger(__name__)

T = TypeVar("T")
Put = Callable[[tuple[Any, ...]], None]

# HTTP statuses that no retry can fix: the whole run is misconfigured.
FATAL_STATUSES = (401, 403, 407)


@dataclass(frozen=True)
class AmazonTask:
    node_id: str
    category: str
    page: int = 1


@dataclass(frozen=True)
class EbayTask:
    product: Product
    category: str
    start_page: int = 1


Task = AmazonTask | EbayTask


@dataclass(frozen=True)
class TaskResult:
    """What the coordinator needs back: status, new work, and counts for the totals.

    status: `done`; `deferred` (a retryable failure: try again later from
    `resume_page`); `failed` (no retry can help); `empty` (a category with no best
    sellers); `budget` (the request budget is spent: the task was not finished);
    `fatal` (the credentials were refused: stop the run).
    """

    task: Task
    status: str
    requests: int = 0
    pages: int = 0
    sightings: int = 0
    products: tuple[Product, ...] = ()
    rejected: int = 0
    resume_page: int | None = None
    error_type: str | None = None
    message: str | None = None


class GiveUp(Exception):
    """Raised by `Worker.fetch` once retries are spent; wraps the last error."""

    def __init__(self, error: FetchError | ParseError, requests: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.requests = requests


class EventEmitter:
    """Builds this worker's events and sends them to the writer's queue as lines.

    Lines go in batches: one queue message costs the writer far more than one line
    (locks, a pipe read, unpickling), so a burst of events shares a message. A
    `fetching` event is sent at once (`flush=True`), since a request follows it and
    a watcher must see what the worker is waiting on.
    """

    BATCH_LINES = 64

    def __init__(self, worker_id: int, run_id: str, put: Put, incarnation: int = 0):
        self.worker_id = worker_id
        self._run_id = run_id
        self._ids = EventIds(run_id, worker_id, incarnation)
        self._put = put
        self._lines: list[bytes] = []

    def __call__(
        self, phase: str, action: str, *, flush: bool = False, **fields: Any
    ) -> None:
        event = create_activity_event(
            self.worker_id,
            phase,
            action,
            id=self._ids.next(),
            run_id=self._run_id,
            **fields,
        )
        self._lines.append(event.to_json_line())
        if flush or len(self._lines) >= self.BATCH_LINES:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            self._put(("lines", self._lines))
            self._lines = []


class Worker:
    def __init__(
        self,
        worker_id: int,
        settings: RunSettings,
        put: Put,
        *,
        incarnation: int = 0,
        gate: RequestGate | None = None,
        browse_gate: RequestGate | None = None,
        token: SharedToken | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.worker_id = worker_id
        self.settings = settings
        self.put = put
        self.gates = {"oxylabs": gate, "browse": browse_gate}
        self.emit = EventEmitter(worker_id, settings.run_id, put, incarnation)
        self.sleep = sleep
        self.client = OxylabsClient(
            make_session(),
            settings.oxylabs_url,
            settings.oxylabs,
            (settings.connect_timeout, settings.read_timeout),
        )
        self.browse = (
            self._browse_client(token) if settings.ebay_source == "browse" else None
        )

    def _browse_client(self, token: SharedToken | None) -> BrowseClient:
        settings = self.settings
        budget = DailyBudget(budget_path(settings.store), settings.browse_daily_budget)
        return BrowseClient(
            make_session(),
            settings.browse_url,
            settings.ebay,
            (settings.connect_timeout, settings.read_timeout),
            token if token is not None else SharedToken(multiprocessing.get_context()),
            limit=settings.browse_limit,
            budget=budget,
        )

    def execute(self, task: Task) -> TaskResult:
        try:
            if isinstance(task, AmazonTask):
                return self.run_amazon(task)
            return self.run_ebay(task)
        finally:
            self.emit.flush()

    # -- Amazon -------------------------------------------------------------------

    def run_amazon(self, task: AmazonTask) -> TaskResult:
        context = {"category": task.category}
        params = {"node_id": task.node_id, "page": task.page}
        url = bestsellers_url(task.node_id, task.page)

        def call() -> Any:
            result = self.client.bestsellers(task.node_id, task.page)
            return parse_bestsellers(result.content, task.node_id)

        try:
            page, duration_ms, requests = self.fetch(
                "amazon", context, url, params, call
            )
        except GiveUp as stop:
            return _failure(task, stop)
        self.emit(
            "amazon",
            "found",
            url=url,
            api_params=params,
            duration_ms=duration_ms,
            items_count=len(page.products),
            **context,
        )
        for rejected in page.rejected:
            self._report_rejected(task, rejected)
        return TaskResult(
            task,
            "done",
            requests=requests,
            pages=1,
            products=tuple(page.products),
            rejected=len(page.rejected),
        )

    def _report_rejected(self, task: AmazonTask, product: RejectedProduct) -> None:
        self.emit(
            "amazon",
            "error",
            category=task.category,
            product_name=product.title or None,
            asin=product.asin or None,
            error_type="parse_error",
            error_stage="price_parsing",
            error_message=f"{product.reason} ({product.raw_price!r}); not searched",
        )

    # -- eBay ---------------------------------------------------------------------

    def run_ebay(self, task: EbayTask) -> TaskResult:
        product = task.product
        assert product.price is not None
        context = {
            "category": task.category,
            "product_name": product.title[:120],
            "asin": product.asin,
        }
        requests = pages = sightings = 0
        for page_number in range(task.start_page, self.settings.ebay_pages + 1):
            request = search_request(
                product.title,
                product.price,
                self.settings.price_band,
                page_number,
                self.settings.query_max_chars,
            )

            provider, url, call = self._search_call(request)
            try:
                page, duration_ms, spent = self.fetch(
                    "ebay", context, url, request.api_params, call, provider
                )
            except GiveUp as stop:
                return _failure(
                    task,
                    stop,
                    requests=requests,
                    pages=pages,
                    sightings=sightings,
                    resume_page=page_number,
                )
            requests += spent
            pages += 1
            sightings += len(page.sightings)
            # The page's "done" record travels with its sightings: the writer
            # commits both at once, so a resumed run never counts a page twice.
            last = "last" if not page.has_next else None
            done = (
                self.settings.job,
                "ebay-page",
                f"{product.asin}:{page_number}",
                last,
            )
            self._send_sightings(product.asin, page.sightings, done)
            self.emit(
                "ebay",
                "found",
                url=url,
                api_params=request.api_params,
                duration_ms=duration_ms,
                items_count=len(page.sightings),
                new_sellers_count=page.unique_sellers,
                **context,
            )
            if not page.has_next:
                break
        # Queued after this product's sightings, so the writer records it after them.
        self.put(("progress", self.settings.job, "ebay", product.asin, None))
        return TaskResult(
            task, "done", requests=requests, pages=pages, sightings=sightings
        )

    def _search_call(
        self, request: SearchRequest
    ) -> tuple[str, str, Callable[[], SearchPage]]:
        """(provider, URL shown in events, the request) for one search page."""
        browse = self.browse
        if browse is not None:
            return "browse", browse.url_for(request), lambda: browse.search(request)

        def call() -> SearchPage:
            result = self.client.universal(request.url)
            if not isinstance(result.content, str):
                raise ParseError("the answer holds no HTML page", stage="api")
            return parse_search_page(result.content)

        return "oxylabs", request.url, call

    def _send_sightings(
        self, asin: str, sightings: list[Any], done: tuple[str, str, str, str | None]
    ) -> None:
        rows = [(s.seller, s.feedback_percent, s.feedback_count) for s in sightings]
        self.put(("sightings", self.worker_id, asin, utc_timestamp(), rows, done))

    # -- one request, with retries ------------------------------------------------

    def fetch(
        self,
        phase: str,
        context: dict[str, Any],
        url: str,
        api_params: dict[str, Any],
        call: Callable[[], T],
        provider: str = "oxylabs",
    ) -> tuple[T, int, int]:
        """Run `call` until it succeeds or retries are spent.

        Returns (value, duration of the successful attempt in ms, attempts made).
        Every attempt emits `fetching`; every failure `rate_limited` or `error`.
        """
        policy = self.settings.retry
        gate = self.gates.get(provider)
        failures = waits = 0
        for attempt in range(1, policy.attempts + policy.rate_limit_waits + 1):
            self._wait_turn(gate, attempt, provider)
            started = time.time()
            self.emit(
                phase,
                "fetching",
                flush=True,
                url=url,
                api_params=api_params,
                attempt=attempt,
                started_at=utc_timestamp(started),
                **context,
            )
            t0 = time.perf_counter()
            try:
                value = call()
            except (FetchError, ParseError) as error:
                duration_ms = round((time.perf_counter() - t0) * 1000)
                if isinstance(error, RateLimited):
                    waits += 1
                    exhausted = waits > policy.rate_limit_waits
                else:
                    failures += 1
                    exhausted = failures >= policy.attempts or not error.retryable
                delay = 0.0 if exhausted else retry_delay(policy, failures, error)
                self._report_failure(
                    phase, context, url, attempt, duration_ms, error, delay
                )
                if exhausted:
                    raise GiveUp(error, attempt) from error
                if isinstance(error, RateLimited) and gate is not None:
                    # The limit is the pool's, not this worker's: everyone waits.
                    gate.pause(delay)
                else:
                    self.sleep(delay)
                continue
            return value, round((time.perf_counter() - t0) * 1000), attempt
        raise AssertionError("unreachable: the loop bound covers every exit")

    def _wait_turn(self, gate: RequestGate | None, attempt: int, provider: str) -> None:
        """Take this request's place under the shared rate limit and the budgets.

        Before `fetching` is emitted, so a refused call never shows as a request.
        """
        try:
            if provider == "browse" and self.browse is not None:
                self.browse.spend()
            if gate is not None:
                gate.acquire(self.sleep)
        except (BudgetExhausted, DailyBudgetExhausted) as error:
            raise GiveUp(error, attempt - 1) from error

    def _report_failure(
        self,
        phase: str,
        context: dict[str, Any],
        url: str,
        attempt: int,
        duration_ms: int,
        error: FetchError | ParseError,
        delay: float,
    ) -> None:
        action = "rate_limited" if isinstance(error, RateLimited) else "error"
        self.emit(
            phase,
            action,
            url=url,
            attempt=attempt,
            duration_ms=duration_ms,
            error_type=error.error_type,
            error_stage=error.error_stage,
            error_message=str(error),
            http_status=getattr(error, "http_status", None),
            retry_after_ms=round(delay * 1000) if delay else None,
            **context,
        )
        if delay:
            log.debug("worker %d: %s, retrying in %.1f s", self.worker_id, error, delay)


def retry_delay(
    policy: RetryPolicy, failures: int, error: Exception, rng: random.Random = random
) -> float:
    """Exponential backoff with full jitter; a server's Retry-After wins, capped."""
    if getattr(error, "retry_at_once", False):
        return 0.0
    if isinstance(error, RateLimited) and error.retry_after is not None:
        return min(error.retry_after, policy.retry_after_cap)
    ceiling = min(policy.backoff_cap, policy.backoff_base * 2 ** max(failures - 1, 0))
    return rng.uniform(ceiling / 2, ceiling)


def _failure(task: Task, stop: GiveUp, **counts: Any) -> TaskResult:
    error = stop.error
    if isinstance(error, BudgetExhausted | DailyBudgetExhausted):
        status = "budget"
    elif isinstance(error, HttpError) and error.http_status in FATAL_STATUSES:
        status = "fatal"
    elif isinstance(error, EmptyCategory):
        status = "empty"
    elif error.retryable or isinstance(error, Blocked):
        status = "deferred"
    else:
        status = "failed"
    counts["requests"] = counts.get("requests", 0) + stop.requests
    return TaskResult(
        task, status, error_type=error.error_type, message=str(error), **counts
    )


def worker_main(
    worker_id: int,
    settings: RunSettings,
    conn: Any,
    events: Any,
    incarnation: int = 0,
    gate: RequestGate | None = None,
    browse_gate: RequestGate | None = None,
    token: SharedToken | None = None,
) -> None:
    """Entry point of a worker process (top-level so `spawn` can import it)."""
    leave_signals_to_the_coordinator()
    setup_logging(settings.log_level)
    worker = Worker(
        worker_id,
        settings,
        events.put,
        incarnation=incarnation,
        gate=gate,
        browse_gate=browse_gate,
        token=token,
    )
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        result = worker.execute(task)
        try:
            conn.send(result)
        except OSError:
            return
