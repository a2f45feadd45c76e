"""The sandbox's misbehaviour: per-request fault dice, latency, and a rate limiter.

The dice have their own seeded generator, separate from the data generators in `synth`,
so turning faults on changes which requests fail but never what a successful answer
holds. One generator is shared by all handler threads behind a lock: the sequence of
rolls is reproducible, though which concurrent request gets which roll is not.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from collect.errors import ConfigError


class Fault(StrEnum):
    """What the sandbox does to one request; the values name the stats counters."""

    NONE = "ok"
    RATE_LIMIT = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    FAULTED = "faulted"
    BLOCK = "blocked"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"


SERVER_ERROR_STATUSES = (500, 502, 503)


@dataclass(frozen=True, slots=True)
class FaultRates:
    """The share of requests that get each fault; together at most 1."""

    rate_limit: float = 0.0
    server_error: float = 0.0
    timeout: float = 0.0
    faulted: float = 0.0
    block: float = 0.0
    malformed: float = 0.0
    truncated: float = 0.0

    def bands(self) -> list[tuple[float, Fault]]:
        """Cumulative upper bounds, so one uniform draw picks at most one fault."""
        shares = [
            (self.rate_limit, Fault.RATE_LIMIT),
            (self.server_error, Fault.SERVER_ERROR),
            (self.timeout, Fault.TIMEOUT),
            (self.faulted, Fault.FAULTED),
            (self.block, Fault.BLOCK),
            (self.malformed, Fault.MALFORMED),
            (self.truncated, Fault.TRUNCATED),
        ]
        for share, fault in shares:
            if not 0.0 <= share <= 1.0:
                raise ConfigError(f"sandbox fault rate for {fault} must be in 0..1")
        bands, total = [], 0.0
        for share, fault in shares:
            total += share
            bands.append((total, fault))
        if total > 1.0 + 1e-9:
            raise ConfigError(f"sandbox fault rates add up to {total:.3f}, over 1")
        return bands


@dataclass(frozen=True, slots=True)
class Roll:
    """The dice for one request: the fault, the delay before answering, and details."""

    fault: Fault
    delay_s: float
    server_error_status: int = 500
    retry_after: bool = False

    def for_target(self, *, ebay: bool) -> Roll:
        """A bot check only exists on eBay pages; on Amazon the request succeeds."""
        if self.fault is Fault.BLOCK and not ebay:
            return Roll(Fault.NONE, self.delay_s)
        return self


class FaultDice:
    """Thread-safe, seeded rolls; every request rolls the same number of values."""

    def __init__(
        self,
        seed: int,
        rates: FaultRates,
        *,
        latency_ms: float = 0.0,
        latency_jitter_ms: float = 0.0,
        retry_after_share: float = 0.5,
    ) -> None:
        self._bands = rates.bands()
        self._latency_ms = latency_ms
        self._jitter_ms = latency_jitter_ms
        self._retry_after_share = retry_after_share
        self._rng = random.Random(f"sandbox-faults:{seed}")
        self._lock = threading.Lock()

    def roll(self) -> Roll:
        with self._lock:
            draw, jitter, status_draw, retry_draw = (
                self._rng.random() for _ in range(4)
            )
        delay_ms = self._latency_ms + (2 * jitter - 1) * self._jitter_ms
        return Roll(
            fault=self._pick(draw),
            delay_s=max(0.0, delay_ms) / 1000,
            server_error_status=SERVER_ERROR_STATUSES[int(status_draw * 3) % 3],
            retry_after=retry_draw < self._retry_after_share,
        )

    def _pick(self, draw: float) -> Fault:
        for upper, fault in self._bands:
            if draw < upper:
                return fault
        return Fault.NONE


class RateLimiter:
    """A token bucket holding one second of requests, like a per-second API quota.

    `rps` 0 means unlimited. `take` answers whether one more request may pass now;
    `remaining` feeds the `x-ratelimit-...-remaining` header.
    """

    def __init__(self, rps: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = rps
        self._capacity = max(1.0, rps)
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def take(self) -> bool:
        if not self.enabled:
            return True
        with self._lock:
            now = self._clock()
            refill = (now - self._last) * self.limit
            self._tokens = min(self._capacity, self._tokens + refill)
            self._last = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True

    def remaining(self) -> int:
        with self._lock:
            return int(self._tokens)
