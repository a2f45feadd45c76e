"""Rows 1-3: collect's pipeline against the sandbox, beside Scrapy and a bare client.

Every crawl gets a fresh sandbox in its own process, so the sandbox's /stats count
that crawl alone (429s included). The pipeline runs as `python -m collect run` with
`--oxylabs-url` pointed at the sandbox, exactly as a user would run it against the
real API; its figures come from the event stream it writes:

    successful requests   `found` events
    window                first `fetching` to last `found` (process start-up left out)
    429s                  the sandbox's count of 429 answers

Scrapy and the bare client crawl the same plan: the products the pipeline searches
(the sandbox's best sellers of the same categories, deduplicated by ASIN, without
those lacking a price) and, per product, the same eBay URLs collect builds.
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_lib import (
    PYTHON,
    RESULTS,
    ROOT,
    ChildRun,
    Row,
    iso_seconds,
    log,
    read_jsonl,
    require_ok,
    run_child,
    sandbox,
    sandbox_env,
    sandbox_stats,
    skipped_row,
)

SEED = 7
EBAY_PAGES = 3
SCRAPY_VENV = RESULTS / ".venv-scrapy"


@dataclass(frozen=True)
class Crawl:
    """One crawl's shape: how many workers, and what the sandbox does."""

    node_ids: tuple[str, ...]
    workers: int = 6
    latency_ms: float = 50.0
    rate_limit_rps: float = 0.0

    def sandbox_fields(self) -> dict[str, Any]:
        return {
            "seed": SEED,
            "latency_ms": self.latency_ms,
            "rate_limit_rps": self.rate_limit_rps,
        }


@dataclass
class StreamFigures:
    """What one run's event stream says, per phase ("all" for both)."""

    requests: Counter[str] = field(default_factory=Counter)
    found: Counter[str] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    first_fetch: dict[str, float] = field(default_factory=dict)
    last_found: dict[str, float] = field(default_factory=dict)
    sightings: int = 0
    store_sellers: int = 0

    def window_s(self, phase: str = "all") -> float:
        return self.last_found[phase] - self.first_fetch[phase]

    def pages_per_s(self, phase: str = "all") -> float:
        return self.found[phase] / self.window_s(phase)


def read_stream(path: Path) -> StreamFigures:
    figures = StreamFigures()
    for event in read_jsonl(path):
        _count_event(figures, event)
    return figures


def _count_event(figures: StreamFigures, event: dict[str, Any]) -> None:
    action = event["action"]
    if event["worker_id"] == 0:
        if action == "complete" and event.get("operation_type") == "run":
            figures.store_sellers = event["totals"].get("store_sellers", 0)
        return
    when = iso_seconds(event["timestamp"])
    for phase in (event["phase"], "all"):
        if action == "fetching":
            figures.requests[phase] += 1
            figures.first_fetch.setdefault(phase, when)
        elif action == "found":
            figures.found[phase] += 1
            figures.last_found[phase] = when
        elif action == "rate_limited":
            figures.rate_limited[phase] += 1
        elif action == "error":
            figures.errors[phase] += 1
    if action == "found" and event["phase"] == "ebay":
        figures.sightings += event.get("items_count", 0)


# --- the three crawlers -----------------------------------------------------------


@dataclass
class CrawlResult:
    pages: int
    pages_per_s: float
    sightings: int
    sellers: int
    requests: int
    http_429: int
    child: ChildRun
    extra: dict[str, Any] = field(default_factory=dict)


def run_pipeline(crawl: Crawl, workdir: Path) -> tuple[CrawlResult, StreamFigures]:
    """`collect run` against a fresh sandbox; eBay pages and sellers for the result."""
    events, store = workdir / "events.jsonl", workdir / "sellers.db"
    for path in workdir.glob("sellers.db*"):
        path.unlink()
    events.unlink(missing_ok=True)
    command = [PYTHON, "-m", "collect", "-q", "run", *crawl.node_ids]
    command += ["--workers", str(crawl.workers), "--out", str(events)]
    command += ["--store", str(store), "--read-timeout", "5", *rate_option(crawl)]
    with sandbox(**crawl.sandbox_fields()) as url:
        child = run_child([*command, "--oxylabs-url", url], env=sandbox_env())
        stats = sandbox_stats(url)
    require_ok(child, "collect run")
    stream = read_stream(events)
    result = CrawlResult(
        pages=stream.found["ebay"],
        pages_per_s=stream.pages_per_s("ebay"),
        sightings=stream.sightings,
        sellers=stream.store_sellers,
        requests=stats["requests"],
        http_429=stats["http_429"],
        child=child,
        extra={"sandbox": stats},
    )
    return result, stream


@functools.cache
def has_rate_option() -> bool:
    """Whether this collect has `run --rate` (a client-side limit for the pool)."""
    child = run_child([PYTHON, "-m", "collect", "run", "--help"])
    return b"--rate" in child.stdout


def rate_option(crawl: Crawl) -> list[str]:
    """Tell collect the plan's rate, as a user would; 0 (none) when unlimited.

    Without it collect would apply its own default for the real API.
    """
    if not has_rate_option():
        return []
    return ["--rate", f"{crawl.rate_limit_rps:g}"]


