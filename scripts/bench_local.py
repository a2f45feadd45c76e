"""Rows 4-7: the writer, the seller store, `collect tail --summary`, and their memory.

None of these touch the network. The writer and the tail run as child processes so
that their peak memory (row 7) is theirs alone; the store runs in this process and
only the `apply_sightings` calls are timed, not making the sightings.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_lib import PYTHON, RESULTS, ROOT, Row, log, require_ok, run_child

SCRIPTS = ROOT / "scripts"
BATCH = 500  # the writer's default batch of sightings
PRODUCERS = 4


@dataclass(frozen=True)
class LocalSizes:
    writer_events: tuple[int, int]  # (small, large): row 4 uses the large one
    sightings: int
    sellers: int
    tail_events: tuple[int, int]


# --- row 4 and 7: the writer ---------------------------------------------------------


def run_writer(events: int, workdir: Path, *, baseline: bool) -> dict[str, Any]:
    out = workdir / ("writer-baseline.jsonl" if baseline else "writer.jsonl")
    store = workdir / "writer.db"
    for path in (out, *workdir.glob("writer.db*")):
        path.unlink(missing_ok=True)
    command = [PYTHON, str(SCRIPTS / "bench_writer.py"), "--events", str(events)]
    command += ["--out", str(out)]
    if baseline:
        command.append("--baseline")
    else:
        command += ["--store", str(store), "--producers", str(PRODUCERS)]
    child = run_child(command)
    require_ok(child, "bench_writer.py")
    result = json.loads(child.stdout)
    lines = _count_lines(out)
    if lines != events:
        raise RuntimeError(f"the writer wrote {lines} lines for {events} events")
    return result


def _count_lines(path: Path) -> int:
    with open(path, "rb") as lines:
        return sum(
            chunk.count(b"\n") for chunk in iter(lambda: lines.read(1 << 20), b"")
        )


def writer_rows(sizes: LocalSizes, workdir: Path) -> tuple[Row, dict[int, float]]:
    """Row 4, and the writer's peak RSS at both sizes for row 7."""
    small, large = sizes.writer_events
    log(f"4 writer: {large:,} events from {PRODUCERS} producer processes")
    peaks = {small: run_writer(small, workdir, baseline=False)["max_rss_mb"]}
    ours = run_writer(large, workdir, baseline=False)
    peaks[large] = ours["max_rss_mb"]
    plain = run_writer(large, workdir, baseline=True)
    ours_rate = large / ours["seconds"]
    plain_rate = large / plain["seconds"]
    row = Row(
        "4",
        f"writer: events/s to the JSON-lines file ({large:,} events)",
        "events/s",
        ours_rate,
        plain_rate,
        "≥ 0.5",
        ours_rate / plain_rate >= 0.5,
        baseline_name="orjson write loop, one process",
        note=f"{PRODUCERS} producers, queue of 20,000",
        details={"ours": ours, "baseline": plain},
    )
    return row, peaks


# --- row 5: the store -----------------------------------------------------------------


