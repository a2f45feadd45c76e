"""`--summary --json` gives the counts a jq reduction of the same file gives."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from collect.tail.command import tail_command
from collect.tail.synthetic import stream_lines

GARBAGE = b"Traceback (most recent call last):\n"

# The same figures as `expected_counts`, for a jq check when jq is installed.
JQ_PROGRAM = """
[inputs | objects | select(has("action") and has("worker_id"))] as $e
| {
    requests: [$e[] | select(.action == "fetching")] | length,
    found: [$e[] | select(.action == "found")] | length,
    rate_limited: [$e[] | select(.action == "rate_limited")] | length,
    errors: [$e[] | select(.action == "error")] | length,
    sellers_inserted: [$e[] | select(.action == "inserted") | .items_count] | add,
  }
"""


@pytest.fixture
def two_runs(tmp_path: Path) -> Path:
    """Two runs appended to one file, with garbage between the events."""
    lines = stream_lines(3000, workers=5, seed=11, runs=2)
    path = tmp_path / "events.jsonl"
    with path.open("wb") as out:
        for index, line in enumerate(lines):
            out.write(line)
            if index % 500 == 7:
                out.write(GARBAGE)
    return path


def expected_counts(path: Path) -> dict[str, dict[str, Any]]:
    """The figures per run, computed from the raw file the plainest way."""
    runs: dict[str, dict[str, Any]] = {}
    for raw in path.read_bytes().splitlines():
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        run = runs.setdefault(
            event["run_id"],
            {"actions": Counter(), "types": Counter(), "sums": Counter()},
        )
        run["actions"][event["action"]] += 1
        if event["action"] == "error":
            run["types"][event["error_type"]] += 1
        if event["worker_id"] == 0 and "items_count" in event:
            run["sums"][event["action"]] += event["items_count"]
        if event["action"] == "found":
            run["sums"][f"found_{event['phase']}"] += event["items_count"]
    return runs


def summary_json(path: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(tail_command, [str(path), "--summary", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_json_counts_match_an_independent_count(two_runs: Path) -> None:
    """requests, found, errors by type, rate limits and pipeline sums, per run."""
    expected = expected_counts(two_runs)
    report = summary_json(two_runs)

    assert report["garbage_lines"] == two_runs.read_bytes().count(GARBAGE) > 0
    assert [run["run_id"] for run in report["runs"]] == list(expected)
    for run in report["runs"]:
        want = expected[run["run_id"]]
        assert run["actions"] == dict(want["actions"])
        assert run["requests"] == want["actions"]["fetching"]
        assert run["found"] == want["actions"]["found"]
        assert run["rate_limited"] == want["actions"]["rate_limited"]
        assert run["errors"] == want["actions"]["error"]
        assert run["errors_by_type"] == dict(want["types"])
        assert run["pipeline"] == {
            "products_stored": want["sums"]["uploading"],
            "sellers_deduped": want["sums"]["deduped"],
            "sellers_inserted": want["sums"]["inserted"],
            "sellers_updated": want["sums"]["updated"],
        }
        assert run["products_found"] == want["sums"]["found_amazon"]
        assert run["sellers_found"] == want["sums"]["found_ebay"]
        assert run["status"] == "done"


def test_every_error_type_is_exercised(two_runs: Path) -> None:
    """The synthetic stream covers the whole error vocabulary, so the test above
    compares every type."""
    types: Counter[str] = Counter()
    for run in summary_json(two_runs)["runs"]:
        types.update(run["errors_by_type"])
    types.update({"rate_limit": 0})
    assert set(types) >= {
        "timeout",
        "http_error",
        "parse_error",
        "connection",
        "blocked",
        "api_error",
    }


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_json_counts_match_jq(tmp_path: Path) -> None:
    """The acceptance check itself, when jq is at hand."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(stream_lines(2000, workers=4, seed=5)))
    jq = subprocess.run(
        ["jq", "-n", "-c", JQ_PROGRAM, str(path)],
        check=True,
        capture_output=True,
    )
    want = json.loads(jq.stdout)
    (run,) = summary_json(path)["runs"]
    assert {
        "requests": run["requests"],
        "found": run["found"],
        "rate_limited": run["rate_limited"],
        "errors": run["errors"],
        "sellers_inserted": run["pipeline"]["sellers_inserted"],
    } == want


def test_filters_apply_to_the_summary(two_runs: Path) -> None:
    """--worker 2 counts only worker 2's requests."""
    report = summary_json(two_runs, "--worker", "2")
    for run in report["runs"]:
        assert [w["worker_id"] for w in run["workers"]] == [2]
        assert run["requests"] == run["workers"][0]["requests"]


def test_text_summary_names_each_run(two_runs: Path) -> None:
    """The text report has a block per run and counts the garbage."""
    result = CliRunner().invoke(tail_command, [str(two_runs), "--summary"])
    assert result.exit_code == 0
    runs = [line for line in result.output.splitlines() if line.startswith("run ")]
    assert len(runs) == 2
    assert all(": done, " in line for line in runs)
    garbage = two_runs.read_bytes().count(GARBAGE)
    assert f", {garbage} lines that are not events" in result.output


def test_summary_refuses_follow(two_runs: Path) -> None:
    """--summary reads to the end, so --follow is a usage error (exit 2)."""
    result = CliRunner().invoke(tail_command, [str(two_runs), "--summary", "-f"])
    assert result.exit_code == 2
    assert "drop --follow" in result.output


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    """No traceback: one line naming the file, exit 2."""
    result = CliRunner().invoke(tail_command, [str(tmp_path / "nope"), "--summary"])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_the_command_registers_in_a_group(two_runs: Path) -> None:
    """Wired as the maintainer will: `main.add_command(tail_command)`."""
    group = click.Group("collect")
    group.add_command(tail_command)
    result = CliRunner().invoke(group, ["tail", str(two_runs), "--summary"])
    assert result.exit_code == 0