def run_plan_child(
    command: list[str], crawl: Crawl, plan: list[list[str]], workdir: Path
) -> CrawlResult:
    """Run a baseline crawler on `plan` against a fresh sandbox."""
    plan_path, result_path = workdir / "plan.json", workdir / "result.json"
    plan_path.write_text(json.dumps(plan))
    with sandbox(**crawl.sandbox_fields()) as url:
        child = run_child(
            [*command, str(plan_path), str(result_path), "--url", url],
            env=sandbox_env(),
        )
        stats = sandbox_stats(url)
    require_ok(child, command[-1])
    result = json.loads(result_path.read_text())
    return CrawlResult(
        pages=result["pages"],
        pages_per_s=result["pages"] / result["elapsed_s"],
        sightings=result["sightings"],
        sellers=result["sellers"],
        requests=stats["requests"],
        http_429=stats["http_429"],
        child=child,
        extra=result,
    )


def run_scrapy(crawl: Crawl, plan: list[list[str]], workdir: Path) -> CrawlResult:
    command = [
        str(SCRAPY_VENV / "bin" / "python"),
        str(ROOT / "scripts" / "bench_scrapy_spider.py"),
    ]
    command += ["--concurrency", str(crawl.workers)]
    return run_plan_child(command, crawl, plan, workdir)


def run_bare_client(crawl: Crawl, plan: list[list[str]], workdir: Path) -> CrawlResult:
    command = [PYTHON, str(ROOT / "scripts" / "bench_client.py")]
    command += ["--workers", str(crawl.workers)]
    return run_plan_child(command, crawl, plan, workdir)


# --- the plan -----------------------------------------------------------------------


def catalogue_node_ids(count: int) -> tuple[str, ...]:
    from collect.catalogue import load_catalogue

    return tuple(row.node_id for row in load_catalogue()[:count])


def search_plan(node_ids: tuple[str, ...]) -> list[list[str]]:
    """Per product the pipeline would search, the eBay URLs of pages 1..EBAY_PAGES."""
    from collect.parsers.amazon import parse_bestsellers
    from collect.sandbox import synth
    from collect.sandbox.server import SandboxConfig
    from collect.search import search_request
    from collect.settings import PriceBand

    config = SandboxConfig(seed=SEED)
    seen: set[str] = set()
    plan = []
    for node_id in node_ids:
        content = synth.bestsellers_content(SEED, node_id, 1, config)
        for product in parse_bestsellers(content, node_id).products:
            if product.asin in seen or product.price is None:
                continue
            seen.add(product.asin)
            plan.append(
                [
                    search_request(product.title, product.price, PriceBand(), page).url
                    for page in range(1, EBAY_PAGES + 1)
                ]
            )
    return plan


# --- the rows -----------------------------------------------------------------------


def pipeline_row(crawl: Crawl, result: CrawlResult, stream: StreamFigures) -> Row:
    """Row 1: successful requests/s against min(rate limit, workers ÷ latency)."""
    ceiling = min(crawl.rate_limit_rps, crawl.workers / (crawl.latency_ms / 1000))
    achieved = stream.pages_per_s("all")
    share_429 = result.http_429 / max(result.requests, 1)
    ratio = achieved / ceiling
    return Row(
        "1",
        "pipeline: successful req/s ÷ min(limit, workers÷latency)",
        "req/s",
        achieved,
        ceiling,
        "≥ 0.9 and < 1 % 429s",
        ratio >= 0.9 and share_429 < 0.01,
        baseline_name=f"min({crawl.rate_limit_rps:g}/s, "
        f"{crawl.workers}÷{crawl.latency_ms:g} ms)",
        note=f"429 share {share_429:.1%} ({result.http_429} of {result.requests}); "
        f"collect given {' '.join(rate_option(crawl)) or 'no rate option'}",
        details={
            "crawl": crawl.__dict__,
            "share_429": share_429,
            "successful": stream.found["all"],
            "window_s": stream.window_s("all"),
            "rate_limited_events": stream.rate_limited["all"],
            "sandbox": result.extra["sandbox"],
            "wall_s": result.child.wall_s,
        },
    )


