"""The live dashboard loop: read what came, fold it, redraw a few times a second.

The screen is redrawn in the terminal's alternate buffer, from a layout exactly the
terminal's size, so a redraw overwrites in place instead of scrolling (no flicker).
On Ctrl-C or at the end of the input the normal screen comes back and the last
picture is printed there, so it stays in the scrollback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from rich.console import Console
from rich.live import Live

from collect.tail.dashboard import render_dashboard
from collect.tail.filters import EventFilter
from collect.tail.fold import StreamTally, fold_lines
from collect.tail.reader import LineSource
from collect.tail.snapshot import Snapshot, take_snapshot

REDRAW_S = 0.25


def run_dashboard(
    lines: LineSource,
    keep: EventFilter | None,
    clock: Callable[[], datetime] | None,
    console: Console | None = None,
) -> Snapshot:
    """Show the dashboard until the input ends or Ctrl-C; returns the last picture."""
    console = console or Console()
    tally = StreamTally()
    snapshot = take_snapshot(tally, _now(clock))
    try:
        with Live(console=console, screen=True, auto_refresh=False) as live:
            snapshot = _loop(lines, keep, clock, tally, live)
    except KeyboardInterrupt:
        snapshot = take_snapshot(tally, _now(clock))
    console.print(render_dashboard(snapshot), height=console.height)
    return snapshot


def _loop(
    lines: LineSource,
    keep: EventFilter | None,
    clock: Callable[[], datetime] | None,
    tally: StreamTally,
    live: Live,
) -> Snapshot:
    next_draw = 0.0
    while True:
        fold_lines(tally, lines.poll(REDRAW_S / 2), keep)
        if time.monotonic() >= next_draw or lines.finished:
            snapshot = take_snapshot(tally, _now(clock))
            live.update(render_dashboard(snapshot), refresh=True)
            next_draw = time.monotonic() + REDRAW_S
        if lines.finished:
            return snapshot


def _now(clock: Callable[[], datetime] | None) -> datetime | None:
    return clock() if clock is not None else None
