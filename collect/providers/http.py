"""One HTTP request, its failures turned into the project's `FetchError` classes."""

from __future__ import annotations

import email.utils
import re
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from collect import __version__
from collect.errors import ConnectionFailed, FetchTimeout, HttpError, RateLimited

USER_AGENT = f"collect/{__version__}"


def make_session(pool_size: int = 4) -> requests.Session:
    """A session with keep-alive and no retries of its own: we retry with events."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: tuple[float, float],
    **kwargs: Any,
) -> requests.Response:
    """Send one request; return a 2xx response or raise a classified FetchError."""
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout as exc:
        raise FetchTimeout(
            f"no answer within {timeout[1]:g} s: {_reason(exc)}"
        ) from exc
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise ConnectionFailed(f"connection failed: {_reason(exc)}") from exc
    except requests.RequestException as exc:
        raise ConnectionFailed(f"request failed: {_reason(exc)}") from exc
    if response.status_code == 429:
        raise RateLimited(
            f"HTTP 429: {_short_body(response)}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if not 200 <= response.status_code < 300:
        raise HttpError(
            f"HTTP {response.status_code}: {_short_body(response)}",
            http_status=response.status_code,
        )
    return response


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, moment.timestamp() - now)


def _short_body(response: requests.Response) -> str:
    text = response.text.strip().replace("\n", " ") if response.content else ""
    return text[:200] or response.reason or "empty body"


def _reason(exc: Exception) -> str:
    # requests wraps the socket error in several layers; its errno text says the most.
    text = str(exc)
    match = _ERRNO.search(text)
    return match[0] if match else text[:200]


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")
