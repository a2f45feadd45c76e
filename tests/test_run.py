"""`collect run --sandbox` end to end: real processes, the simulator on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from collect.parsers.detect import detect_and_parse
from collect.store import open_store

SEED_FIELDS = {"id", "timestamp", "worker_id", "phase", "action"}
FAST = ["--backoff", "0.02", "--read-timeout", "1"]


def collect(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "collect", *args],
        capture_output=True,
        text=True,
        timeout=240,
        **kwargs,
    )


def events(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def stored_sellers(store: Path) -> set[str]:
    opened = open_store(store)
    try:
        return {row.normalized_name for row in opened.iter_sellers()}
    finally:
        opened.close()


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """One fault-free sandbox run shared by the checks on its stream and store."""
    folder = tmp_path_factory.mktemp("clean")
    out, store = folder / "ev.jsonl", folder / "s.db"
    result = collect(
        "run", "--sandbox", "1040660", "1040658", "--workers", "4",
        "--out", str(out), "--store", str(store),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out, store, result.stderr


def test_every_line_is_an_event_with_the_seed_fields(clean_run):
    """Each line is one JSON object holding the seed's required fields."""
    out, _, stderr = clean_run
    stream = events(out)
    assert stream
    assert all(event.keys() >= SEED_FIELDS for event in stream)
    assert len({event["id"] for event in stream}) == len(stream)
    assert "Traceback" not in stderr


def test_ebay_fetching_events_carry_url_and_api_params(clean_run):
    """eBay `fetching` events say what is hit and with which parameters."""
    stream = events(clean_run[0])
    fetching = [e for e in stream if e["action"] == "fetching" and e["phase"] == "ebay"]
    assert fetching
    for event in fetching:
        assert event["url"].startswith("https://www.ebay.com/sch/i.html?")
        assert set(event["api_params"]) == {"query", "price_min", "price_max", "page"}
        assert len(event["api_params"]["query"]) <= 50
        assert event["attempt"] >= 1


def test_found_events_carry_duration(clean_run):
    """Every `found` event, also those with zero sellers, has `duration_ms`."""
    found = [e for e in events(clean_run[0]) if e["action"] == "found"]
    assert found and all(isinstance(e["duration_ms"], int) for e in found)
    assert any(e.get("items_count") == 0 for e in found if e["phase"] == "ebay")


def test_pipeline_events_come_from_worker_zero(clean_run):
    """uploading, deduped, inserted and updated are system events (worker 0)."""
    stream = events(clean_run[0])
    actions = {e["action"] for e in stream if e["worker_id"] == 0}
    assert {"uploading", "inserted", "complete"} <= actions
    pipeline = [e for e in stream if e["action"] in {"uploading", "inserted"}]
    assert all(e["worker_id"] == 0 and e["items_count"] > 0 for e in pipeline)


def test_store_holds_exactly_the_inserted_sellers(clean_run):
    """`collect sellers` lists as many sellers as the stream says were inserted."""
    out, store, _ = clean_run
    inserted = sum(e["items_count"] for e in events(out) if e["action"] == "inserted")
    listed = collect("sellers", "--store", str(store), "--format", "jsonl")
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == inserted > 0


def test_complete_events_close_each_phase_and_the_run(clean_run):
    """A `complete` event ends each phase, and one with totals ends the run."""
    complete = [e for e in events(clean_run[0]) if e["action"] == "complete"]
    kinds = [(e["phase"], e["operation_type"]) for e in complete]
    assert kinds == [("amazon", "phase"), ("ebay", "phase"), ("ebay", "run")]
    assert complete[0]["totals"]["categories"] == 2
    assert complete[-1]["totals"]["status"] == "done"


