"""Plain lines: every event once, garbage as it is, colour only where it belongs."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from collect.tail.command import tail_command
from collect.tail.plain import PlainPrinter, describe_worker_event, use_colour
from collect.tail.synthetic import stream_lines

GARBAGE = [b"Traceback (most recent call last):", b"[1, 2, 3]", b"{not json"]


@pytest.fixture
def messy(tmp_path: Path) -> tuple[Path, list[bytes], list[bytes]]:
    """Two runs, garbage lines between events, and a truncated last line."""
    lines = stream_lines(600, workers=3, seed=2, runs=2)
    path = tmp_path / "events.jsonl"
    garbage = []
    with path.open("wb") as out:
        for index, line in enumerate(lines[:-1]):
            out.write(line)
            if index % 100 == 3:
                garbage.append(GARBAGE[index % 3])
                out.write(garbage[-1] + b"\n")
        out.write(lines[-1][:30])
    return path, lines, garbage


def test_every_event_once_and_garbage_as_is(
    messy: tuple[Path, list[bytes], list[bytes]],
) -> None:
    """Each complete event gives one line naming its time; each garbage line is
    printed unchanged; the truncated tail too; exit 0."""
    path, lines, garbage = messy
    result = CliRunner().invoke(tail_command, [str(path), "--plain"])
    assert result.exit_code == 0
    output = result.output.splitlines()

    events = [orjson.loads(line) for line in lines[:-1]]
    event_lines = [line for line in output if line[:2].isdigit() and line[2] == ":"]
    assert len(event_lines) == len(events)
    for event, line in zip(events, event_lines, strict=True):
        assert line.startswith(event["timestamp"][11:23])
    shown = [line.encode() for line in output if line.encode() in GARBAGE]
    assert shown == garbage
    assert output[-1] == lines[-1][:30].decode()


def test_runs_are_kept_apart(messy: tuple[Path, list[bytes], list[bytes]]) -> None:
    """A header line marks where each run starts."""
    path, lines, _ = messy
    result = CliRunner().invoke(tail_command, [str(path), "--plain"])
    headers = [line for line in result.output.splitlines() if line.startswith("──")]
    run_ids = dict.fromkeys(orjson.loads(line)["run_id"] for line in lines[:-1])
    assert headers == [f"── run {run_id} ──" for run_id in run_ids]


def test_errors_filter_shows_only_errors_and_rate_limits(
    messy: tuple[Path, list[bytes], list[bytes]],
) -> None:
    path, _, _ = messy
    result = CliRunner().invoke(tail_command, [str(path), "--plain", "--errors"])
    rows = [line for line in result.output.splitlines() if line[:2].isdigit()]
    assert rows
    assert {line.split()[3] for line in rows} <= {"error", "rate"}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            {"phase": "amazon", "action": "fetching", "category": "Toys",
             "api_params": {"node_id": "165793011", "page": 2}, "attempt": 3},
            "Toys (node 165793011) p2 · attempt 3",
        ),
        (
            {"phase": "ebay", "action": "found", "items_count": 12,
             "new_sellers_count": 5, "duration_ms": 1234,
             "api_params": {"query": "usb hub", "price_min": 8, "price_max": 12,
                            "page": 1}},
            '12 sellers (5 unique) for "usb hub" $8–12 p1 · 1.2 s',
        ),
        (
            {"phase": "ebay", "action": "rate_limited", "error_type": "rate_limit",
             "error_stage": "api", "http_status": 429, "attempt": 1,
             "error_message": "slow down", "retry_after_ms": 2000},
            "rate_limit/api HTTP 429: slow down (attempt 1, retry in 2.0 s)",
        ),
        (
            {"phase": "amazon", "action": "error", "error_type": "parse_error",
             "error_stage": "price_parsing", "product_name": "Mug",
             "error_message": "no price"},
            'rejected "Mug": no price',
        ),
    ],
    ids=["fetching-retry", "ebay-found", "rate-limited", "rejected-product"],
)  # fmt: skip
def test_the_fields_that_matter_per_action(event: dict, expected: str) -> None:
    assert describe_worker_event(event) == expected


def test_system_events_in_words() -> None:
    """Pipeline events read as sentences, attributed to their worker."""
    out = io.StringIO()
    event = {
        "id": "r.0.1",
        "timestamp": "2026-09-21T14:13:20.050Z",
        "worker_id": 0,
        "phase": "ebay",
        "action": "inserted",
        "items_count": 12,
        "source_worker_id": 3,
    }
    PlainPrinter(out, colour=False).print_lines([orjson.dumps(event)])
    head = "14:13:20.050  sys  ebay    inserted      "
    assert out.getvalue() == head + "inserted 12 new sellers from worker 3\n"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "environ", "expected"),
    [
        (_Tty(), {}, True),
        (_Tty(), {"NO_COLOR": "1"}, False),
        (io.StringIO(), {}, False),
    ],
    ids=["terminal", "no-color", "pipe"],
)
def test_colour_only_on_a_terminal_without_no_color(
    stream: io.StringIO, environ: dict[str, str], expected: bool
) -> None:
    assert use_colour(stream, environ) is expected


def test_garbage_is_dimmed_only_in_colour() -> None:
    out = io.StringIO()
    PlainPrinter(out, colour=True).print_lines([b"oops\n"])
    assert out.getvalue() == "\x1b[2moops\x1b[0m\n"
