"""From the options of `collect run` to a plan: what to collect, what to skip, and
the frozen settings every process gets. Checks that would otherwise cost a paid
request (credentials, writable paths, URLs) happen here, before anything is sent.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

from collect import resume
from collect.catalogue import Category
from collect.errors import ConfigError, StoreError
from collect.limits import DEFAULT_RATES
from collect.providers.ebay_browse import max_browse_pages
from collect.resume import Progress, unfinished_run
from collect.settings import Credentials, PriceBand, RetryPolicy, RunSettings
from collect.store import open_store

log = logging.getLogger(__name__)

# Amazon lists 50 best sellers a page.
PRODUCTS_PER_PAGE = 50


@dataclasses.dataclass(frozen=True)
class Job:
    """What to collect: named categories, or the unfinished run to resume."""

    names: tuple[str, ...]
    job_id: str = ""


def plan_job(options: dict[str, Any]) -> Job:
    """The categories named, or those of the store's unfinished run (--resume).

    With --resume, the settings that shaped the first run's tasks are taken from it.
    """
    if not options["resume"]:
        return Job(tuple(options["categories"]))
    store = open_store(options["store"])
    try:
        run = unfinished_run(store)
    finally:
        store.close()
    saved = run["settings"]
    for name in ("amazon_pages", "ebay_pages", "query_max_chars"):
        options[name] = saved.get(name, options[name])
    if "price_band" in saved:
        options["price_band"] = PriceBand.parse(saved["price_band"])
    log.warning("resuming run %s (%s)", run["run_id"], run["status"])
    return Job(tuple(node for node, _ in saved["node_ids"]), saved["job_id"])


def load_progress(options: dict[str, Any], job: Job) -> Progress | None:
    """What to skip: the resumed job's finished tasks and recent searches."""
    within = options["skip_searched_within"]
    if not job.job_id and within is None:
        return None
    store = open_store(options["store"])
    try:
        progress = resume.load_progress(store, job.job_id) if job.job_id else None
        recent = (
            resume.searched_within(store, resume.parse_duration(within))
            if within
            else set()
        )
    finally:
        store.close()
    if progress is None:
        return resume.Progress(searched=frozenset(recent))
    return dataclasses.replace(progress, searched=progress.searched | recent)


def run_settings(
    run_id: str,
    options: dict[str, Any],
    categories: list[Category],
    sandbox_url: str | None,
) -> RunSettings:
    if sandbox_url:
        credentials = Credentials("sandbox", "sandbox")
    else:
        credentials = Credentials.from_env("OXYLABS_USERNAME", "OXYLABS_PASSWORD")
        if credentials is None:
            raise ConfigError(
                "no Oxylabs credentials",
                hint="set OXYLABS_USERNAME and OXYLABS_PASSWORD, or add --sandbox",
            )
    check_url(options["oxylabs_url"])
    ebay = ebay_credentials(options, sandbox_url)
    read_timeout = options["read_timeout"] or (5.0 if sandbox_url else 180.0)
    rate = options["rate"]
    if rate is None:
        rate = 0.0 if sandbox_url else DEFAULT_RATES["oxylabs"]
    out = None if options["out"] == "-" else options["out"]
    return RunSettings(
        run_id=run_id,
        node_ids=tuple((c.node_id, c.name) for c in categories),
        workers=options["workers"],
        out=out,
        store=options["store"],
        price_band=options["price_band"],
        amazon_pages=options["amazon_pages"],
        ebay_pages=options["ebay_pages"],
        query_max_chars=options["query_max_chars"],
        retry=RetryPolicy(attempts=options["retries"], backoff_base=options["backoff"]),
        requeue_rounds=options["requeue_rounds"],
        connect_timeout=options["connect_timeout"],
        read_timeout=read_timeout,
        oxylabs_url=sandbox_url or options["oxylabs_url"],
        oxylabs=credentials,
        start_method=options["start_method"],
        rate=rate,
        max_requests=options["max_requests"],
        max_error_rate=options["max_error_rate"],
        metrics_file=options["metrics_file"],
        ebay_source=options["ebay_source"],
        browse_url=sandbox_url or options["browse_url"],
        ebay=ebay,
        browse_limit=options["browse_limit"],
        browse_daily_budget=options["browse_daily_budget"],
        browse_rate=0.0 if sandbox_url else DEFAULT_RATES["browse"],
        progress=options["progress"],
        log_level=logging.getLogger().level,
    )


def ebay_credentials(
    options: dict[str, Any], sandbox_url: str | None
) -> Credentials | None:
    if options["ebay_source"] != "browse":
        return None
    pages = max_browse_pages(options["browse_limit"])
    if options["ebay_pages"] > pages:
        raise ConfigError(
            f"--ebay-pages {options['ebay_pages']} goes past the Browse API's "
            f"10,000th item at {options['browse_limit']} items a page",
            hint=f"use at most {pages} pages",
        )
    if sandbox_url:
        return Credentials("sandbox", "sandbox")
    check_url(options["browse_url"], "--browse-url")
    credentials = Credentials.from_env("EBAY_CLIENT_ID", "EBAY_CLIENT_SECRET")
    if credentials is None:
        raise ConfigError(
            "no eBay API credentials",
            hint="set EBAY_CLIENT_ID and EBAY_CLIENT_SECRET, or add --sandbox",
        )
    return credentials


def check_url(url: str, option: str = "--oxylabs-url") -> None:
    if not url.startswith(("http://", "https://")) or len(url) < 10:
        raise ConfigError(
            f"{option} {url!r} is not an http(s) URL",
            hint="e.g. https://realtime.oxylabs.io",
        )


def estimate(categories: list[Category], options: dict[str, Any]) -> list[str]:
    """What a run would spend, from the settings alone (--dry-run sends nothing)."""
    amazon = len(categories) * options["amazon_pages"]
    products = amazon * PRODUCTS_PER_PAGE
    ebay = products * options["ebay_pages"]
    lines = [f"categories ({len(categories)}):"]
    lines += [f"  {c.node_id:>12}  {c.name}" for c in categories]
    lines.append(f"amazon requests: {amazon}")
    lines.append(
        f"ebay requests:   at most {ebay} ({products} products x "
        f"{options['ebay_pages']} pages; fewer when results end early, "
        "prices are missing or ASINs repeat)"
    )
    if cost := options["cost_per_request"]:
        lines.append(f"estimated cost:  at most {(amazon + ebay) * cost:.2f}")
    if options["max_requests"]:
        lines.append(f"budget:          {options['max_requests']} requests")
    lines.append("dry run: no request was sent")
    return lines


def check_writable(out: str | None, store: str) -> None:
    """Fail before any request is paid for if the results could not be kept."""
    for label, path in (("--out", out), ("--store", store)):
        if path is None:
            continue
        folder = Path(path).resolve().parent
        if not folder.is_dir():
            raise ConfigError(f"{label} {path}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise ConfigError(f"{label} {path}: folder {folder} is not writable")
        if Path(path).is_dir():
            raise ConfigError(f"{label} {path} is a folder; name a file")
    if out is not None and Path(out).resolve() == Path(store).resolve():
        raise ConfigError("--out and --store name the same file; give each its own")
    try:
        open_store(store).close()
    except StoreError as exc:
        raise ConfigError(str(exc), hint=exc.hint) from None


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
