"""HTTP failures turned into classified errors, and Retry-After."""

from __future__ import annotations

import random

import pytest
import requests
import responses

from collect.errors import ConnectionFailed, FetchTimeout, HttpError, RateLimited
from collect.providers.http import make_session, parse_retry_after, send
from collect.settings import RetryPolicy
from collect.worker import retry_delay

URL = "http://127.0.0.1:9/v1/queries"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Fri, 04 Dec 2026 15:00:30 GMT", 30.0),
        ("Fri, 04 Dec 2026 14:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
    ids=["seconds", "zero", "http-date", "date-in-past", "garbage", "empty", "none"],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    """Retry-After is read as seconds or as an HTTP date, relative to now."""
    now = 1796396400.0  # 2026-12-04T15:00:00Z
    assert parse_retry_after(value, now=now) == expected


def test_retry_delay_prefers_retry_after_but_caps_it() -> None:
    """A server's Retry-After wins over backoff, up to the cap."""
    policy = RetryPolicy(retry_after_cap=60)
    assert retry_delay(policy, 1, RateLimited("x", retry_after=3)) == 3
    assert retry_delay(policy, 1, RateLimited("x", retry_after=3600)) == 60


def test_retry_delay_backs_off_exponentially_with_jitter() -> None:
    """Each failure doubles the ceiling; the delay lies in its upper half."""
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=5.0)
    rng = random.Random(1)
    for failures, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delay = retry_delay(policy, failures, HttpError("x", http_status=500), rng)
        assert ceiling / 2 <= delay <= ceiling


@responses.activate
@pytest.mark.parametrize(
    ("kwargs", "error", "status"),
    [
        ({"status": 429, "headers": {"Retry-After": "2"}}, RateLimited, 429),
        ({"status": 503}, HttpError, 503),
        ({"status": 401, "json": {"message": "Unauthorized"}}, HttpError, 401),
        ({"body": requests.ReadTimeout("read timed out")}, FetchTimeout, None),
        ({"body": requests.ConnectionError("refused")}, ConnectionFailed, None),
    ],
    ids=["429", "503", "401", "timeout", "connection"],
)
def test_send_classifies_failures(
    kwargs: dict, error: type, status: int | None
) -> None:
    """Each failure becomes one FetchError subclass with its HTTP status."""
    responses.add(responses.POST, URL, **kwargs)
    with pytest.raises(error) as caught:
        send(make_session(), "POST", URL, timeout=(1, 1))
    assert caught.value.http_status == status


@responses.activate
def test_rate_limited_carries_retry_after() -> None:
    """The wait the server asked for travels with the error."""
    responses.add(responses.POST, URL, status=429, headers={"Retry-After": "2"})
    with pytest.raises(RateLimited) as caught:
        send(make_session(), "POST", URL, timeout=(1, 1))
    assert caught.value.retry_after == 2.0


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (502, True), (408, True), (400, False), (404, False), (401, False)],
    ids=str,
)
def test_which_http_errors_are_retried(status: int, retryable: bool) -> None:
    """Server errors are retried; client errors are not, as no retry fixes them."""
    assert HttpError("x", http_status=status).retryable is retryable
