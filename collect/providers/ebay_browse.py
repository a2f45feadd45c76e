"""eBay's official Browse API, the second eBay source beside the scraped search page.

    POST {base}/identity/v1/oauth2/token        client-credentials grant (basic auth)
    GET  {base}/buy/browse/v1/item_summary/search?q=...&filter=...&limit=&offset=

The search applies the same dropshipper filters as the page source (new condition,
located in the US, free delivery to the US, the price band) and pages by offset: page
N of a product's search is `offset = (N - 1) * limit`. eBay serves at most 10,000 items
of one result set, so pages beyond that are refused here rather than by the API.

The bearer token comes from a `SharedToken` (one per run, whatever the number of
workers). A 401 with errorId 1001 means the token died early: it is renewed and the
same page asked again once, inside the call, so the page is not lost. Calls are
counted against a `DailyBudget` shared by every process that uses the same store.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import orjson
import requests

from collect.errors import ConfigError, FetchError, HttpError, ParseError
from collect.models import SearchPage
from collect.parsers.browse import parse_browse_search
from collect.providers.http import send
from collect.providers.token import SharedToken
from collect.search import SearchRequest
from collect.settings import Credentials

log = logging.getLogger(__name__)

BROWSE_URL = "https://api.ebay.com"
TOKEN_PATH = "/identity/v1/oauth2/token"
SEARCH_PATH = "/buy/browse/v1/item_summary/search"
SCOPE = "https://api.ebay.com/oauth/api_scope"
MARKETPLACE_HEADER = "X-EBAY-C-MARKETPLACE-ID"
MAX_LIMIT = 200
# eBay returns at most this many items of one result set (offset + limit).
MAX_RESULT_WINDOW = 10_000
DEFAULT_DAILY_BUDGET = 5_000
INVALID_TOKEN_ERROR_ID = 1001
# The token endpoint answers in well under a second; no need for the search timeout.
TOKEN_READ_TIMEOUT = 30.0


class DailyBudgetExhausted(FetchError):
    """The daily Browse API call budget is spent; no retry helps before it resets."""

    error_type = "rate_limit"
    retryable = False

    def __init__(self, limit: int, resets_at: datetime) -> None:
        moment = resets_at.strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(
            f"the daily eBay Browse API budget of {limit} calls is spent; "
            f"it resets at {moment}",
            hint="raise --browse-daily-budget if eBay granted more, or wait",
        )
        self.resets_at = resets_at


class TokenRejected(FetchError):
    """eBay refused the token as invalid or expired (401, errorId 1001).

    The token is dropped before this is raised, so the next attempt, made at once,
    gets a fresh one. Not an HttpError on purpose: a 401 HttpError stops the whole
    run as bad credentials.
    """

    error_type = "http_error"
    retry_at_once = True

    def __init__(self, message: str) -> None:
        super().__init__(message, http_status=401)


# --- request shape -------------------------------------------------------------------


def browse_filter(request: SearchRequest) -> str:
    """The dropshipper filters in Browse syntax, same meaning as the page source's."""
    return ",".join(
        [
            f"price:[{request.price_min:.2f}..{request.price_max:.2f}]",
            "priceCurrency:USD",
            "conditionIds:{1000}",
            "itemLocationCountry:US",
            "deliveryCountry:US",
            "maxDeliveryCost:0",
        ]
    )


