"""Drawing a Snapshot with rich: header, workers, metrics, pipeline feed, errors.

Only drawing lives here; every figure comes from the snapshot. `render_dashboard`
returns a renderable sized to the terminal, which `live.py` redraws in place.
"""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.layout import Layout
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from collect.tail.snapshot import RunSnapshot, Snapshot
from collect.tail.summary import error_groups
from collect.tail.words import format_ms, format_seconds, shorten, shorten_url

STATE_STYLES = {
    "fetching": "cyan",
    "found": "green",
    "rate limited": "yellow",
    "error": "red",
    "stale": "bold red",
    "idle": "dim",
    "done": "dim green",
}
FEED_STYLES = {"inserted": "green", "complete": "bold", "error": "red"}


def render_dashboard(snapshot: Snapshot) -> RenderableType:
    run = snapshot.latest
    if run is None:
        return Panel(_waiting(snapshot), title="collect tail")
    layout = Layout()
    layout.split_column(
        Layout(header(snapshot, run), name="header", size=4),
        Layout(workers_table(run), name="workers", size=len(run.workers) + 4),
        Layout(metrics(run), name="metrics", size=8),
        Layout(name="bottom", minimum_size=6),
    )
    layout["bottom"].split_row(
        Layout(feed_panel(run), name="feed", ratio=2),
        Layout(errors_panel(run), name="errors", ratio=3),
    )
    return layout


def _waiting(snapshot: Snapshot) -> Text:
    text = Text("waiting for events…", style="dim")
    if snapshot.garbage:
        text.append(f"  ({snapshot.garbage:,} lines that are not events)")
    return text


def header(snapshot: Snapshot, run: RunSnapshot) -> Panel:
    progress = run.progress
    first = Text.assemble(
        ("run ", "dim"),
        (run.run_id or "(no run id)", "bold"),
        f"  {run.status}  ",
        ("elapsed ", "dim"),
        format_seconds(run.elapsed_s),
        ("  phase ", "dim"),
        (run.phase or "-", "bold"),
        ("  rate ", "dim"),
        f"{run.requests_per_min:,.0f} req/min",
        ("  ETA ", "dim"),
        format_seconds(progress.eta_s) if progress.eta_s is not None else "-",
    )
    second = Text.assemble(
        ("categories ", "dim"),
        _ratio(progress.categories_done, progress.categories_total),
        ("   products searched ", "dim"),
        _ratio(progress.products_done, progress.products_total),
        ("   ", ""),
        _bar(progress.products_done, progress.products_total),
        _stream_note(snapshot),
    )
    return Panel(Group(first, second), title="collect tail", box=box.ROUNDED)


def _ratio(done: int, total: int | None) -> str:
    return f"{done:,}/{total:,}" if total is not None else f"{done:,}/?"


def _bar(done: int, total: int | None, width: int = 20) -> Text:
    if not total:
        return Text("")
    filled = min(width, round(width * done / total))
    percent = f" {100 * done / total:.0f}%"
    return Text("█" * filled + "░" * (width - filled) + percent, style="green")


def _stream_note(snapshot: Snapshot) -> Text:
    notes = []
    if len(snapshot.runs) > 1:
        notes.append(f"{len(snapshot.runs)} runs in the stream, showing the latest")
    if snapshot.garbage:
        notes.append(f"{snapshot.garbage:,} lines that are not events")
    return Text("   " + "; ".join(notes), style="dim") if notes else Text("")


def workers_table(run: RunSnapshot) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD, expand=True, title_justify="left", pad_edge=False
    )
    table.add_column("worker", justify="right", width=6)
    table.add_column("phase", width=6)
    table.add_column("state", width=12)
    table.add_column("category / product", ratio=3, no_wrap=True)
    table.add_column("last URL", ratio=3, no_wrap=True)
    table.add_column("try", justify="right", width=3)
    table.add_column("last", justify="right", width=7)
    table.add_column("requests", justify="right", width=8)
    table.add_column("ok", justify="right", width=7)
    table.add_column("errors", justify="right", width=6)
    for worker in run.workers:
        state = worker.state
        target = worker.product or worker.category or ""
        table.add_row(
            str(worker.worker_id),
            worker.phase or "",
            Text(state, style=STATE_STYLES.get(state, "")),
            shorten(target, 60),
            shorten_url(worker.url, 70),
            str(worker.attempt or ""),
            format_ms(worker.last_duration_ms),
            f"{worker.requests:,}",
            f"{worker.successes:,}",
            Text(f"{worker.errors:,}", style="red" if worker.errors else ""),
        )
    return table


def metrics(run: RunSnapshot) -> Panel:
    grid = Table.grid(expand=True, padding=(0, 2))
    for _ in range(4):
        grid.add_column()
    requests = [
        f"requests    {run.requests:,}  ({run.requests_per_min:,.0f}/min)",
        f"successes   {run.found:,}",
        f"failures    {run.request_failures:,}",
        f"rejected    {run.products_rejected:,} products without a price",
    ]
    results = [
        f"products found  {run.products_found:,}",
        f"sellers found   {run.sellers_found:,} sightings",
        f"new sellers     {run.pipeline.get('inserted', 0):,}",
        f"known, updated  {run.pipeline.get('updated', 0):,}",
    ]
    durations = [
        f"{phase:<6} p50 {format_ms(p.p50)}  p95 {format_ms(p.p95)}"
        for phase, p in run.durations.items()
    ]
    groups = error_groups(run)
    errors = [f"{name:<11} {count:,}" for name, count in groups] or ["no errors"]
    grid.add_row(
        Text("\n".join(requests)),
        Text("\n".join(results)),
        Text("\n".join(["durations", *durations])),
        Text("\n".join(errors[:6]), style="red" if groups else "green"),
    )
    return Panel(grid, title="metrics", box=box.ROUNDED)


def feed_panel(run: RunSnapshot) -> Panel:
    text = Text(no_wrap=True, overflow="ellipsis")
    for line in reversed(run.feed):
        text.append(f"{line.timestamp[11:19]} ", style="dim")
        text.append(line.text + "\n", style=FEED_STYLES.get(line.action, ""))
    return Panel(text or Text("nothing yet", style="dim"), title="pipeline")


def errors_panel(run: RunSnapshot) -> Panel:
    text = Text(no_wrap=True, overflow="ellipsis")
    for error in reversed(run.recent_errors):
        who = f"w{error.worker_id}" if error.worker_id else "sys"
        status = f" {error.http_status}" if error.http_status else ""
        text.append(f"{error.timestamp[11:19]} {who:<4}", style="dim")
        text.append(f"{error.error_type or '?'}{status}", style="red")
        text.append(f" {error.error_stage or '?'} ", style="dim")
        text.append(shorten(error.message, 100) + "\n")
    return Panel(text or Text("no errors", style="green"), title="latest errors")
