"""`collect run --ebay-source browse` end to end on the sandbox."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson

FAST = ["--backoff", "0.02", "--read-timeout", "2"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collect", "run", "--sandbox", *args, *FAST],
        capture_output=True,
        text=True,
        timeout=240,
    )


def totals(out: Path) -> dict:
    last = orjson.loads(out.read_bytes().splitlines()[-1])
    assert last["action"] == "complete" and last["operation_type"] == "run"
    return last["totals"]


def sellers(store: Path) -> dict[str, int]:
    with sqlite3.connect(store) as db:
        return dict(db.execute("SELECT normalized_name, sightings FROM sellers"))


def test_one_token_for_the_whole_run(tmp_path):
    """Eight workers share one OAuth token: a single token request."""
    out = tmp_path / "ev.jsonl"
    result = run(
        "1040660", "1040658", "--ebay-source", "browse", "--workers", "8",
        "--out", str(out), "--store", str(tmp_path / "s.db"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = totals(out)
    assert figures["browse_token_requests"] == 1
    assert figures["browse_requests"] > 8
    stream = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    searches = [e for e in stream if e["action"] == "fetching" and e["phase"] == "ebay"]
    assert all("/buy/browse/v1/item_summary/search?" in e["url"] for e in searches)
    assert all(set(e["api_params"]) == {"query", "price_min", "price_max", "page"}
               for e in searches)  # fmt: skip


def test_an_expired_token_is_renewed_and_no_page_is_lost(tmp_path):
    """Tokens that die after 0.3 s: renewed on 401 errorId 1001, same sellers."""
    clean, expiring = tmp_path / "a", tmp_path / "b"
    for folder, extra in (
        (clean, []),
        (expiring, ["--sandbox-faults", "token-ttl=0.3"]),
    ):
        folder.mkdir()
        result = run(
            "1040660", "--ebay-source", "browse", "--workers", "3",
            "--sandbox-latency", "40", "--out", str(folder / "ev.jsonl"),
            "--store", str(folder / "s.db"), *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    figures = totals(expiring / "ev.jsonl")
    assert figures["browse_token_requests"] > 1
    assert totals(clean / "ev.jsonl")["browse_token_requests"] == 1
    assert sellers(expiring / "s.db") == sellers(clean / "s.db")
    # Every call shows in the stream, the refused ones as a 401 error.
    lines = (expiring / "ev.jsonl").read_bytes().splitlines()
    stream = [orjson.loads(line) for line in lines]
    ebay = [e for e in stream if e["phase"] == "ebay"]
    calls = [e for e in ebay if e["action"] == "fetching"]
    assert len(calls) == figures["browse_calls_today"] == figures["browse_requests"]
    assert any(e.get("http_status") == 401 for e in ebay if e["action"] == "error")


def test_both_sources_share_one_store(tmp_path):
    """Page source, then Browse: one row per seller, sightings from both runs."""
    store = tmp_path / "s.db"
    first, second = tmp_path / "html.jsonl", tmp_path / "browse.jsonl"
    assert run("1040660", "--out", str(first), "--store", str(store)).returncode == 0
    after_html = sellers(store)
    result = run(
        "1040660", "--ebay-source", "browse", "--out", str(second),
        "--store", str(store),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    combined = sellers(store)
    assert set(after_html) <= set(combined)
    both = totals(first)["sightings"] + totals(second)["sightings"]
    assert sum(combined.values()) == both
    with sqlite3.connect(store) as db:
        (rows,) = db.execute("SELECT count(*) FROM sellers").fetchone()
    assert rows == len(combined)
    shared = [name for name in after_html if combined[name] > after_html[name]]
    assert shared


def test_daily_budget_is_respected_and_reported(tmp_path):
    """A budget of 10 calls a day: at most 10 searches, exit 75, the count shown."""
    out = tmp_path / "ev.jsonl"
    result = run(
        "1040660", "--ebay-source", "browse", "--browse-daily-budget", "10",
        "--out", str(out), "--store", str(tmp_path / "s.db"),
    )  # fmt: skip
    assert result.returncode == 75, result.stderr
    assert "daily" in result.stderr and "--browse-daily-budget" in result.stderr
    figures = totals(out)
    assert figures["browse_calls_today"] == 10
    assert figures["status"] == "budget"
    stream = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    calls = [e for e in stream if e["phase"] == "ebay" and e["action"] == "fetching"]
    assert len(calls) == 10
