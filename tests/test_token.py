"""SharedToken: one OAuth token per run, across real spawned worker processes."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import re
import time
from typing import Any

import pytest

from collect.errors import ParseError
from collect.providers.token import RENEW_MARGIN_S, TOKEN_CAPACITY, SharedToken

SPAWN = multiprocessing.get_context("spawn")
WORKERS = 6
SECRET = "v^1.1#secret-token-text"


def _slow_fetch() -> tuple[str, float]:
    """Slow enough that every worker asks while the first fetch is under way."""
    time.sleep(0.3)
    return f"token-{os.getpid()}-{time.monotonic_ns()}", time.time() + 7200


def _ask_together(token: SharedToken, start: Any, barrier: Any, out: Any) -> None:
    start.wait(10)
    first = token.get(_slow_fetch)
    barrier.wait(10)
    # Every worker now sees 401/1001 for the same token and reports it at once.
    token.invalidate(first)
    barrier.wait(10)
    out.put((first, token.get(_slow_fetch)))


def test_six_spawned_workers_share_one_fetch_then_one_renewal() -> None:
    """6 processes ask at once: one fetch; all invalidate it together: one renewal."""
    token = SharedToken(SPAWN)
    start, barrier, out = SPAWN.Event(), SPAWN.Barrier(WORKERS), SPAWN.Queue()
    processes = [
        SPAWN.Process(target=_ask_together, args=(token, start, barrier, out))
        for _ in range(WORKERS)
    ]
    for process in processes:
        process.start()
    start.set()
    results = [out.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=10)

    assert [process.exitcode for process in processes] == [0] * WORKERS
    assert token.fetches == 2
    firsts, seconds = {r[0] for r in results}, {r[1] for r in results}
    assert len(firsts) == 1 and len(seconds) == 1
    assert firsts != seconds


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _fetcher(clock: Clock, lifetime: float) -> tuple[list[str], Any]:
    issued: list[str] = []

    def fetch() -> tuple[str, float]:
        issued.append(f"token-{len(issued) + 1}")
        return issued[-1], clock.now + lifetime

    return issued, fetch


@pytest.mark.parametrize(
    ("lifetime", "margin"),
    [(7200.0, RENEW_MARGIN_S), (100.0, 10.0)],
    ids=["ebay-lifetime", "short-lifetime"],
)
def test_renewed_shortly_before_expiry(lifetime: float, margin: float) -> None:
    """Reused until `margin` s before expiry (a tenth of short lifetimes)."""
    clock = Clock()
    token = SharedToken(SPAWN, clock=clock)
    issued, fetch = _fetcher(clock, lifetime)
    start = clock.now

    assert token.get(fetch) == "token-1"
    clock.now = start + lifetime - margin - 0.5
    assert token.get(fetch) == "token-1"
    clock.now = start + lifetime - margin + 0.5
    assert token.get(fetch) == "token-2"
    assert issued == ["token-1", "token-2"] and token.fetches == 2


def test_invalidate_only_clears_the_current_token() -> None:
    """A late 401 for an already renewed token does not throw away the new one."""
    clock = Clock()
    token = SharedToken(SPAWN, clock=clock)
    _, fetch = _fetcher(clock, 7200)
    old = token.get(fetch)

    assert token.invalidate(old) is True
    new = token.get(fetch)
    assert token.invalidate(old) is False
    assert token.get(fetch) == new == "token-2"


def test_failed_fetch_leaves_no_token_and_is_tried_again() -> None:
    clock = Clock()
    token = SharedToken(SPAWN, clock=clock)

    def broken() -> tuple[str, float]:
        raise ParseError("OAuth token answer without access_token", stage="api")

    with pytest.raises(ParseError):
        token.get(broken)
    _, fetch = _fetcher(clock, 7200)
    assert token.get(fetch) == "token-1"
    assert token.fetches == 1


@pytest.mark.parametrize(
    "bad",
    [SECRET + "é", SECRET * (TOKEN_CAPACITY // len(SECRET) + 1), ""],
    ids=["non-ascii", "too-long", "empty"],
)
def test_unusable_token_is_refused_without_quoting_it(bad: str) -> None:
    token = SharedToken(SPAWN)
    with pytest.raises(ParseError) as caught:
        token.get(lambda: (bad, time.time() + 7200))
    assert "secret" not in str(caught.value)
    assert token.fetches == 0


def test_repr_never_shows_the_token() -> None:
    token = SharedToken(SPAWN)
    token.get(lambda: (SECRET, time.time() + 7200))
    assert "secret" not in repr(token)
    assert re.fullmatch(
        r"<SharedToken held, renew in 6\d{3} s, fetches=1>", repr(token)
    )


def test_only_passed_to_processes_at_start() -> None:
    """Shared memory travels as a Process argument, never through a queue or pipe,
    where a copy would stop being shared."""
    with pytest.raises(RuntimeError, match="inheritance"):
        pickle.dumps(SharedToken(SPAWN))
