"""One progress line on stderr for a person at a terminal.

    ebay  45/79 products  12.3 req/s  ETA 0:32

Redrawn in place (carriage return, then clear to the end of the line) at most four
times a second. Rates are taken over the last 30 seconds, so the ETA follows the
pace of now rather than of the run's slow start. The line is off when the stream is
not a terminal: cron mail and log files get nothing of it. It never touches stdout,
which carries the event stream.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

REDRAW_INTERVAL = 0.25
WINDOW = 30.0
# A rate over less than this is noise: one request in 0.1 s is not "10 req/s".
MIN_SPAN = 1.0
UNITS = {"amazon": "categories", "ebay": "products"}
CLEAR_TO_END = "\x1b[K"
UNKNOWN_ETA = "--:--"
UNKNOWN_RATE = "--"


@dataclass(frozen=True)
class _Sample:
    at: float
    done: int
    requests: int


class ProgressLine:
    """The progress line; `enabled=None` means: only if `stream` is a terminal.

    Pass `enabled=False` for `--quiet`. A stream that breaks (closed stderr, a
    broken pipe) turns the line off for good, silently.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool | None = None,
        *,
        interval: float = REDRAW_INTERVAL,
        window: float = WINDOW,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self.enabled = is_terminal(self._stream) if enabled is None else enabled
        self.interval = interval
        self.window = window
        self._samples: deque[_Sample] = deque()
        self._phase: str | None = None
        self._last_draw: float | None = None
        self._drawn: str | None = None
        self._latest: str | None = None

    def update(
        self, phase: str, done: int, total: int, requests: int, unit: str | None = None
    ) -> None:
        """Record the counts; redraw unless the line was drawn very recently."""
        if not self.enabled:
            return
        now = self._clock()
        if phase != self._phase:
            # Another phase counts other tasks: its pace starts afresh.
            self._samples.clear()
            self._phase, self._last_draw = phase, None
        current = _Sample(now, done, requests)
        line = self._format(phase, total, unit, current)
        self._remember(current)
        self._latest = line
        if self._last_draw is None or now - self._last_draw >= self.interval:
            self._draw(line, now)

    def clear(self) -> None:
        """Erase the line, e.g. before a log record; the next update redraws it."""
        if self.enabled and self._drawn is not None:
            self._write("\r" + CLEAR_TO_END)
            self._drawn = None

    def close(self) -> None:
        """Show the latest counts and end the line, so the shell prompt starts clean."""
        if not self.enabled:
            return
        if self._latest is not None and self._latest != self._drawn:
            self._draw(self._latest, self._clock())
        if self._drawn is not None:
            self._write("\n")
        self._drawn = self._latest = None

    def _format(self, phase: str, total: int, unit: str | None, now: _Sample) -> str:
        request_rate = task_rate = None
        base = self._baseline(now.at)
        if base is not None and now.at - base.at >= MIN_SPAN:
            span = now.at - base.at
            request_rate = (now.requests - base.requests) / span
            task_rate = (now.done - base.done) / span
        return format_progress(
            phase,
            now.done,
            total,
            unit or UNITS.get(phase, "tasks"),
            request_rate,
            eta_seconds(now.done, total, task_rate),
        )

    def _baseline(self, now: float) -> _Sample | None:
        """The oldest sample still inside the window (or just at its edge)."""
        samples = self._samples
        while len(samples) > 1 and samples[1].at <= now - self.window:
            samples.popleft()
        return samples[0] if samples else None

    def _remember(self, sample: _Sample) -> None:
        # One sample per redraw interval bounds memory to window / interval samples.
        last = self._samples[-1] if self._samples else None
        if last is None or sample.at - last.at >= self.interval:
            self._samples.append(sample)

    def _draw(self, line: str, now: float) -> None:
        self._write("\r" + line + CLEAR_TO_END)
        self._drawn, self._last_draw = line, now

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            # Closed stderr (ValueError) or a gone reader (BrokenPipeError): the
            # run matters more than its progress line.
            self.enabled = False


def is_terminal(stream: TextIO) -> bool:
    """A terminal that understands `\\r` and clear-to-end-of-line."""
    try:
        tty = stream.isatty()
    except (OSError, ValueError):
        return False
    return tty and os.environ.get("TERM") != "dumb"


def eta_seconds(done: int, total: int, task_rate: float | None) -> float | None:
    """Seconds left at the recent pace; None when the pace is unknown or zero."""
    if done >= total:
        return 0.0
    if not task_rate or task_rate <= 0:
        return None
    return (total - done) / task_rate


def format_progress(
    phase: str,
    done: int,
    total: int,
    unit: str,
    request_rate: float | None,
    eta: float | None,
) -> str:
    rate = UNKNOWN_RATE if request_rate is None else f"{request_rate:.1f}"
    return f"{phase}  {done}/{total} {unit}  {rate} req/s  ETA {format_eta(eta)}"


def format_eta(seconds: float | None) -> str:
    """`M:SS`, or `H:MM:SS` from an hour on; `--:--` when unknown."""
    if seconds is None:
        return UNKNOWN_ETA
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"
