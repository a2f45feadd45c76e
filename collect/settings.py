"""Run settings: one frozen value built by the CLI and handed to every process."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

from collect.errors import ConfigError

OXYLABS_URL = "https://realtime.oxylabs.io"
BROWSE_URL = "https://api.ebay.com"


@dataclass(frozen=True)
class PriceBand:
    """The eBay price filter as multiples of the Amazon price (0.8:1.2 = ±20 %)."""

    low: float = 0.8
    high: float = 1.2

    @classmethod
    def parse(cls, text: str) -> PriceBand:
        match = re.fullmatch(r"\s*([0-9.]+)\s*[:\-]\s*([0-9.]+)\s*", text)
        if not match:
            raise ConfigError(
                f"bad price band {text!r}", hint="write it as LOW:HIGH, e.g. 0.8:1.2"
            )
        low, high = float(match[1]), float(match[2])
        if not (0 < low < high) or not math.isfinite(high):
            raise ConfigError(
                f"bad price band {text!r}: LOW must be above 0 and below HIGH",
                hint="e.g. 0.8:1.2, or 1.8:2.2 for an 80-120 % markup",
            )
        return cls(low, high)

    def bounds(self, price: float) -> tuple[float, float]:
        """Round outward to whole cents so the band never shrinks."""
        return (
            math.floor(price * self.low * 100) / 100,
            math.ceil(price * self.high * 100) / 100,
        )

    def __str__(self) -> str:
        return f"{self.low:g}:{self.high:g}"


@dataclass(frozen=True)
class Credentials:
    """A user name and secret; the secret never shows in repr, logs or events."""

    username: str
    password: str = field(repr=False)

    @classmethod
    def from_env(cls, user_var: str, password_var: str) -> Credentials | None:
        username = os.environ.get(user_var, "")
        password = os.environ.get(password_var, "")
        return cls(username, password) if username and password else None


@dataclass(frozen=True)
class RetryPolicy:
    """How one request is retried.

    `attempts` bounds tries for errors (5xx, timeouts, faulted jobs, blocks); a 429 is
    the server asking us to slow down, not a failure of the request, so it has its own
    bound, `rate_limit_waits`, on top.
    """

    attempts: int = 3
    rate_limit_waits: int = 8
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0


@dataclass(frozen=True)
class RunSettings:
    """Everything a run needs; built once by the CLI, pickled to every process."""

    run_id: str
    node_ids: tuple[tuple[str, str], ...]  # (node id, category name)
    workers: int = 6
    out: str | None = None
    store: str = "sellers.db"
    price_band: PriceBand = PriceBand()
    amazon_pages: int = 1
    ebay_pages: int = 3
    query_max_chars: int = 80
    retry: RetryPolicy = RetryPolicy()
    requeue_rounds: int = 2
    connect_timeout: float = 10.0
    read_timeout: float = 180.0
    oxylabs_url: str = OXYLABS_URL
    oxylabs: Credentials | None = None
    batch_size: int = 500
    batch_seconds: float = 1.0
    start_method: str = "spawn"
    rate: float = 0.0  # requests per second for the whole pool; 0 = unlimited
    max_requests: int | None = None
    max_error_rate: float = 0.2
    job_id: str = ""  # the run whose tasks this one continues; "" = its own
    metrics_file: str | None = None
    ebay_source: str = "oxylabs"  # or "browse": eBay's Browse API
    browse_url: str = BROWSE_URL
    ebay: Credentials | None = None
    browse_limit: int = 200
    browse_daily_budget: int = 5000
    browse_rate: float = 0.0
    progress: bool = True  # a progress line on stderr, when it is a terminal

    @property
    def job(self) -> str:
        return self.job_id or self.run_id

    def resumable(self) -> dict[str, object]:
        """What --resume needs to redo this run's job."""
        return {
            "job_id": self.job,
            "node_ids": [list(pair) for pair in self.node_ids],
            "amazon_pages": self.amazon_pages,
            "ebay_pages": self.ebay_pages,
            "price_band": str(self.price_band),
            "query_max_chars": self.query_max_chars,
        }

    log_level: int = 30
