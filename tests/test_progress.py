"""The progress line: exact redraws under an injected clock, silence when not wanted."""

from __future__ import annotations

import io

import pytest

from collect.progress import ProgressLine, eta_seconds, format_eta

CLEAR = "\x1b[K"


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class BrokenTerminal(FakeTerminal):
    """A terminal whose reader went away, as after `2>&1 | head` ended."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        raise BrokenPipeError(32, "Broken pipe")


class Clock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def drawn(*lines: str) -> str:
    return "".join(f"\r{line}{CLEAR}" for line in lines)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def terminal() -> FakeTerminal:
    return FakeTerminal()


def test_first_update_draws_with_unknowns(terminal: FakeTerminal, clock: Clock) -> None:
    progress = ProgressLine(terminal, clock)
    progress.update("ebay", 0, 79, 0)
    assert terminal.getvalue() == drawn("ebay  0/79 products  -- req/s  ETA --:--")


def test_rate_and_eta_from_the_recent_pace(
    terminal: FakeTerminal, clock: Clock
) -> None:
    """17 products and 197 requests in 16 s: 34 products left take 32 s."""
    progress = ProgressLine(terminal, clock)
    progress.update("ebay", 28, 79, 100)
    clock.now = 16.0
    progress.update("ebay", 45, 79, 297)
    assert terminal.getvalue() == drawn(
        "ebay  28/79 products  -- req/s  ETA --:--",
        "ebay  45/79 products  12.3 req/s  ETA 0:32",
    )


def test_at_most_four_redraws_a_second(terminal: FakeTerminal, clock: Clock) -> None:
    """Updates every 0.1 s for 0.8 s: drawn at 0.0, 0.3 and 0.6 only."""
    progress = ProgressLine(terminal, clock)
    for tick in range(9):
        clock.now = tick / 10
        progress.update("amazon", tick, 20, tick)
    assert terminal.getvalue() == drawn(
        "amazon  0/20 categories  -- req/s  ETA --:--",
        "amazon  3/20 categories  -- req/s  ETA --:--",
        "amazon  6/20 categories  -- req/s  ETA --:--",
    )


def test_the_window_forgets_the_slow_start(
    terminal: FakeTerminal, clock: Clock
) -> None:
    """1 req/s for 30 s, then 5 req/s for 30 s: the last 30 s say 5.0."""
    progress = ProgressLine(terminal, clock)
    for second in range(61):
        clock.now = float(second)
        requests = second if second <= 30 else 30 + 5 * (second - 30)
        progress.update("ebay", second, 100, requests)
    last = terminal.getvalue().rsplit("\r", 1)[1]
    # 30 products in the last 30 s: 40 left at 1 a second.
    assert last == f"ebay  60/100 products  5.0 req/s  ETA 0:40{CLEAR}"


def test_a_new_phase_draws_at_once_and_starts_afresh(
    terminal: FakeTerminal, clock: Clock
) -> None:
    progress = ProgressLine(terminal, clock)
    progress.update("amazon", 0, 2, 0)
    clock.now = 2.0
    progress.update("amazon", 2, 2, 2)
    clock.now = 2.1
    progress.update("ebay", 0, 79, 2)
    assert terminal.getvalue() == drawn(
        "amazon  0/2 categories  -- req/s  ETA --:--",
        "amazon  2/2 categories  1.0 req/s  ETA 0:00",
        "ebay  0/79 products  -- req/s  ETA --:--",
    )


def test_close_shows_the_latest_counts_then_ends_the_line(
    terminal: FakeTerminal, clock: Clock
) -> None:
    progress = ProgressLine(terminal, clock)
    progress.update("ebay", 1, 3, 1)
    clock.now = 0.1
    progress.update("ebay", 3, 3, 4)
    progress.close()
    progress.close()
    assert terminal.getvalue() == (
        drawn(
            "ebay  1/3 products  -- req/s  ETA --:--",
            "ebay  3/3 products  -- req/s  ETA 0:00",
        )
        + "\n"
    )


def test_close_without_updates_writes_nothing(terminal: FakeTerminal) -> None:
    ProgressLine(terminal).close()
    assert terminal.getvalue() == ""


def test_clear_erases_and_the_next_update_redraws(
    terminal: FakeTerminal, clock: Clock
) -> None:
    progress = ProgressLine(terminal, clock)
    progress.update("ebay", 1, 3, 1)
    progress.clear()
    clock.now = 1.0
    progress.update("ebay", 2, 3, 2, unit="pages")
    assert terminal.getvalue() == (
        drawn("ebay  1/3 products  -- req/s  ETA --:--")
        + f"\r{CLEAR}"
        + drawn("ebay  2/3 pages  1.0 req/s  ETA 0:01")
    )


@pytest.mark.parametrize(
    ("stream", "enabled"),
    [(io.StringIO(), None), (FakeTerminal(), False)],
    ids=["not-a-terminal", "quiet"],
)
def test_silent_when_disabled(stream: io.StringIO, enabled: bool | None) -> None:
    progress = ProgressLine(stream, Clock(), enabled)
    progress.update("ebay", 1, 2, 3)
    progress.close()
    assert (progress.enabled, stream.getvalue()) == (False, "")


def test_a_dumb_terminal_gets_no_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """TERM=dumb (Emacs shells, some CI) shows escape codes as text."""
    monkeypatch.setenv("TERM", "dumb")
    assert ProgressLine(FakeTerminal()).enabled is False
    monkeypatch.setenv("TERM", "xterm-256color")
    assert ProgressLine(FakeTerminal()).enabled is True


def test_a_broken_pipe_turns_the_line_off(clock: Clock) -> None:
    stream = BrokenTerminal()
    progress = ProgressLine(stream, clock)
    progress.update("ebay", 1, 2, 3)
    clock.now = 5.0
    progress.update("ebay", 2, 2, 4)
    progress.close()
    assert (progress.enabled, stream.writes) == (False, 1)


def test_a_closed_stream_turns_the_line_off(clock: Clock) -> None:
    stream = FakeTerminal()
    progress = ProgressLine(stream, clock)
    stream.close()
    progress.update("ebay", 1, 2, 3)
    progress.close()
    assert progress.enabled is False


def test_stderr_by_default_never_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    progress = ProgressLine(clock=Clock(), enabled=True)
    progress.update("ebay", 1, 2, 3)
    progress.close()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == drawn("ebay  1/2 products  -- req/s  ETA --:--") + "\n"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "--:--"), (0.0, "0:00"), (59.6, "1:00"), (754, "12:34"), (3725, "1:02:05")],
    ids=["unknown", "zero", "rounded", "minutes", "hours"],
)
def test_format_eta(seconds: float | None, text: str) -> None:
    assert format_eta(seconds) == text


@pytest.mark.parametrize(
    ("done", "total", "rate", "eta"),
    [(5, 5, None, 0.0), (1, 5, None, None), (1, 5, 0.0, None), (1, 5, 2.0, 2.0)],
    ids=["finished", "no-pace", "stalled", "paced"],
)
def test_eta_seconds(
    done: int, total: int, rate: float | None, eta: float | None
) -> None:
    assert eta_seconds(done, total, rate) == eta
