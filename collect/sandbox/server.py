"""The sandbox: Oxylabs' realtime endpoint and eBay's Browse API on 127.0.0.1.

    POST /v1/queries   `amazon_bestsellers` (parsed content) or `universal` (raw HTML)
    POST /identity/v1/oauth2/token           eBay client-credentials token
    GET  /buy/browse/v1/item_summary/search  eBay Browse search (see `browse`)
    GET  /health       {"ok": true}
    GET  /stats        the counters, as JSON

Every query goes through the same steps: roll the fault dice (latency included), check
basic auth and the rate limit, validate the body, then either misbehave as rolled or
answer from `synth` (or from `replay` when a replay folder is set). The deciding happens
in `SandboxApp`, which knows nothing of sockets; the handler only puts its `Answer` on
the wire. Answer bodies are deterministic (job ids and timestamps included), so the
same request always gets the same bytes unless the dice say otherwise. Browse searches
roll the same dice (no faulted jobs or bot checks there: those are Oxylabs and HTML
things) after the bearer token is checked; tokens are random and die `token_ttl_s`
after they were issued, whatever `expires_in` announced.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import signal
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from collect.errors import ConfigError
from collect.sandbox import browse, synth
from collect.sandbox.faults import Fault, FaultDice, FaultRates, RateLimiter, Roll
from collect.sandbox.replay import ReplayStore
from collect.signals import leave_signals_to_the_coordinator

logger = logging.getLogger(__name__)

QUERIES_PATH = "/v1/queries"
MAX_BODY_BYTES = 1 << 20
FAULTED_STATUS = 613
TOO_MANY_REQUESTS = "Too many requests. (Total Dynamic)."
SOURCES = ("amazon_bestsellers", "universal")
# Outcomes that are not dice faults, counted beside the `Fault` values.
EXTRA_OUTCOMES = (
    "unauthorized",
    "throttled",
    "bad_request",
    "internal_error",
    "token_expired",
)
# Deterministic timestamps: jobs are spread over the year after this instant.
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Everything the sandbox can be told; rates are shares of requests (0..1)."""

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 7
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    rate_429: float = 0.0
    retry_after_share: float = 0.5
    rate_5xx: float = 0.0
    rate_timeout: float = 0.0
    timeout_hang_s: float = 3.0
    rate_faulted: float = 0.0
    rate_block: float = 0.0
    rate_malformed: float = 0.0
    rate_truncated: float = 0.0
    rate_limit_rps: float = 0.0
    replay_dir: str | None = None
    username: str = "sandbox"
    password: str = "sandbox"
    products_per_category: int = 50
    seller_population: int = 400
    ebay_client_id: str = "sandbox"
    ebay_client_secret: str = "sandbox"
    token_ttl_s: float = 7200.0

    def __post_init__(self) -> None:
        # Checked here, in the parent, so a bad setting is reported to the user
        # instead of killing a sandbox child process that is still starting.
        self.fault_rates().bands()
        if not 0.0 <= self.retry_after_share <= 1.0:
            raise ConfigError("sandbox retry_after_share must be in 0..1")
        for name in ("latency_ms", "latency_jitter_ms", "timeout_hang_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"sandbox {name} must not be negative")
        if self.rate_limit_rps < 0:
            raise ConfigError("sandbox rate_limit_rps must not be negative")
        if self.products_per_category < 1 or self.seller_population < 1:
            raise ConfigError("sandbox products and sellers must be at least 1")
        if not self.token_ttl_s > 0:
            raise ConfigError("sandbox token_ttl_s must be above 0")

    def fault_rates(self) -> FaultRates:
        return FaultRates(
            rate_limit=self.rate_429,
            server_error=self.rate_5xx,
            timeout=self.rate_timeout,
            faulted=self.rate_faulted,
            block=self.rate_block,
            malformed=self.rate_malformed,
            truncated=self.rate_truncated,
        )


@dataclass(slots=True)
class Answer:
    """What to put on the wire; `hang_s` > 0 means: wait, then close without a word."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    outcome: str = Fault.NONE.value
    delay_s: float = 0.0
    hang_s: float = 0.0


@dataclass(frozen=True, slots=True)
class QueryRequest:
    """A validated `/v1/queries` body; `query` is the node id for Amazon."""

    source: str
    query: str = ""
    page: int = 1
    url: str = ""

    @property
    def is_ebay(self) -> bool:
        return self.source == "universal"


class BadRequest(Exception):
    """A body the real API refuses with HTTP 400; the message is the API's."""


class SandboxStats:
    """Thread-safe counters, read by `/stats` and `SandboxHandle.stats()`."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, answer: Answer, source: str | None) -> None:
        with self._lock:
            self._counts["requests"] += 1
            self._counts[f"outcome/{answer.outcome}"] += 1
            if not answer.hang_s:  # a dropped connection has no status
                self._counts[f"status/{answer.status}"] += 1
            if source:
                self._counts[f"source/{source}"] += 1
            if "Retry-After" in answer.headers:
                self._counts["retry_after"] += 1

    def count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
        outcomes = [fault.value for fault in Fault] + list(EXTRA_OUTCOMES)
        return {
            "requests": counts.get("requests", 0),
            "outcomes": {name: counts.get(f"outcome/{name}", 0) for name in outcomes},
            "sources": {name: counts.get(f"source/{name}", 0) for name in SOURCES},
            "status_codes": _prefixed(counts, "status/"),
            "http_429": counts.get("status/429", 0),
            "retry_after": counts.get("retry_after", 0),
            "no_data": counts.get("no_data", 0),
            "browse_searches": counts.get("source/browse", 0),
            "token_requests": counts.get("source/oauth", 0),
            "tokens_issued": counts.get("tokens_issued", 0),
        }


def _prefixed(counts: dict[str, int], prefix: str) -> dict[str, int]:
    return {
        key.removeprefix(prefix): value
        for key, value in sorted(counts.items())
        if key.startswith(prefix)
    }


class SandboxApp:
    """Decides the answer to each request; shared by all handler threads."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.stats = SandboxStats()
        self.stopping = threading.Event()
        self._dice = FaultDice(
            config.seed,
            config.fault_rates(),
            latency_ms=config.latency_ms,
            latency_jitter_ms=config.latency_jitter_ms,
            retry_after_share=config.retry_after_share,
        )
        self._limiter = RateLimiter(config.rate_limit_rps)
        self._replay = ReplayStore(config.replay_dir) if config.replay_dir else None
        self._expected_auth = _basic_auth(config.username, config.password)
        self._quota_id = str(uuid.UUID(bytes=_digest("quota", config.seed)[:16]))
        self._tokens = browse.TokenRegistry(config.token_ttl_s)
        self._browse_limiter = RateLimiter(config.rate_limit_rps)
        self._expected_ebay_auth = _basic_auth(
            config.ebay_client_id, config.ebay_client_secret
        )

    def answer_query(self, authorization: str | None, body: bytes) -> Answer:
        roll = self._dice.roll()
        source = None
        try:
            answer = self._gatekeeper(authorization)
            if answer is None:
                request = parse_query(body)
                source = request.source
                answer = self._answer(request, roll.for_target(ebay=request.is_ebay))
        except BadRequest as exc:
            answer = self._error(400, str(exc), "bad_request")
        answer.delay_s = roll.delay_s
        self.stats.record(answer, source)
        return answer

    def _gatekeeper(self, authorization: str | None) -> Answer | None:
        """Auth first, then the per-second quota, as the real API orders them."""
        if not authorization:
            return self._error(
                401, "Authorization header not provided.", "unauthorized"
            )
        if authorization.strip() != self._expected_auth:
            return self._error(401, "Invalid username or password.", "unauthorized")
        if not self._limiter.take():
            return self._error(429, TOO_MANY_REQUESTS, "throttled")
        return None

    def _answer(self, request: QueryRequest, roll: Roll) -> Answer:
        if roll.fault is Fault.RATE_LIMIT:
            answer = self._error(429, TOO_MANY_REQUESTS, roll.fault.value)
            if roll.retry_after:
                answer.headers["Retry-After"] = "1"
            return answer
        if roll.fault is Fault.SERVER_ERROR:
            return self._server_error(roll.server_error_status)
        if roll.fault is Fault.TIMEOUT:
            return Answer(
                0, outcome=roll.fault.value, hang_s=self.config.timeout_hang_s
            )
        if roll.fault is Fault.FAULTED:
            return self._json(self._faulted(request), roll.fault.value)
        if roll.fault is Fault.BLOCK:
            return self._json(self._blocked(request), roll.fault.value)
        if roll.fault is Fault.MALFORMED:
            return self._json(_MALFORMED_BODY, roll.fault.value)
        body, outcome = self._data(request)
        if roll.fault is Fault.TRUNCATED:
            return self._json(body[: len(body) // 2], roll.fault.value)
        return self._json(body, outcome)

    # --- successful answers ----------------------------------------------------------

    def _data(self, request: QueryRequest) -> tuple[bytes, str]:
        """The answer body, or a faulted job when there is nothing to answer with."""
        if request.is_ebay:
            body = self._search_page(request)
        else:
            body = self._bestsellers(request)
        if body is None:
            self.stats.count("no_data")
            return self._faulted(request), Fault.FAULTED.value
        return body, Fault.NONE.value

    def _bestsellers(self, request: QueryRequest) -> bytes | None:
        if self._replay is None:
            content = self._synthetic_bestsellers(request)
        else:
            recorded = self._replay.bestsellers(request.query, request.page)
            if recorded is not None and recorded.raw is not None:
                return recorded.raw
            content = recorded.content if recorded is not None else None
        if content is None:
            return None
        url = content.get("url", "") if isinstance(content, dict) else ""
        return self._envelope(request, content, 200, url or _amazon_url(request))

    def _synthetic_bestsellers(self, request: QueryRequest) -> dict | None:
        # Amazon shows at most two pages of best sellers; a third does not exist.
        if not 1 <= request.page <= synth.AMAZON_PAGES:
            return None
        seed, node_id, page = self.config.seed, request.query, request.page
        return synth.bestsellers_content(seed, node_id, page, self.config)

    def _search_page(self, request: QueryRequest) -> bytes | None:
        search = _ebay_search(request.url)
        if search is None:
            return None
        query, page = search
        if self._replay is not None:
            html = self._replay.search_page(synth.normalize_query(query), page)
        else:
            html = synth.search_page_html(self.config.seed, query, page, self.config)
        if html is None:
            return None
        return self._envelope(request, html, 200, request.url)

    # --- envelopes -------------------------------------------------------------------

    def _envelope(
        self, request: QueryRequest, content: object, status_code: int, url: str
    ) -> bytes:
        """The realtime answer: one result and the job, as Oxylabs shapes them."""
        job_id, created, updated = self._job_identity(request)
        result = {
            "content": content,
            "created_at": created,
            "updated_at": updated,
            "page": request.page,
            "url": url,
            "job_id": job_id,
            "status_code": status_code,
            "parser_type": "",
        }
        job = {
            "id": job_id,
            "status": "done" if status_code < 600 else "faulted",
            "source": request.source,
            "domain": "com",
            "query": request.query,
            "url": request.url or None,
            "start_page": request.page,
            "pages": 1,
            "parse": not request.is_ebay,
            "created_at": created,
            "updated_at": updated,
            "statuses": [],
        }
        return orjson.dumps({"results": [result], "job": job})

    def _job_identity(self, request: QueryRequest) -> tuple[str, str, str]:
        digest = _digest(
            self.config.seed, request.source, request.query, request.url, request.page
        )
        number = int.from_bytes(digest[:8], "big")
        job_id = str(7_100_000_000_000_000_000 + number % 500_000_000_000_000_000)
        created = _EPOCH + timedelta(seconds=number % 31_536_000)
        updated = created + timedelta(seconds=1 + number % 9)
        return job_id, _timestamp(created), _timestamp(updated)

    def _faulted(self, request: QueryRequest) -> bytes:
        url = request.url or _amazon_url(request)
        return self._envelope(request, "", FAULTED_STATUS, url)

    def _blocked(self, request: QueryRequest) -> bytes:
        html = synth.blocked_page_html(self.config.seed, request.url)
        return self._envelope(request, html, 200, request.url)

    # --- error answers ---------------------------------------------------------------

    def _json(self, body: bytes, outcome: str) -> Answer:
        return Answer(200, body, self._headers(), outcome)

    def _error(self, status: int, message: str, outcome: str) -> Answer:
        body = {
            "message": message,
            "instance": QUERIES_PATH,
            "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "trace_id": uuid.uuid4().hex[:24],
        }
        return Answer(status, orjson.dumps(body), self._headers(), outcome)

    def _server_error(self, status: int) -> Answer:
        if status == 502:
            # Gateways in front of the API answer in HTML, not JSON.
            body = b"<html><head><title>502 Bad Gateway</title></head><body>"
            body += b"<center><h1>502 Bad Gateway</h1></center></body></html>"
            headers = {"Content-Type": "text/html"}
            return Answer(status, body, headers, Fault.SERVER_ERROR.value)
        message = "Internal server error." if status == 500 else "Service unavailable."
        return self._error(status, message, Fault.SERVER_ERROR.value)

    def _headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "x-oxylabs-client-id": "100000",
            "x-oxylabs-client-name": self.config.username,
        }
        if self._limiter.enabled:
            prefix = f"x-ratelimit-total-requests-{self._quota_id}"
            headers[f"{prefix}-limit"] = str(int(self._limiter.limit))
            headers[f"{prefix}-remaining"] = str(self._limiter.remaining())
        return headers

    # --- eBay Browse API -------------------------------------------------------------

    def answer_token(self, authorization: str | None, body: bytes) -> Answer:
        """A client-credentials grant: a fresh random token, or eBay's refusal."""
        if (authorization or "").strip() != self._expected_ebay_auth:
            error = browse.oauth_error("invalid_client", "client authentication failed")
            answer = _json_answer(401, error, "unauthorized")
        else:
            try:
                browse.check_token_request(body)
            except browse.BadBrowseRequest as exc:
                answer = _json_answer(400, exc.body, "bad_request")
            else:
                token = browse.token_answer(self._tokens.issue())
                answer = _json_answer(200, token, Fault.NONE.value)
                self.stats.count("tokens_issued")
        self.stats.record(answer, "oauth")
        return answer

    def answer_browse(
        self, authorization: str | None, query_string: str, base_url: str
    ) -> Answer:
        """A Browse search: token first, then the quota, then the dice and the data."""
        roll = self._dice.roll()
        answer = self._browse_gatekeeper(authorization)
        if answer is None:
            try:
                query = browse.parse_search_query(query_string)
                answer = self._browse_answer(query, roll, base_url)
            except browse.BadBrowseRequest as exc:
                answer = _json_answer(400, exc.body, "bad_request")
        answer.delay_s = roll.delay_s
        self.stats.record(answer, "browse")
        return answer

    def _browse_gatekeeper(self, authorization: str | None) -> Answer | None:
        token = browse.bearer_token(authorization)
        if token is None:
            return _json_answer(401, browse.missing_token_body(), "unauthorized")
        if not self._tokens.accepts(token):
            return _json_answer(401, browse.invalid_token_body(), "token_expired")
        if not self._browse_limiter.take():
            return _json_answer(429, browse.too_many_requests_body(), "throttled")
        return None

    def _browse_answer(
        self, query: browse.BrowseQuery, roll: Roll, base_url: str
    ) -> Answer:
        fault = roll.fault
        if fault is Fault.RATE_LIMIT:
            answer = _json_answer(429, browse.too_many_requests_body(), fault.value)
            if roll.retry_after:
                answer.headers["Retry-After"] = "1"
            return answer
        if fault is Fault.SERVER_ERROR:
            if roll.server_error_status == 502:
                return self._server_error(502)
            body = browse.internal_error_body()
            return _json_answer(roll.server_error_status, body, fault.value)
        if fault is Fault.TIMEOUT:
            return Answer(0, outcome=fault.value, hang_s=self.config.timeout_hang_s)
        if fault is Fault.MALFORMED:
            return Answer(200, _MALFORMED_BROWSE, _JSON_HEADERS, fault.value)
        body = self._browse_data(query, base_url)
        if fault is Fault.TRUNCATED:
            return Answer(200, body[: len(body) // 2], _JSON_HEADERS, fault.value)
        # Faulted jobs and bot checks have no Browse counterpart: a clean answer.
        return Answer(200, body, _JSON_HEADERS, Fault.NONE.value)

    def _browse_data(self, query: browse.BrowseQuery, base_url: str) -> bytes:
        if self._replay is not None:
            key = synth.normalize_query(query.q)
            recorded = self._replay.browse_answer(key, query.offset)
            if recorded is not None:
                return recorded
            # No recording: an answer with no results, as eBay gives for no match.
            self.stats.count("no_data")
            return orjson.dumps(browse.empty_answer(query, base_url))
        answer = browse.search_answer(self.config.seed, query, self.config, base_url)
        return orjson.dumps(answer)


_JSON_HEADERS = {"Content-Type": "application/json"}
_MALFORMED_BROWSE = b'{"href": "/buy/browse/v1/item_summary/search", "itemSummaries": ['
_MALFORMED_BROWSE += b"<html>upstream sent garbage</html>"


def _json_answer(status: int, body: dict[str, Any], outcome: str) -> Answer:
    return Answer(status, orjson.dumps(body), dict(_JSON_HEADERS), outcome)


# A 200 whose body is not JSON at all, as a misbehaving proxy might send.
_MALFORMED_BODY = b'{"results": [{"content": <html>upstream sent garbage</html>'


def parse_query(body: bytes) -> QueryRequest:
    """Validate a `/v1/queries` body the way the real API does, or raise BadRequest."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("Json error: Unexpected value.") from None
    if not isinstance(payload, dict):
        raise BadRequest("Json error: Expected an object.")
    source = payload.get("source")
    if source not in SOURCES:
        raise BadRequest("Unsupported source.")
    if source == "universal":
        url = payload.get("url")
        if not isinstance(url, str) or not url:
            raise BadRequest("`url` is required for source `universal`.")
        return QueryRequest(source, url=url)
    query = payload.get("query")
    if not isinstance(query, str | int) or not str(query):
        raise BadRequest("`query` is required for source `amazon_bestsellers`.")
    return QueryRequest(source, query=str(query), page=_start_page(payload))


def _start_page(payload: dict[str, Any]) -> int:
    page = payload.get("start_page", 1)
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise BadRequest("`start_page` must be a positive integer.")
    return page


def _ebay_search(url: str) -> tuple[str, int] | None:
    """(query, page) of an eBay search URL; None for any other page."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not (host == "ebay.com" or host.endswith(".ebay.com")):
        return None
    if parts.path != "/sch/i.html":
        return None
    params = parse_qs(parts.query)
    query = params.get("_nkw", [""])[0]
    page_text = params.get("_pgn", ["1"])[0]
    page = int(page_text) if page_text.isdigit() and int(page_text) > 0 else 1
    return query, page


def _amazon_url(request: QueryRequest) -> str:
    return (
        f"https://www.amazon.com/Best-Sellers/zgbs/x/{request.query}/?pg={request.page}"
    )


def _basic_auth(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Basic {token}"


def _digest(*parts: object) -> bytes:
    key = "\x1f".join(str(part) for part in parts).encode()
    return hashlib.blake2b(key, digest_size=16).digest()


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# --- HTTP plumbing -------------------------------------------------------------------


class SandboxHandler(BaseHTTPRequestHandler):
    """Puts `SandboxApp` answers on the wire; keep-alive, as the real API allows."""

    protocol_version = "HTTP/1.1"
    server_version = "collect-sandbox"
    # Headers and body leave in two writes; with Nagle on, the client's delayed ACK
    # costs ~40 ms per keep-alive request (measured: 21 requests/s instead of >1000).
    disable_nagle_algorithm = True
    server: SandboxServer

    def do_GET(self) -> None:
        path, _, query_string = self.path.partition("?")
        if path == browse.SEARCH_PATH:
            app = self.server.app
            authorization = self.headers.get("Authorization")
            self._answer_with(
                lambda: app.answer_browse(authorization, query_string, self.server.url)
            )
        elif self.path == "/health":
            self._send(
                Answer(200, b'{"ok":true}', {"Content-Type": "application/json"})
            )
        elif self.path == "/stats":
            body = orjson.dumps(self.server.app.stats.snapshot())
            self._send(Answer(200, body, {"Content-Type": "application/json"}))
        else:
            self._send_not_found()

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        app = self.server.app
        authorization = self.headers.get("Authorization")
        if path == QUERIES_PATH:
            self._answer_with(lambda: app.answer_query(authorization, body))
        elif path == browse.TOKEN_PATH:
            self._answer_with(lambda: app.answer_token(authorization, body))
        else:
            self._send_not_found()

    def _answer_with(self, decide: Callable[[], Answer]) -> None:
        try:
            answer = decide()
        except Exception:
            logger.exception("sandbox failed on a query")
            answer = Answer(500, b'{"message":"Sandbox internal error."}')
            answer.outcome = "internal_error"
        self._deliver(answer)

    def _read_body(self) -> bytes | None:
        length_text = self.headers.get("Content-Length", "0")
        length = int(length_text) if length_text.isdigit() else -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._send(Answer(413, b'{"message":"Request body too large."}'))
            return None
        return self.rfile.read(length)

    def _deliver(self, answer: Answer) -> None:
        stopping = self.server.app.stopping
        if answer.delay_s and stopping.wait(answer.delay_s):
            return
        if answer.hang_s:
            # The timeout fault: hold the connection, then drop it with no answer.
            stopping.wait(answer.hang_s)
            self.close_connection = True
            return
        self._send(answer)

    def _send_not_found(self) -> None:
        self._send(Answer(404, b'{"message": "Resource not found"}'))

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        headers = answer.headers or {"Content-Type": "application/json"}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many workers open connections at once; the default backlog of 5 refuses some.
    request_queue_size = 128

    def __init__(self, config: SandboxConfig) -> None:
        self.app = SandboxApp(config)
        super().__init__((config.host, config.port), SandboxHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a killed worker, a timeout) is routine, not a bug.
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("client %s went away", client_address)
            return
        logger.exception("sandbox: error while answering %s", client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class SandboxHandle:
    """A running sandbox in a daemon thread; `stop()` or leave the `with` block."""

    def __init__(self, server: SandboxServer) -> None:
        self._server = server
        # A short poll makes stop() quick: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="collect-sandbox",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return self._server.url

    def stats(self) -> dict[str, Any]:
        return self._server.app.stats.snapshot()

    def stop(self) -> None:
        self._server.app.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sandbox(config: SandboxConfig | None = None) -> SandboxHandle:
    """Start the sandbox on `config.host:config.port` (0 = a free port)."""
    return SandboxHandle(SandboxServer(config or SandboxConfig()))


def serve_forever(
    config: SandboxConfig, ready: Callable[[str], None] | None = None
) -> None:
    """Serve in this thread until interrupted; `ready` gets the URL once listening."""
    server = SandboxServer(config)
    try:
        if ready is not None:
            ready(server.url)
        server.serve_forever()
    finally:
        server.app.stopping.set()
        server.server_close()


def sandbox_process_main(config: SandboxConfig, conn: Connection) -> None:
    """Entry point of a child process (works with `spawn`): send the URL over `conn`,
    then serve until SIGUSR1 or until the parent process is gone.

    Ctrl-C and SIGTERM reach the whole process group: the run must keep its
    simulator while it winds down, so only SIGUSR1 (or the parent's death) stops it.
    """
    stop = threading.Event()
    leave_signals_to_the_coordinator()
    signal.signal(signal.SIGUSR1, lambda signum, frame: stop.set())
    parent = os.getppid()
    try:
        handle = start_sandbox(config)
    except BaseException:
        # The parent's recv() then raises EOFError instead of waiting forever.
        conn.close()
        raise
    with handle:
        conn.send(handle.url)
        conn.close()
        while not stop.wait(0.5) and os.getppid() == parent:
            pass
