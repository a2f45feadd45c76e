"""Limits shared by every worker process: request rate, pauses after a 429, budget.

One `RequestGate` per provider lives in shared memory created by the coordinator and
is handed to each worker, so the pool as a whole, not each process, keeps to the
provider's rate. Requests are spaced evenly (one slot every 1/rate seconds): a burst
of N workers firing together is exactly what a per-second limit answers with 429s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from collect.errors import FetchError

# Oxylabs' published plans allow 10 jobs/s on a trial and 50 on paid plans.
DEFAULT_RATES = {"oxylabs": 10.0, "browse": 5.0}


class BudgetExhausted(FetchError):
    """The run's request budget (--max-requests) is spent; no request was sent."""

    error_type = "rate_limit"
    retryable = False


class RequestGate:
    """Rate, pause and budget for one provider, shared across processes.

    Picklable to processes started with `spawn` (as a Process argument): it holds only
    multiprocessing primitives. `clock` must be system-wide, as `time.monotonic` is.
    """

    def __init__(
        self, ctx: Any, rate: float = 0.0, max_requests: int | None = None
    ) -> None:
        self._lock = ctx.Lock()
        self._next_slot = ctx.RawValue("d", 0.0)
        self._paused_until = ctx.RawValue("d", 0.0)
        self._spent = ctx.RawValue("q", 0)
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.max_requests = max_requests

    def acquire(
        self,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> float:
        """Wait for this process's turn; return the seconds waited.

        Raises BudgetExhausted, without waiting, when the budget is spent.
        """
        self._take_budget()
        waited = 0.0
        while True:
            slot, pause_seen = self._take_slot(clock())
            delay = slot - clock()
            if delay > 0:
                sleep(delay)
                waited += delay
            # A 429 elsewhere while we slept moved the pause: take a later slot.
            if self._paused_until.value <= pause_seen:
                return waited

    def pause(
        self, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Hold every worker back for `seconds` (after a 429)."""
        with self._lock:
            until = clock() + seconds
            if until > self._paused_until.value:
                self._paused_until.value = until
            if until > self._next_slot.value:
                self._next_slot.value = until

    @property
    def spent(self) -> int:
        return int(self._spent.value)

    def paused_for(self, clock: Callable[[], float] = time.monotonic) -> float:
        return max(0.0, self._paused_until.value - clock())

    def _take_budget(self) -> None:
        with self._lock:
            if self.max_requests is not None and self._spent.value >= self.max_requests:
                raise BudgetExhausted(
                    f"the request budget of {self.max_requests} is spent",
                    hint="raise --max-requests, or continue later with --resume",
                )
            self._spent.value += 1

    def _take_slot(self, now: float) -> tuple[float, float]:
        with self._lock:
            pause = self._paused_until.value
            slot = max(now, self._next_slot.value, pause)
            self._next_slot.value = slot + self.interval
            return slot, pause