def sighting_batches(total: int, sellers: int) -> Iterator[list[Any]]:
    """Batches of sightings of `sellers` sellers over sellers/10 products, seeded."""
    from collect.store import SightingRecord

    rng = random.Random(5)
    names = [f"Seller_{number:06d}-Shop" for number in range(sellers)]
    asins = [f"B0{number:08d}" for number in range(max(1, sellers // 10))]
    seen_at = "2026-12-04T12:00:00.000Z"
    for start in range(0, total, BATCH):
        size = min(BATCH, total - start)
        yield [
            SightingRecord(
                rng.choice(names),
                round(rng.uniform(90, 100), 1),
                rng.randrange(10, 100_000),
                rng.choice(asins),
                1 + start // BATCH % 6,
                seen_at,
            )
            for _ in range(size)
        ]


def time_store(total: int, sellers: int, path: Path) -> float:
    from collect.store import open_store

    store = open_store(path)
    spent = 0.0
    try:
        for batch in sighting_batches(total, sellers):
            began = time.perf_counter()
            store.apply_sightings(batch, "bench-run", batch[0].seen_at)
            spent += time.perf_counter() - began
    finally:
        store.close()
    return spent


_BARE_SCHEMA = """
CREATE TABLE sellers (id INTEGER PRIMARY KEY, normalized_name TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL, feedback_percent REAL, feedback_count INTEGER,
    sightings INTEGER NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    last_run TEXT NOT NULL);
CREATE TABLE seller_products (seller_id INTEGER NOT NULL, asin TEXT NOT NULL,
    first_seen TEXT NOT NULL, PRIMARY KEY (seller_id, asin)) WITHOUT ROWID;
"""
_BARE_UPSERT = """
INSERT INTO sellers (normalized_name, name, feedback_percent, feedback_count,
    sightings, first_seen, last_seen, last_run) VALUES (?, ?, ?, ?, 1, ?, ?, ?)
ON CONFLICT (normalized_name) DO UPDATE SET name = excluded.name,
    feedback_percent = excluded.feedback_percent,
    feedback_count = excluded.feedback_count, sightings = sightings + 1,
    last_seen = excluded.last_seen, last_run = excluded.last_run
"""
_BARE_PAIR = """
INSERT OR IGNORE INTO seller_products (seller_id, asin, first_seen)
SELECT id, ?, ? FROM sellers WHERE normalized_name = ?
"""


def time_bare_upsert(total: int, sellers: int, path: Path) -> float:
    """The same sightings as plain upserts: one row per sighting, no merge step,
    `casefold` for a key, the store's own pragmas, one transaction per batch."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "cache_size = -65536"):
        conn.execute(f"PRAGMA {pragma}")
    conn.executescript(_BARE_SCHEMA)
    spent = 0.0
    for batch in sighting_batches(total, sellers):
        began = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            _BARE_UPSERT,
            ((*_bare_seller(s), s.seen_at, s.seen_at, "bench-run") for s in batch),
        )
        conn.executemany(
            _BARE_PAIR, ((s.asin, s.seen_at, s.seller.casefold()) for s in batch)
        )
        conn.execute("COMMIT")
        spent += time.perf_counter() - began
    conn.close()
    return spent


def _bare_seller(s: Any) -> tuple[Any, ...]:
    return (s.seller.casefold(), s.seller, s.feedback_percent, s.feedback_count)


def store_row(sizes: LocalSizes, workdir: Path) -> Row:
    total, sellers = sizes.sightings, sizes.sellers
    log(f"5 store: {total:,} sightings of {sellers:,} sellers")
    ours = time_store(total, sellers, workdir / "store.db")
    bare = time_bare_upsert(total, sellers, workdir / "bare.db")
    return Row(
        "5",
        f"store: sightings/s into SQLite ({total:,} of {sellers:,} sellers)",
        "sightings/s",
        total / ours,
        total / bare,
        "≥ 0.7",
        bare / ours >= 0.7,
        baseline_name="bare executemany upsert, same pragmas",
        note=f"batches of {BATCH}",
        details={"ours_s": ours, "bare_s": bare},
    )


# --- rows 6 and 7: collect tail --summary --------------------------------------

# The same report as `collect tail --summary --json`, per run: counts by action,
# phase, error type and stage, sums of items_count, duration percentiles.
JQ_SUMMARY = """
def pct($p): sort as $s | $s[((($s | length) - 1) * $p) | floor];
def tally(f): reduce (.[] | f) as $k ({}; .[$k] += 1);
def sums(f): group_by(.[0]) | map({key: .[0][0], value: (map(.[1]) | add)})
  | from_entries;
group_by(.run_id // "") | map({
  run_id: (.[0].run_id // ""),
  events: length,
  first_event: .[0].timestamp,
  last_event: .[-1].timestamp,
  actions: tally(.action),
  requests_by_phase: (map(select(.action == "fetching")) | tally(.phase)),
  found_by_phase: (map(select(.action == "found")) | tally(.phase)),
  rate_limited: (map(select(.action == "rate_limited")) | length),
  errors_by_type: (map(select(.action == "error")) | tally(.error_type // "?")),
  errors_by_stage: (map(select(.action == "error")) | tally(.error_stage // "?")),
  items_by_phase: (map(select(.action == "found") | [.phase, .items_count // 0])
    | sums(.)),
  pipeline: (map(select(.worker_id == 0 and .action != "complete")
    | [.action, .items_count // 0]) | sums(.)),
  durations_ms: (map(select(.action == "found")) | group_by(.phase)
    | map({key: .[0].phase, value: (map(.duration_ms // 0)
      | {count: length, p50: pct(0.5), p95: pct(0.95), max: max})})
    | from_entries)
})
"""


def events_file(count: int) -> Path:
    """A synthetic stream of `count` events, made once and kept in bench-results/."""
    path = RESULTS / f"events-{count}.jsonl"
    if not path.exists():
        partial = path.with_suffix(".part")
        maker = [PYTHON, str(SCRIPTS / "make_events.py"), "-n", str(count)]
        require_ok(run_child([*maker, "-o", str(partial)]), "make_events.py")
        partial.rename(path)
    return path


def run_tail(path: Path, workdir: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of `collect tail FILE --summary --json`."""
    peak_file = workdir / "tail-peak.txt"
    command = [PYTHON, str(SCRIPTS / "bench_peak.py"), str(peak_file), "collect"]
    child = run_child([*command, "tail", str(path), "--summary", "--json"])
    require_ok(child, "collect tail --summary")
    return child.wall_s, int(peak_file.read_text()) / 1024


def run_jq(path: Path, workdir: Path) -> float:
    program = workdir / "summary.jq"
    program.write_text(JQ_SUMMARY)
    child = run_child(["jq", "-s", "-f", str(program), str(path)])
    require_ok(child, "jq")
    return child.wall_s


def run_python_loop(path: Path) -> float:
    """The stand-in when jq is missing: json.loads per line into the same counts."""
    began = time.perf_counter()
    counts: Counter[tuple[str, ...]] = Counter()
    durations: dict[str, list[int]] = {}
    with open(path, "rb") as lines:
        for line in lines:
            event = json.loads(line)
            run, action = event.get("run_id", ""), event["action"]
            counts[run, "action", action] += 1
            if action == "found":
                durations.setdefault(event["phase"], []).append(
                    event.get("duration_ms", 0)
                )
    for values in durations.values():
        values.sort()
    return time.perf_counter() - began


def tail_row(sizes: LocalSizes, workdir: Path) -> tuple[Row, dict[int, float]]:
    """Row 6, and the tail's peak RSS at both sizes for row 7."""
    small, large = sizes.tail_events
    log(f"6 tail: {large:,} events")
    small_path, large_path = events_file(small), events_file(large)
    peaks = {small: run_tail(small_path, workdir)[1]}
    seconds, peaks[large] = run_tail(large_path, workdir)
    if shutil.which("jq"):
        baseline = run_jq(large_path, workdir)
        name, note = "jq -s (same report)", ""
    else:
        baseline = run_python_loop(large_path)
        name = "STAND-IN: json.loads loop (jq not installed)"
        note = f"jq not installed; the jq baseline is: jq -s '{JQ_SUMMARY.strip()}'"
    row = Row(
        "6",
        f"tail --summary: seconds on {large:,} events",
        "s",
        seconds,
        baseline,
        "≥ 3× faster",
        baseline / seconds >= 3,
        ratio=baseline / seconds,
        baseline_name=name,
        note=note or "ratio = baseline s ÷ ours (times faster)",
    )
    return row, peaks


def memory_rows(
    writer_peaks: dict[int, float], tail_peaks: dict[int, float]
) -> list[Row]:
    rows = []
    for key, what, peaks in (
        ("7a", "writer process", writer_peaks),
        ("7b", "collect tail --summary", tail_peaks),
    ):
        small, large = sorted(peaks)
        growth = peaks[large] / peaks[small]
        rows.append(
            Row(
                key,
                f"memory: peak RSS of the {what}, {large:,} ÷ {small:,} events",
                "MiB",
                peaks[large],
                peaks[small],
                "< 1.2",
                growth < 1.2,
                baseline_name=f"same at {small:,} events",
            )
        )
    return rows


def local_rows(sizes: LocalSizes) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-local-", dir=RESULTS) as folder:
        workdir = Path(folder)
        writer, writer_peaks = writer_rows(sizes, workdir)
        store = store_row(sizes, workdir)
        tail, tail_peaks = tail_row(sizes, workdir)
    return [writer, store, tail, *memory_rows(writer_peaks, tail_peaks)]