def test_faults_are_classified_and_lose_no_seller(clean_run, tmp_path):
    """20 % 5xx, 10 % 429 and 5 % timeouts: same sellers, every failure classified."""
    out, store = tmp_path / "ev.jsonl", tmp_path / "s.db"
    result = collect(
        "run", "--sandbox", "1040660", "1040658", "--workers", "4",
        "--out", str(out), "--store", str(store),
        "--sandbox-faults", "5xx=0.2,429=0.1,timeout=0.05", *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    failures = [e for e in events(out) if e["action"] in {"error", "rate_limited"}]
    network = [e for e in failures if e.get("error_stage") != "price_parsing"]
    assert {e["error_type"] for e in network} == {"http_error", "rate_limit", "timeout"}
    assert all(e.get("http_status") for e in network if e["error_type"] != "timeout")
    assert stored_sellers(store) == stored_sellers(clean_run[1])


EBAY_PAGES = [
    "scard-pokemon-us.html",
    "scard-pokemon-us-2.html",
    "scard-top-rated-comics-us.html",
    "scard-grid-no-sellers-idr.html",
    "sitem-shirts-us-2025.html",
]


def test_replay_stores_exactly_the_sellers_on_the_recorded_pages(samples, tmp_path):
    """Real recorded pages in, exactly their sellers out."""
    replay = tmp_path / "replay"
    (replay / "amazon").mkdir(parents=True)
    (replay / "ebay").mkdir()
    for node in ("1040660", "1040658"):
        source = samples / "oxylabs" / f"assembled-bestsellers-{node}.json"
        shutil.copy(source, replay / "amazon" / f"{node}.json")
    expected: set[str] = set()
    for name in EBAY_PAGES:
        page = samples / "ebay-search-html" / name
        shutil.copy(page, replay / "ebay" / name)
        expected |= {
            s.seller.casefold() for s in detect_and_parse(page.read_bytes()).sightings
        }
    store = tmp_path / "s.db"
    result = collect(
        "run", "--sandbox", "--replay", str(replay), "1040660", "1040658",
        "--out", str(tmp_path / "ev.jsonl"), "--store", str(store), *FAST,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stored_sellers(store) == expected


@pytest.fixture
def slow_run(tmp_path: Path):
    """Start a slowed-down sandbox run in its own process group; kill it after."""
    runs: list[subprocess.Popen[bytes]] = []
    yield lambda: runs.append(_start_slow_run(tmp_path)) or runs[-1]
    for run in runs:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)


def _start_slow_run(tmp_path: Path) -> subprocess.Popen[bytes]:
    stderr = (tmp_path / "stderr.txt").open("wb")
    run = subprocess.Popen(
        [
            sys.executable, "-m", "collect", "run", "--sandbox", "1040660", "1040658",
            "--workers", "3", "--sandbox-latency", "150",
            "--out", str(tmp_path / "ev.jsonl"), "--store", str(tmp_path / "s.db"),
            *FAST,
        ],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )  # fmt: skip
    stderr.close()
    return run


def _wait_for_lines(path: Path, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} did not reach {count} lines")


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    found: list[int] = []
    for task in tasks.iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _worker_pids(pid: int) -> list[int]:
    pids = []
    for child in _children(pid):
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in cmdline:
            pids.append(child)
    return pids


def test_run_survives_a_killed_worker(tmp_path, slow_run):
    """SIGKILL one worker mid-run: its task is requeued and the run finishes."""
    run = slow_run()
    _wait_for_lines(tmp_path / "ev.jsonl", 60)
    workers = _worker_pids(run.pid)
    assert len(workers) >= 3
    os.kill(workers[-1], signal.SIGKILL)
    run.wait(timeout=240)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert run.returncode == 0, stderr
    assert "Traceback" not in stderr
    stream = events(tmp_path / "ev.jsonl")
    assert any(e.get("error_type") == "worker_lost" for e in stream)
    assert stream[-1]["action"] == "complete"


def test_sigkill_of_the_whole_run_leaves_whole_lines_and_a_sound_store(
    tmp_path, slow_run
):
    """After kill -9 of every process, each line parses and the store holds the
    sellers the stream reported inserted."""
    run = slow_run()
    out = tmp_path / "ev.jsonl"
    deadline = time.monotonic() + 60
    while b'"inserted"' not in (out.read_bytes() if out.exists() else b""):
        assert time.monotonic() < deadline, "no seller was inserted in time"
        time.sleep(0.1)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    data = out.read_bytes()
    assert data.endswith(b"\n")
    stream = [orjson.loads(line) for line in data.splitlines()]
    inserted = sum(e["items_count"] for e in stream if e["action"] == "inserted")
    with sqlite3.connect(tmp_path / "s.db") as db:
        (count,) = db.execute("SELECT count(*) FROM sellers").fetchone()
    assert count >= inserted > 0


def test_closed_output_pipe_stops_quietly(tmp_path):
    """`collect run ... | head -n 5` ends without a traceback."""
    command = (
        f"{sys.executable} -m collect run --sandbox 1040660 --store {tmp_path}/s.db"
        " | head -n 5"
    )
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert len(result.stdout.splitlines()) == 5
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 141)