def browse_offset(page: int, limit: int) -> int:
    """The offset of result page `page`; refuses pages eBay would not serve."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ConfigError(f"Browse API limit must be 1..{MAX_LIMIT}, not {limit}")
    offset = (page - 1) * limit
    if page < 1 or offset + limit > MAX_RESULT_WINDOW:
        raise ConfigError(
            f"Browse API page {page} of {limit} items is beyond the "
            f"{MAX_RESULT_WINDOW:,} items eBay serves for one search",
            hint=f"with {limit} items a page, ask for at most "
            f"{max_browse_pages(limit)} pages",
        )
    return offset


def max_browse_pages(limit: int) -> int:
    return MAX_RESULT_WINDOW // limit


def browse_params(request: SearchRequest, limit: int) -> dict[str, str]:
    return {
        "q": request.query,
        "filter": browse_filter(request),
        "limit": str(limit),
        "offset": str(browse_offset(request.page, limit)),
    }


def browse_url(
    request: SearchRequest, limit: int = MAX_LIMIT, base_url: str = BROWSE_URL
) -> str:
    """The exact URL the search sends (the token travels in a header, not here)."""
    query = urlencode(browse_params(request, limit))
    return f"{base_url.rstrip('/')}{SEARCH_PATH}?{query}"


# --- the client ----------------------------------------------------------------------


class BrowseClient:
    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        credentials: Credentials | None,
        timeout: tuple[float, float],
        token: SharedToken,
        marketplace: str = "EBAY_US",
        *,
        limit: int = MAX_LIMIT,
        budget: DailyBudget | None = None,
    ) -> None:
        if credentials is None:
            raise ConfigError(
                "no eBay API credentials",
                hint="set EBAY_CLIENT_ID and EBAY_CLIENT_SECRET, or use --sandbox",
            )
        browse_offset(1, limit)  # a bad limit fails here, not on the first search
        self._session = session
        self._base = base_url.rstrip("/")
        self._auth = (credentials.username, credentials.password)
        self._timeout = timeout
        self._token = token
        self._marketplace = marketplace
        self.limit = limit
        self._budget = budget

    def __repr__(self) -> str:
        return f"<BrowseClient {self._base} {self._marketplace} limit={self.limit}>"

    def url_for(self, request: SearchRequest) -> str:
        return browse_url(request, self.limit, self._base)

    def fetch_token(self) -> tuple[str, float]:
        """Ask for an application token: (access token, expiry as epoch seconds)."""
        asked_at = time.time()
        response = send(
            self._session,
            "POST",
            self._base + TOKEN_PATH,
            data={"grant_type": "client_credentials", "scope": SCOPE},
            auth=self._auth,
            timeout=(self._timeout[0], min(self._timeout[1], TOKEN_READ_TIMEOUT)),
        )
        return _read_token(response.content, asked_at)

    def search(self, request: SearchRequest, limit: int | None = None) -> SearchPage:
        """One result page. Call `spend` first: it counts the call in the budget.

        An expired token raises TokenRejected after it is dropped, so the caller's
        next attempt, visible in the event stream like any retry, gets a new one.
        """
        url = browse_url(request, limit or self.limit, self._base)
        bearer = self._token.get(self.fetch_token)
        response = self._get(url, bearer)
        if response is None:
            self._token.invalidate(bearer)
            raise TokenRejected(
                "eBay refused the token as expired (errorId 1001); "
                "the next attempt gets a new one"
            )
        return parse_browse_search(response.content)

    def spend(self) -> None:
        """Count one call against the daily budget, or refuse to make it."""
        if self._budget is not None and not self._budget.take():
            raise DailyBudgetExhausted(self._budget.limit, self._budget.resets_at())

    def _get(self, url: str, bearer: str) -> requests.Response | None:
        """The answer, or None when eBay says the token is invalid or expired."""
        answers: list[requests.Response] = []
        try:
            return send(
                self._session,
                "GET",
                url,
                headers={
                    "Authorization": f"Bearer {bearer}",
                    MARKETPLACE_HEADER: self._marketplace,
                },
                timeout=self._timeout,
                # `send` turns a 401 into HttpError; the hook keeps the body to read.
                hooks={"response": lambda response, **_: answers.append(response)},
            )
        except HttpError as error:
            if error.http_status == 401 and answers and _token_expired(answers[-1]):
                return None
            raise


def _read_token(body: bytes, asked_at: float) -> tuple[str, float]:
    """The token and its expiry; error messages never quote the body (it holds the
    token)."""
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ParseError(
            f"OAuth token answer is not JSON ({len(body)} bytes)", stage="api"
        ) from None
    token = answer.get("access_token") if isinstance(answer, dict) else None
    expires_in = answer.get("expires_in") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise ParseError("OAuth token answer without access_token", stage="api")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        raise ParseError("OAuth token answer without expires_in", stage="api")
    return token, asked_at + float(expires_in)


def _token_expired(response: requests.Response) -> bool:
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return False
    errors = answer.get("errors") if isinstance(answer, dict) else None
    return isinstance(errors, list) and any(
        isinstance(error, dict) and error.get("errorId") == INVALID_TOKEN_ERROR_ID
        for error in errors
    )


# --- the daily call budget -----------------------------------------------------------


def budget_path(store: str | os.PathLike[str]) -> Path:
    """Where the budget of the runs using `store` is kept: beside the store."""
    return Path(f"{os.fspath(store)}.browse-budget.json")


class DailyBudget:
    """Browse API calls made per UTC day, in a JSON file shared by processes.

    Every `take` locks `<file>.lock` (flock), reads the count, and writes the new
    count to a temporary file moved over the old one, so a reader never sees half
    a file and concurrent workers or runs never count the same call twice.
    """

    KEEP_DAYS = 7

    def __init__(
        self,
        path: str | os.PathLike[str],
        limit: int = DEFAULT_DAILY_BUDGET,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.limit = limit
        self._clock = clock

    def __repr__(self) -> str:
        return f"<DailyBudget {self.path} limit={self.limit}>"

    def take(self) -> bool:
        """Count one call; False (and nothing counted) once today's limit is spent."""
        day = self._today()
        with self._locked():
            calls = self._read()
            if calls.get(day, 0) >= self.limit:
                return False
            calls[day] = calls.get(day, 0) + 1
            self._write(calls)
        return True

    def used(self) -> int:
        return self._read().get(self._today(), 0)

    def remaining(self) -> int:
        return max(0, self.limit - self.used())

    def resets_at(self) -> datetime:
        now = datetime.fromtimestamp(self._clock(), UTC)
        return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)

    def _today(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%d")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _read(self) -> dict[str, int]:
        try:
            document = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except orjson.JSONDecodeError:
            log.warning("budget file %s is unreadable; counting from 0", self.path)
            return {}
        calls = document.get("calls") if isinstance(document, dict) else None
        if not isinstance(calls, dict):
            return {}
        return {day: n for day, n in calls.items() if isinstance(n, int)}

    def _write(self, calls: dict[str, int]) -> None:
        kept = dict(sorted(calls.items())[-self.KEEP_DAYS :])
        document = {"limit": self.limit, "calls": kept}
        fd, temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", dir=self.path.parent
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(orjson.dumps(document))
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
