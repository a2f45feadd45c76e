"""The pool-wide request gate: spacing, pauses after a 429, and the budget."""

from __future__ import annotations

import contextlib
import multiprocessing

import pytest

from collect.limits import BudgetExhausted, RequestGate

CTX = multiprocessing.get_context("spawn")


class FakeClock:
    """A clock that only moves when the gate sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_requests_are_spaced_at_the_rate() -> None:
    """At 4 requests/s, back-to-back requests leave 0.25 s apart."""
    gate, clock = RequestGate(CTX, rate=4), FakeClock()
    for _ in range(4):
        gate.acquire(clock.sleep, clock)
    assert clock.sleeps == [0.25, 0.25, 0.25]
    assert gate.spent == 4


def test_unlimited_rate_never_waits() -> None:
    """Rate 0 means no spacing at all."""
    gate, clock = RequestGate(CTX, rate=0), FakeClock()
    for _ in range(10):
        gate.acquire(clock.sleep, clock)
    assert clock.sleeps == []


def test_a_pause_holds_back_the_next_request() -> None:
    """After a 429 with Retry-After 2, the next request waits out those 2 s."""
    gate, clock = RequestGate(CTX, rate=0), FakeClock()
    gate.acquire(clock.sleep, clock)
    gate.pause(2.0, clock)
    assert gate.paused_for(clock) == 2.0
    gate.acquire(clock.sleep, clock)
    assert clock.sleeps == [2.0]


def test_a_shorter_pause_never_shortens_a_longer_one() -> None:
    """Two workers hit 429: the longer wait wins."""
    gate, clock = RequestGate(CTX, rate=0), FakeClock()
    gate.pause(5.0, clock)
    gate.pause(1.0, clock)
    assert gate.paused_for(clock) == 5.0


@pytest.mark.parametrize("budget", [1, 3], ids=["one", "three"])
def test_budget_stops_before_sending(budget: int) -> None:
    """The request past the budget raises without being counted or waited for."""
    gate, clock = RequestGate(CTX, rate=0, max_requests=budget), FakeClock()
    for _ in range(budget):
        gate.acquire(clock.sleep, clock)
    with pytest.raises(BudgetExhausted) as caught:
        gate.acquire(clock.sleep, clock)
    assert gate.spent == budget
    assert "--max-requests" in (caught.value.hint or "")


def _hammer(gate: RequestGate, count: int) -> None:
    for _ in range(count):
        gate.acquire()


def test_the_budget_is_shared_by_processes() -> None:
    """Three processes asking for 10 requests each share a budget of 12."""
    gate = RequestGate(CTX, rate=0, max_requests=12)
    workers = [CTX.Process(target=_spend, args=(gate, 10)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert gate.spent == 12


def _spend(gate: RequestGate, count: int) -> None:
    with contextlib.suppress(BudgetExhausted):
        _hammer(gate, count)
