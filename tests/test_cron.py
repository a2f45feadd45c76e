"""Unattended runs: lock, budget, dry run, signals, resume, the shared rate limit."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from collect.sandbox.server import SandboxConfig, start_sandbox

FAST = ["--backoff", "0.02", "--read-timeout", "2"]
SANDBOX_ENV = {"OXYLABS_USERNAME": "sandbox", "OXYLABS_PASSWORD": "sandbox"}


def collect_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "collect", *args]


def run_collect(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **SANDBOX_ENV}
    return subprocess.run(
        collect_args(*args), capture_output=True, text=True, timeout=240, env=env,
        **kwargs,
    )  # fmt: skip


def events(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def sellers(store: Path) -> set[str]:
    with sqlite3.connect(store) as db:
        return {name for (name,) in db.execute("SELECT normalized_name FROM sellers")}


@pytest.fixture
def server():
    """One simulator, already started, for tests that point --oxylabs-url at it."""
    with start_sandbox(SandboxConfig(latency_ms=0)) as handle:
        yield handle


def test_dry_run_sends_nothing(server, tmp_path):
    """--dry-run prints the plan and the estimate; the server sees no request."""
    result = run_collect(
        "run", "1040660", "1040658", "--dry-run", "--cost-per-request", "0.002",
        "--oxylabs-url", server.url, "--store", str(tmp_path / "s.db"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "amazon requests: 2" in result.stdout
    assert "at most 300" in result.stdout
    assert "estimated cost:  at most 0.60" in result.stdout
    assert server.stats()["requests"] == 0
    assert not (tmp_path / "s.db").exists()


def test_budget_stops_the_run_with_exit_75(server, tmp_path):
    """--max-requests 50 spends at most 50 requests and exits 75 with a reason."""
    out = tmp_path / "ev.jsonl"
    result = run_collect(
        "run", "1040660", "1040658", "--max-requests", "50",
        "--oxylabs-url", server.url, "--out", str(out),
        "--store", str(tmp_path / "s.db"), *FAST,
    )  # fmt: skip
    assert result.returncode == 75, result.stderr
    assert "request budget of 50 is spent" in result.stderr
    assert server.stats()["requests"] <= 50
    fetching = [e for e in events(out) if e["action"] == "fetching"]
    assert len(fetching) <= 50
    assert events(out)[-1]["totals"]["status"] == "budget"


def _start(tmp_path: Path, *extra: str, store: str = "s.db") -> subprocess.Popen:
    return subprocess.Popen(
        collect_args(
            "run", "--sandbox", "1040660", "1040658", "--workers", "3",
            "--out", str(tmp_path / "ev.jsonl"), "--store", str(tmp_path / store),
            *FAST, *extra,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def _wait_for(path: Path, text: bytes, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_bytes():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in {path}")


def test_second_run_on_the_same_store_exits_75_at_once(tmp_path):
    """The lock names the running process; the second run sends nothing."""
    first = _start(tmp_path, "--sandbox-latency", "200")
    try:
        _wait_for(tmp_path / "ev.jsonl", b'"fetching"')
        started = time.monotonic()
        second = run_collect(
            "run", "--sandbox", "1040660", "--store", str(tmp_path / "s.db")
        )
        assert time.monotonic() - started < 10
        assert second.returncode == 75
        assert f"pid {first.pid}" in second.stderr
    finally:
        first.kill()
        first.communicate(timeout=30)


def test_sigterm_ends_with_143_a_final_event_and_a_sound_store(tmp_path):
    """SIGTERM mid-run: in-flight work ends, `complete` says interrupted, exit 143."""
    run = _start(tmp_path, "--sandbox-latency", "150")
    _wait_for(tmp_path / "ev.jsonl", b'"inserted"')
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 143, stderr
    stream = events(tmp_path / "ev.jsonl")
    assert stream[-1]["action"] == "complete"
    assert stream[-1]["totals"]["status"] == "interrupted"
    inserted = sum(e["items_count"] for e in stream if e["action"] == "inserted")
    assert len(sellers(tmp_path / "s.db")) == inserted


def test_resume_after_sigterm_repeats_no_search(tmp_path):
    """Killed halfway and resumed: no more product searches than one clean run,
    and the same sellers."""
    clean = run_collect(
        "run", "--sandbox", "1040660", "1040658", "--out", str(tmp_path / "a.jsonl"),
        "--store", str(tmp_path / "a.db"), *FAST,
    )  # fmt: skip
    assert clean.returncode == 0, clean.stderr

    run = _start(tmp_path, "--sandbox-latency", "100", store="b.db")
    deadline = time.monotonic() + 60
    while sum(1 for e in _found(tmp_path / "ev.jsonl")) < 30:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    run.communicate(timeout=60)
    assert run.returncode == 143
    resumed = run_collect(
        "run", "--resume", "--sandbox", "--out", str(tmp_path / "ev.jsonl"),
        "--store", str(tmp_path / "b.db"), *FAST,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr

    def searches(path: Path) -> int:
        return sum(1 for e in _found(path) if e["api_params"]["page"] == 1)

    assert searches(tmp_path / "ev.jsonl") <= searches(tmp_path / "a.jsonl")
    assert sellers(tmp_path / "b.db") == sellers(tmp_path / "a.db")


def _found(path: Path) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_bytes().splitlines()
    return [
        e
        for e in map(orjson.loads, lines)
        if e["phase"] == "ebay" and e["action"] == "found"
    ]


def test_resume_refuses_a_finished_run(tmp_path):
    """Nothing to resume after a clean run: a configuration error with a hint."""
    store = str(tmp_path / "s.db")
    assert run_collect("run", "--sandbox", "1040658", "--store", store).returncode == 0
    again = run_collect("run", "--resume", "--sandbox", "--store", store)
    assert again.returncode == 78
    assert "nothing to resume" in again.stderr


def test_skip_searched_within_spends_only_on_new_products(tmp_path):
    """A second run within the window searches nothing already searched."""
    store, out = str(tmp_path / "s.db"), tmp_path / "ev.jsonl"
    first = run_collect("run", "--sandbox", "1040658", "--store", store, *FAST)
    assert first.returncode == 0, first.stderr
    second = run_collect(
        "run", "--sandbox", "1040658", "1040660", "--store", store,
        "--skip-searched-within", "7d", "--out", str(out), *FAST,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    searched_first = {
        e["asin"] for e in map(orjson.loads, first.stdout.splitlines())
        if e["phase"] == "ebay" and e["action"] == "found"
    }  # fmt: skip
    searched_second = {e["asin"] for e in _found(out)}
    assert searched_first and searched_second
    assert not searched_first & searched_second


def test_shared_rate_limit_keeps_the_pool_under_the_server_limit(tmp_path):
    """8 workers against a server allowing 20 requests/s: at least 90 % of the
    rate, fewer than 1 % of requests answered 429."""
    limit = 20.0
    config = SandboxConfig(rate_limit_rps=limit, latency_ms=20)
    with start_sandbox(config) as server:
        result = run_collect(
            "run", "1040660", "1040658", "--workers", "8", "--rate", str(limit),
            "--oxylabs-url", server.url, "--out", str(tmp_path / "ev.jsonl"),
            "--store", str(tmp_path / "s.db"), "--ebay-pages", "1", *FAST,
        )  # fmt: skip
        stats = server.stats()
    assert result.returncode == 0, result.stderr
    stream = events(tmp_path / "ev.jsonl")
    fetching = [e for e in stream if e["action"] == "fetching"]
    limited = [e for e in stream if e["action"] == "rate_limited"]
    first = _seconds(fetching[0]["timestamp"])
    last = _seconds(fetching[-1]["timestamp"])
    achieved = (len(fetching) - 1) / (last - first)
    assert achieved >= 0.9 * limit, achieved
    assert len(limited) < 0.01 * len(fetching), (len(limited), stats)


def _seconds(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def test_metrics_file_matches_the_stream(tmp_path):
    """The Prometheus file's request and seller counts equal the stream's."""
    out, metrics = tmp_path / "ev.jsonl", tmp_path / "collect.prom"
    result = run_collect(
        "run", "--sandbox", "1040660", "--out", str(out), "--store",
        str(tmp_path / "s.db"), "--metrics-file", str(metrics),
        "--sandbox-faults", "5xx=0.1", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    samples = {}
    for line in metrics.read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    stream = events(out)

    def count(action: str) -> int:
        return sum(1 for e in stream if e["action"] == action)

    def items(action: str) -> int:
        return sum(e["items_count"] for e in stream if e["action"] == action)

    assert samples['collect_requests_sent_total{provider="oxylabs"}'] == count(
        "fetching"
    )
    found = 'collect_requests_total{provider="oxylabs",outcome="found"}'
    assert samples[found] == count("found")
    http_errors = sum(1 for e in stream if e.get("error_type") == "http_error")
    assert samples['collect_errors_total{type="http_error"}'] == http_errors > 0
    assert samples['collect_sellers_total{kind="new"}'] == items("inserted")
    assert samples['collect_sellers_total{kind="updated"}'] == items("updated")


def test_resume_after_sigkill_counts_no_page_twice(tmp_path):
    """kill -9 of the whole run, then --resume: the same sellers and the same
    sightings as one clean run, because a page and its "done" mark commit together."""
    clean = run_collect(
        "run", "--sandbox", "1040660", "1040658", "--out", str(tmp_path / "a.jsonl"),
        "--store", str(tmp_path / "a.db"), *FAST,
    )  # fmt: skip
    assert clean.returncode == 0, clean.stderr
    killed = subprocess.Popen(
        collect_args(
            "run", "--sandbox", "1040660", "1040658", "--workers", "3",
            "--sandbox-latency", "100", "--out", str(tmp_path / "b.jsonl"),
            "--store", str(tmp_path / "b.db"), *FAST,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(_found(tmp_path / "b.jsonl")) < 40:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
    resumed = run_collect(
        "run", "--resume", "--sandbox", "--out", str(tmp_path / "b.jsonl"),
        "--store", str(tmp_path / "b.db"), *FAST,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr

    def sightings(store: Path) -> dict[str, int]:
        with sqlite3.connect(store) as db:
            return dict(db.execute("SELECT normalized_name, sightings FROM sellers"))

    assert sightings(tmp_path / "b.db") == sightings(tmp_path / "a.db")
