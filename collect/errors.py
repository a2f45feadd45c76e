"""The project's exceptions, in one tree.

    CollectError                 anything `collect` reports to the user
    ├── ConfigError              bad settings or missing credentials (exit 78)
    ├── StoreError               the seller store cannot be opened or written
    ├── StoreBusy                another run holds the store's lock (exit 75)
    ├── FetchError               one API request failed; carries the event fields
    │   ├── RateLimited          HTTP 429 (error_type rate_limit)
    │   ├── FetchTimeout         connect or read timeout (timeout)
    │   ├── ConnectionFailed     refused, reset, DNS (connection)
    │   ├── HttpError            any other non-2xx status (http_error)
    │   ├── FaultedJob           HTTP 200 but the API reports the job failed (api_error)
    │   └── Blocked              the target answered with a bot check (blocked)
    └── ParseError               an answer without what it should hold (parse_error)
        └── EmptyCategory        a best-seller node with no products ("Best undefined")

Library code raises these; `collect.cli` turns them into one-line messages and exit
codes. `FetchError.retryable` tells the HTTP layer whether another attempt may help.
"""

from __future__ import annotations


class CollectError(Exception):
    """Base of every error `collect` reports; `hint` says how to fix it, if known."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(CollectError):
    """Settings that cannot work: a bad value, a missing credential, a bad file."""


class StoreError(CollectError):
    """The seller store cannot be opened, read or written."""


class StoreBusy(CollectError):
    """Another `collect run` holds the store; a temporary condition (exit 75)."""


class FetchError(CollectError):
    """One request to an API failed; the attributes become the event's fields."""

    error_type = "http_error"
    error_stage = "api"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.http_status = http_status


class RateLimited(FetchError):
    """HTTP 429; `retry_after` is the server's wait in seconds, when it sent one."""

    error_type = "rate_limit"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        http_status: int | None = 429,
    ) -> None:
        super().__init__(message, http_status=http_status)
        self.retry_after = retry_after


class FetchTimeout(FetchError):
    error_type = "timeout"


class ConnectionFailed(FetchError):
    error_type = "connection"


class HttpError(FetchError):
    """A non-2xx answer other than 429; only 5xx, 408 and 425 are worth retrying."""

    error_type = "http_error"

    def __init__(self, message: str, *, http_status: int) -> None:
        super().__init__(message, http_status=http_status)
        self.retryable = http_status >= 500 or http_status in (408, 425)


class FaultedJob(FetchError):
    """The API answered 200 but says the job failed (Oxylabs `status_code` 6xx)."""

    error_type = "api_error"


class Blocked(FetchError):
    """The target site sent a bot check instead of results."""

    error_type = "blocked"
    error_stage = "seller_extraction"


class ParseError(CollectError):
    """An answer that does not hold what it should; `stage` is the pipeline step."""

    error_type = "parse_error"
    # A garbled answer from a scraping API is usually a one-off: ask again.
    retryable = True

    def __init__(
        self, message: str, *, stage: str = "seller_extraction", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.error_stage = stage


class EmptyCategory(ParseError):
    """A best-seller node that exists on no page: "Best undefined" or no products."""

    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message, stage="product_extraction")
