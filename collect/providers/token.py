"""One OAuth access token for a whole run, shared by every worker process.

eBay grants an application 1,000 token requests a day, so N workers must not each
ask for their own. `SharedToken` lives in shared memory created by the coordinator
(a lock, the token bytes and its renewal time) and reaches the workers as a Process
argument, which works with the `spawn` start method and needs no Manager server:

    coordinator: token = SharedToken(ctx)          # before starting the workers
    worker:      bearer = token.get(client.fetch_token)
                 ...answer 401 with errorId 1001... token.invalidate(bearer)

`get` holds the lock while it fetches, so workers asking together wait for the one
fetch instead of starting their own. `invalidate` clears only the token it is given:
when several workers hit the same expired token at once, the first renews it and the
others find the new one already there. The token text is kept out of `repr` and of
every message this module writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from multiprocessing.context import BaseContext
from typing import Any

from collect.errors import ParseError

log = logging.getLogger(__name__)

# eBay application tokens are about 2 KB; room to spare without wasting memory.
TOKEN_CAPACITY = 8192
# Renew this long before the announced expiry (at most a tenth of the lifetime), so
# a request sent just before the deadline does not arrive with a dead token.
RENEW_MARGIN_S = 300.0

Fetch = Callable[[], tuple[str, float]]


class SharedToken:
    """A bearer token in shared memory; `fetch` returns (token, expires_at epoch s)."""

    def __init__(
        self, ctx: BaseContext, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._lock = ctx.Lock()
        self._bytes: Any = ctx.RawArray("c", TOKEN_CAPACITY)
        self._length: Any = ctx.RawValue("i", 0)
        self._renew_at: Any = ctx.RawValue("d", 0.0)
        self._fetches: Any = ctx.RawValue("i", 0)
        self._clock = clock

    def get(self, fetch: Fetch) -> str:
        """The current token, fetched once (under the lock) when none is valid."""
        with self._lock:
            now = self._clock()
            if self._length.value and now < self._renew_at.value:
                return self._read()
            token, expires_at = fetch()
            self._store(token, now, expires_at)
            self._fetches.value += 1
            log.info("OAuth token obtained, valid for %.0f s", expires_at - now)
            return token

    def invalidate(self, token: str) -> bool:
        """Forget `token` if it is still the current one; True when it was."""
        with self._lock:
            if not self._length.value or self._read() != token:
                return False
            self._length.value = 0
            self._renew_at.value = 0.0
            log.info("OAuth token refused by the API; it will be renewed")
            return True

    @property
    def fetches(self) -> int:
        """How many tokens this run has asked for, across all processes."""
        return int(self._fetches.value)

    def __repr__(self) -> str:
        with self._lock:
            held = "held" if self._length.value else "empty"
            left = max(0.0, self._renew_at.value - self._clock())
        return f"<SharedToken {held}, renew in {left:.0f} s, fetches={self.fetches}>"

    def _read(self) -> str:
        return self._bytes.raw[: self._length.value].decode("ascii")

    def _store(self, token: str, now: float, expires_at: float) -> None:
        encoded = token.encode("ascii") if token.isascii() else b""
        if not encoded or len(encoded) > TOKEN_CAPACITY:
            # Never quote the token itself: the message may end up in events.
            raise ParseError(
                f"unusable OAuth token ({len(token)} characters, non-ASCII or over "
                f"{TOKEN_CAPACITY})",
                stage="api",
            )
        lifetime = max(0.0, expires_at - now)
        self._bytes.raw = encoded
        self._length.value = len(encoded)
        self._renew_at.value = expires_at - min(RENEW_MARGIN_S, lifetime / 10)
