"""The dashboard: drawn from a snapshot on a fixed-size console; the live loop."""

from __future__ import annotations

import io
import json

from click.testing import CliRunner
from rich.console import Console

from collect.tail.command import tail_command
from collect.tail.dashboard import render_dashboard
from collect.tail.fold import StreamTally, fold_lines
from collect.tail.live import run_dashboard
from collect.tail.reader import BatchedLines
from collect.tail.snapshot import take_snapshot
from collect.tail.summary import report
from collect.tail.synthetic import stream_lines

WIDTH, HEIGHT = 140, 40


def _console() -> Console:
    return Console(file=io.StringIO(), width=WIDTH, height=HEIGHT, color_system=None)


def _draw(lines: list[bytes]) -> str:
    console = _console()
    snapshot = take_snapshot(fold_lines(StreamTally(), lines))
    console.print(render_dashboard(snapshot), height=HEIGHT)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_shows_workers_metrics_feed_and_errors() -> None:
    lines = stream_lines(4000, workers=4, seed=9)
    screen = _draw(lines[: len(lines) // 2])
    rows = screen.splitlines()
    assert len(rows) == HEIGHT
    for worker_id in range(1, 5):
        assert any(row.split()[:2] == [str(worker_id), "ebay"] for row in rows)
    for title in ("collect tail", "metrics", "pipeline", "latest errors"):
        assert title in screen
    assert "new sellers from worker" in screen
    assert "req/min" in screen
    assert "products searched" in screen


def test_an_empty_stream_says_it_waits() -> None:
    assert "waiting for events" in _draw([b"garbage\n"])


def test_the_final_state_matches_the_summary() -> None:
    """The live loop reads everything, draws, and its last picture holds the same
    figures as `--summary --json`."""
    data = b"".join(stream_lines(3000, workers=3, seed=4))
    console = _console()
    snapshot = run_dashboard(
        BatchedLines(io.BytesIO(data), batch=500), None, None, console
    )
    result = CliRunner().invoke(tail_command, ["-", "--summary", "--json"], input=data)
    assert result.exit_code == 0
    assert report(snapshot) == json.loads(result.output)
    assert "done" in console.file.getvalue()  # type: ignore[attr-defined]
