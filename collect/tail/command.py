"""`collect tail`: the click command, wiring the options to the readers and views.

Exit codes: 0 done (also when quit with Ctrl-C), 2 usage error or unreadable file,
141 the output pipe was closed (e.g. `| head`).
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import BinaryIO, TextIO

import click
import orjson

from collect.events import PHASES, PIPELINE_ACTIONS, WORKER_ACTIONS
from collect.tail.filters import EventFilter, build_filter
from collect.tail.fold import StreamTally, fold_lines
from collect.tail.plain import PlainPrinter, use_colour
from collect.tail.reader import (
    BatchedLines,
    FollowedFile,
    LineSource,
    PipeLines,
    iter_lines,
)
from collect.tail.snapshot import take_snapshot
from collect.tail.summary import format_report, report

EXIT_OUTPUT_CLOSED = 141
# Seconds between two reads of a followed file when nothing new came.
POLL_S = 0.25
Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@click.command("tail")
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option("-f", "--follow", is_flag=True, help="Keep reading as the file grows.")
@click.option("--plain", is_flag=True, help="One line per event, even on a terminal.")
@click.option("--summary", is_flag=True, help="Read to the end, print the report.")
@click.option("--json", "as_json", is_flag=True, help="The --summary report as JSON.")
@click.option("--worker", "workers", type=int, multiple=True, help="Only worker N.")
@click.option(
    "--phase",
    "phases",
    type=click.Choice(PHASES),
    multiple=True,
    help="Only this phase.",
)
@click.option(
    "--action",
    "actions",
    type=click.Choice(WORKER_ACTIONS + PIPELINE_ACTIONS),
    multiple=True,
    help="Only this action (repeatable).",
)
@click.option("--errors", is_flag=True, help="Only errors and rate limits.")
@click.option("--since", metavar="TIME|DURATION", help="e.g. 10m, 1h30m, 15:00.")
def tail_command(
    source: str,
    follow: bool,
    plain: bool,
    summary: bool,
    as_json: bool,
    workers: tuple[int, ...],
    phases: tuple[str, ...],
    actions: tuple[str, ...],
    errors: bool,
    since: str | None,
) -> None:
    """Show the activity of a run: a live dashboard, plain lines, or a summary.

    Reads the JSON lines of `collect run` from FILE, or from stdin when FILE is `-`
    or left out. On a terminal it draws the worker dashboard; piped, it prints one
    line per event. Lines that are not events are shown as they are and counted.
    """
    keep = _filter_or_fail(workers, phases, actions, errors, since)
    if source == "-" and sys.stdin.isatty():
        raise click.UsageError(
            "no input: give a FILE, or pipe the stream in (collect run | collect tail)."
        )
    if summary or as_json:
        if follow:
            raise click.UsageError("--summary reads to the end: drop --follow.")
        with _open(source) as stream:
            print_summary(iter_lines(stream), sys.stdout, keep, as_json)
        return
    out = sys.stdout
    try:
        if plain or not out.isatty():
            _plain(source, follow, out, keep)
        else:
            _dashboard(source, follow, keep)
    except KeyboardInterrupt:
        return
    except BrokenPipeError:
        _quiet_broken_pipe()


def _filter_or_fail(
    workers: tuple[int, ...],
    phases: tuple[str, ...],
    actions: tuple[str, ...],
    errors: bool,
    since: str | None,
) -> EventFilter | None:
    try:
        return build_filter(workers, phases, actions, errors, since, wall_clock())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


def _open(source: str) -> BinaryIO:
    if source == "-":
        return sys.stdin.buffer
    try:
        return open(source, "rb")
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {source}: {exc.strerror}", param_hint="FILE"
        ) from exc


def open_source(source: str, follow: bool) -> LineSource:
    """Lines to poll: a followed file, a pipe, or a file read once in batches."""
    if source != "-" and follow:
        return FollowedFile(source, time.sleep)
    stream = _open(source)
    if _is_pipe(stream):
        return PipeLines(stream)
    return BatchedLines(stream)


def _is_pipe(stream: BinaryIO) -> bool:
    """A pipe or terminal, to poll; not a regular file or an in-memory stream."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return not stat.S_ISREG(mode)


def print_summary(
    lines: Iterable[bytes], out: TextIO, keep: EventFilter | None, as_json: bool
) -> None:
    tally = fold_lines(StreamTally(), lines, keep)
    snapshot = take_snapshot(tally)
    if as_json:
        out.write(orjson.dumps(report(snapshot), option=orjson.OPT_INDENT_2).decode())
        out.write("\n")
    else:
        out.write(format_report(snapshot))


def _plain(source: str, follow: bool, out: TextIO, keep: EventFilter | None) -> None:
    printer = PlainPrinter(out, use_colour(out), keep)
    if not follow:
        with _open(source) as stream:
            printer.print_lines(iter_lines(stream))
        return
    follow_plain(open_source(source, follow), printer)


def follow_plain(lines: LineSource, printer: PlainPrinter) -> None:
    """Print lines as they come until the source ends (never, for a file)."""
    while not lines.finished:
        batch = lines.poll(POLL_S)
        if batch:
            printer.print_lines(batch)
            printer.out.flush()


def _dashboard(source: str, follow: bool, keep: EventFilter | None) -> None:
    # Imported here: rich is only needed on a terminal.
    from collect.tail.live import run_dashboard

    lines = open_source(source, follow)
    # A file read once is history: its own timestamps are the clock, not the wall.
    live = follow or isinstance(lines, PipeLines)
    run_dashboard(lines, keep, wall_clock if live else None)


def _quiet_broken_pipe() -> None:
    # The reader went away: point stdout at /dev/null so the exit flush is silent.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_OUTPUT_CLOSED)
