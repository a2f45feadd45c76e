"""The benchmark behind `scripts/bench`: each figure beside a same-run baseline.

    scripts/bench            full sizes (several minutes)
    scripts/bench --quick    small sizes, under a minute
    scripts/bench --json bench-results/bench.json --rows 1,4

Prints one table row per measured claim (measured, baseline, ratio, goal, pass or
fail) and writes the rows, the sizes and the machine to a JSON file.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson
from bench_lib import RESULTS, Row, log, skipped_row
from bench_local import LocalSizes, local_rows
from bench_network import network_rows

QUICK = {
    "categories": 2,
    "rate_limit": 25.0,
    "local": LocalSizes((10_000, 100_000), 100_000, 10_000, (10_000, 100_000)),
}
FULL = {
    "categories": 20,
    "rate_limit": 25.0,
    "local": LocalSizes((100_000, 1_000_000), 1_000_000, 100_000, (100_000, 1_000_000)),
}


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


def run_rows(sizes: dict[str, Any], wanted: set[str]) -> list[Row]:
    rows: list[Row] = []
    if wanted & {"1", "2", "3"}:
        rows += _guarded(
            "1-3", lambda: network_rows(sizes["categories"], sizes["rate_limit"])
        )
    if wanted & {"4", "5", "6", "7"}:
        rows += _guarded("4-7", lambda: local_rows(sizes["local"]))
    return [row for row in rows if row.key[0] in wanted]


def _guarded(keys: str, measure: Any) -> list[Row]:
    """One failing group of rows must not cost the others their figures."""
    try:
        return measure()
    except Exception as exc:  # a benchmark reports what broke and goes on
        log(f"rows {keys} failed: {exc}")
        return [skipped_row(keys, "failed", str(exc).splitlines()[0][:200])]


def format_table(rows: list[Row]) -> str:
    header = ("#", "what", "measured", "baseline", "ratio", "goal", "result")
    lines = [header]
    for row in rows:
        result = {True: "PASS", False: "FAIL", None: "-"}[row.passed]
        if row.note.startswith("skipped"):
            result = "SKIP"
        lines.append(
            (
                row.key,
                row.title,
                _figure(row.measured, row.unit),
                _figure(row.baseline, row.unit),
                "-" if row.ratio is None else f"{row.ratio:.2f}",
                row.goal,
                result,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    ]
    text.insert(1, "  ".join("-" * width for width in widths))
    notes = [
        f"  {row.key}: baseline = {row.baseline_name}"
        + (f"; {row.note}" if row.note else "")
        for row in rows
    ]
    return "\n".join([*text, "", "notes:", *notes]) + "\n"


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, < 1 min")
    parser.add_argument("--json", default=str(RESULTS / "bench.json"), metavar="PATH")
    parser.add_argument("--rows", default="1,2,3,4,5,6,7", help="e.g. 1,4")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    sizes = QUICK if args.quick else FULL
    began = time.perf_counter()
    rows = run_rows(sizes, set(args.rows.split(",")))
    elapsed = time.perf_counter() - began
    sys.stdout.write(format_table(rows))
    report = {
        "command": " ".join(["scripts/bench", *sys.argv[1:]]),
        "quick": args.quick,
        "elapsed_s": elapsed,
        "machine": machine(),
        "sizes": {
            "categories": sizes["categories"],
            "rate_limit": sizes["rate_limit"],
            **asdict(sizes["local"]),
        },
        "rows": [asdict(row) for row in rows],
    }
    Path(args.json).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    log(f"done in {elapsed:.0f} s; results in {args.json}")


if __name__ == "__main__":
    main()
