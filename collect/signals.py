"""Who stops on a signal: only the coordinator.

Ctrl-C and `kill -TERM -<group>` reach every process of the run. Children ignore
them and let the coordinator decide: it stops handing out work, drains the writer
and ends the stream with a `complete` event. Children are started with the signals
blocked, so one that arrives while a child is still importing waits, and is then
discarded, instead of killing the child half-started.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


def leave_signals_to_the_coordinator() -> None:
    """Call first thing in a child process."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold stop signals while starting a child; they are delivered afterwards."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