def scrapy_rows(
    clean: Crawl, limited: Crawl, ours_limited: CrawlResult, workdir: Path
) -> list[Row]:
    """Row 2: the eBay phase against a minimal Scrapy spider, same sandbox."""
    reason = ensure_scrapy()
    if reason:
        return [skipped_row("2", "vs Scrapy", reason)]
    plan = search_plan(clean.node_ids)
    log(f"2 scrapy: {len(plan)} products, clean then limited")
    ours, _ = run_pipeline(clean, workdir)
    theirs = run_scrapy(clean, plan, workdir)
    theirs_limited = run_scrapy(limited, plan, workdir)
    wasted_ours = ours_limited.http_429
    wasted_theirs = theirs_limited.http_429
    return [
        Row(
            "2a",
            f"vs Scrapy: eBay pages/s ({clean.latency_ms:g} ms, "
            f"{clean.workers} workers)",
            "pages/s",
            ours.pages_per_s,
            theirs.pages_per_s,
            "≥ 1.0",
            ours.pages_per_s >= theirs.pages_per_s,
            baseline_name=f"Scrapy, concurrency {clean.workers}",
            note=f"pages {ours.pages} vs {theirs.pages}",
            details={"ours": _crawl_details(ours), "scrapy": _crawl_details(theirs)},
        ),
        Row(
            "2b",
            "vs Scrapy: distinct sellers found",
            "sellers",
            ours.sellers,
            theirs.sellers,
            "≥ 1.0",
            ours.sellers >= theirs.sellers,
            baseline_name="Scrapy, CSS selectors",
            note=f"sightings {ours.sightings} vs {theirs.sightings}",
        ),
        Row(
            "2c",
            f"vs Scrapy: requests wasted on 429 (limit {limited.rate_limit_rps:g}/s)",
            "429s",
            wasted_ours,
            wasted_theirs,
            "far fewer (≤ 0.5)",
            wasted_ours <= 0.5 * wasted_theirs if wasted_theirs else wasted_ours == 0,
            baseline_name="Scrapy defaults, RETRY_TIMES 8",
            note=f"eBay pages {ours_limited.pages} vs {theirs_limited.pages}; "
            f"Scrapy gave up on {theirs_limited.extra.get('gave_up', 0)}; "
            f"collect given {' '.join(rate_option(limited)) or 'no rate option'}",
            details={
                "ours": _crawl_details(ours_limited),
                "scrapy": _crawl_details(theirs_limited),
            },
        ),
    ]


def overhead_rows(node_ids: tuple[str, ...], workdir: Path) -> list[Row]:
    """Row 3: no latency; pages/s and CPU-s per 1,000 pages against a bare client."""
    plan = search_plan(node_ids)
    crawl = Crawl(node_ids, workers=6, latency_ms=0.0)
    log(f"3 overhead: {len(plan)} products, no latency")
    ours, stream = run_pipeline(crawl, workdir)
    bare = run_bare_client(crawl, plan, workdir)
    pages = stream.found["all"]
    ours_cpu = ours.child.cpu_s / pages * 1000
    bare_cpu = bare.child.cpu_s / bare.pages * 1000
    return [
        Row(
            "3a",
            "overhead: pages/s, no latency",
            "pages/s",
            stream.pages_per_s("all"),
            bare.pages_per_s,
            "none set (report)",
            None,
            baseline_name="bare client: 6 threads, same parser",
            note=f"pages {pages} vs {bare.pages}",
        ),
        Row(
            "3b",
            "overhead: CPU-s per 1,000 pages",
            "CPU-s",
            ours_cpu,
            bare_cpu,
            "none set (report)",
            None,
            baseline_name="bare client: 6 threads, same parser",
            note="all processes of the run, start-up included",
            details={
                "ours_cpu_s": ours.child.cpu_s,
                "bare_cpu_s": bare.child.cpu_s,
                "ours_wall_s": ours.child.wall_s,
            },
        ),
    ]


def _crawl_details(result: CrawlResult) -> dict[str, Any]:
    return {
        "pages": result.pages,
        "pages_per_s": result.pages_per_s,
        "sightings": result.sightings,
        "sellers": result.sellers,
        "requests": result.requests,
        "http_429": result.http_429,
        "cpu_s": result.child.cpu_s,
        "wall_s": result.child.wall_s,
    }


def ensure_scrapy() -> str | None:
    """Make the Scrapy environment on first use; the reason when that fails."""
    python = SCRAPY_VENV / "bin" / "python"
    if (
        python.exists()
        and run_child([str(python), "-c", "import scrapy"]).returncode == 0
    ):
        return None
    log("installing Scrapy into bench-results/.venv-scrapy (first run only)")
    RESULTS.mkdir(exist_ok=True)
    steps = [
        [PYTHON, "-m", "venv", str(SCRAPY_VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "scrapy"],
    ]
    for step in steps:
        child = run_child(step, timeout=900)
        if child.returncode != 0:
            lines = child.stderr.decode(errors="replace").strip().splitlines()
            return f"Scrapy install failed ({lines[-1] if lines else child.returncode})"
    return None


def network_rows(categories: int, rate_limit: float) -> list[Row]:
    """Rows 1-3; the rate-limited pipeline run serves both row 1 and row 2c."""
    node_ids = catalogue_node_ids(categories)
    clean = Crawl(node_ids, workers=6, latency_ms=50.0)
    limited = Crawl(node_ids, workers=6, latency_ms=50.0, rate_limit_rps=rate_limit)
    with tempfile.TemporaryDirectory(prefix="bench-net-", dir=RESULTS) as folder:
        workdir = Path(folder)
        log(f"1 pipeline: {len(node_ids)} categories, limit {rate_limit:g}/s")
        limited_result, stream = run_pipeline(limited, workdir)
        rows = [pipeline_row(limited, limited_result, stream)]
        rows += scrapy_rows(clean, limited, limited_result, workdir)
        rows += overhead_rows(node_ids, workdir)
    return rows
