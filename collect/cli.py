"""Command-line wiring: options in, library calls, errors out as one line each.

Exit codes:
    0   the run finished
    1   an unexpected error (a bug: please report it with the stderr output)
    2   usage error (bad option or argument)
    1   also: a run that finished with too many failed tasks, or collected nothing
    65  `collect parse`: the file is a bot-check page or holds nothing recognisable
    75  temporary: the store is locked by another run, the request budget is
        spent, or every request was rate-limited
    78  configuration error (missing credentials, bad value, credentials refused)
    130 interrupted by SIGINT (Ctrl-C); 143 by SIGTERM
    141 the output pipe was closed (e.g. `| head`); the run stopped early
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from collect import __version__
from collect.config import (
    ENV_PREFIX,
    config_command,
    config_option,
    export_credentials,
    loaded_config,
)
from collect.errors import (
    Blocked,
    CollectError,
    ConfigError,
    FetchError,
    ParseError,
    StoreBusy,
)
from collect.events import utc_timestamp
from collect.logs import setup_logging
from collect.outcome import judge_outcome
from collect.settings import (
    BROWSE_URL,
    OXYLABS_URL,
    PriceBand,
    RunSettings,
)

log = logging.getLogger(__name__)

EXIT_ERROR = 1
EXIT_DATA = 65
EXIT_TEMPORARY = 75
EXIT_CONFIG = 78
EXIT_OUTPUT_CLOSED = 141

F = TypeVar("F", bound=Callable[..., Any])
# Counts beyond this are typos, and SQLite integers stop at 2**63.
MAX_COUNT = 10**12


class Finite(click.FloatRange):
    """A float range that refuses nan (which compares false with every bound)."""

    name = "float range"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"{value!r} is not a number", param, ctx)
        return number


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's exceptions into `Error: ...` lines and exit codes."""
    try:
        yield
    except ConfigError as exc:
        _fail(exc, EXIT_CONFIG)
    except StoreBusy as exc:
        _fail(exc, EXIT_TEMPORARY)
    except CollectError as exc:
        _fail(exc, EXIT_ERROR)


def _fail(exc: CollectError, code: int) -> None:
    message = f"Error: {exc}"
    if exc.hint:
        message += f" (fix: {exc.hint})"
    click.echo(message, err=True)
    sys.exit(code)


def entry() -> None:
    """The `collect` command: the CLI, guarded against an unusable stdout.

    `collect sellers | head` or `> /dev/full` must end with one line, not a
    traceback: a closed pipe exits 141 quietly, any other write error says why.
    """
    if sys.stdout is None or sys.stdout.fileno() < 0:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as we do
    try:
        main.main(prog_name="collect", standalone_mode=False)
    except click.exceptions.Exit as exc:
        _flush_stdout()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(128 + signal.SIGINT)
    except OSError as exc:
        _output_failed(exc)
    except SystemExit:
        # Click turns EPIPE into exit 1 after muting stdout; a closed pipe is 141.
        if isinstance(sys.stdout, click.utils.PacifyFlushWrapper):
            sys.exit(EXIT_OUTPUT_CLOSED)
        raise
    _flush_stdout()


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except OSError as exc:
        _output_failed(exc)


def _output_failed(exc: OSError) -> None:
    # Nothing more can reach stdout: keep Python from trying again at exit.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    if exc.errno == errno.EPIPE:
        sys.exit(EXIT_OUTPUT_CLOSED)
    click.echo(f"Error: cannot write the output: {exc.strerror or exc}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="collect")
@click.option("-v", "--verbose", count=True, help="More log lines on stderr (-vv).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def main(verbose: int, quiet: bool) -> None:
    """Find the eBay sellers who resell Amazon's best-selling products.

    \b
    Exit codes: 0 done; 1 error (too many failures, nothing collected, or a
    bug); 2 usage; 65 unusable input (collect parse); 75 temporary (store
    locked, budget spent, rate-limited throughout); 78 configuration;
    130/143 interrupted (SIGINT/SIGTERM); 141 output pipe closed.
    """
    level = logging.ERROR if quiet else logging.WARNING - 10 * min(verbose, 2)
    setup_logging(level)


# -- collect run ------------------------------------------------------------------


def _duration(_ctx: Any, _param: Any, value: str | None) -> str | None:
    from collect.resume import parse_duration

    if value is not None:
        try:
            parse_duration(value)
        except ConfigError as exc:
            raise click.BadParameter(f"{exc} ({exc.hint})") from None
    return value


def _price_band(_ctx: Any, _param: Any, value: str) -> PriceBand:
    try:
        return PriceBand.parse(value)
    except ConfigError as exc:
        raise click.BadParameter(f"{exc} ({exc.hint})") from None


@main.command(context_settings={"auto_envvar_prefix": ENV_PREFIX})
@config_option
@click.argument("categories", nargs=-1)
@click.option(
    "-w", "--workers", type=click.IntRange(1, 64), default=6, show_default=True
)
@click.option(
    "-o",
    "--out",
    default="-",
    show_default=True,
    help="Where the JSON-lines events go (appended); - for stdout.",
)
@click.option(
    "--store",
    default="sellers.db",
    show_default=True,
    help="The seller store: SQLite, or CSV when the name ends in .csv.",
)
@click.option(
    "--price-band",
    default="0.8:1.2",
    show_default=True,
    callback=_price_band,
    help="eBay price filter as multiples of the Amazon price, LOW:HIGH.",
)
@click.option("--amazon-pages", type=click.IntRange(1, 2), default=1, show_default=True)
@click.option("--ebay-pages", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option(
    "--query-max-chars",
    type=click.IntRange(10, 350),
    default=80,
    show_default=True,
    help="Cut the eBay query at a word boundary to this length.",
)
@click.option(
    "--retries",
    type=click.IntRange(1, 20),
    default=3,
    show_default=True,
    help="Attempts per request on errors (429s are waited out on top of these).",
)
@click.option(
    "--requeue-rounds",
    type=click.IntRange(0, 10),
    default=2,
    show_default=True,
    help="Later rounds for tasks whose retries all failed.",
)
@click.option(
    "--connect-timeout",
    type=Finite(0.1, 600),
    default=10.0,
    show_default=True,
    help="Seconds to wait for a connection.",
)
@click.option(
    "--read-timeout",
    type=Finite(0.1, 600),
    default=None,
    help="Seconds to wait for an answer [default: 180; 5 with --sandbox].",
)
@click.option("--backoff", type=Finite(0.0, 60), default=1.0, hidden=True)
@click.option(
    "--ebay-source",
    type=click.Choice(["oxylabs", "browse"]),
    default="oxylabs",
    show_default=True,
    help="eBay search pages through Oxylabs, or eBay's own Browse API "
    "(EBAY_CLIENT_ID, EBAY_CLIENT_SECRET).",
)
@click.option(
    "--browse-url",
    envvar="EBAY_BROWSE_URL",
    default=BROWSE_URL,
    show_default=True,
    help="Base URL of the eBay APIs (env EBAY_BROWSE_URL).",
)
@click.option(
    "--browse-limit",
    type=click.IntRange(1, 200),
    default=200,
    show_default=True,
    help="Items per Browse API search page.",
)
@click.option(
    "--browse-daily-budget",
    type=click.IntRange(1, MAX_COUNT),
    default=5000,
    show_default=True,
    help="Browse API calls allowed per UTC day, shared by runs on this store.",
)
@click.option(
    "--oxylabs-url",
    envvar="OXYLABS_URL",
    default=OXYLABS_URL,
    show_default=True,
    help="Base URL of the Oxylabs realtime API (env OXYLABS_URL).",
)
@click.option("--sandbox", is_flag=True, help="Run against the built-in simulator.")
@click.option(
    "--sandbox-faults",
    default="",
    metavar="SPEC",
    help="With --sandbox: fault rates, e.g. 5xx=0.2,429=0.1,timeout=0.05.",
)
@click.option(
    "--sandbox-latency",
    type=Finite(0, 60_000),
    default=0.0,
    metavar="MS",
    help="With --sandbox: milliseconds the simulator takes per answer.",
)
@click.option(
    "--replay",
    type=click.Path(exists=True, file_okay=False),
    help="With --sandbox: answer from recorded files in DIR/amazon, DIR/ebay "
    "and DIR/browse.",
)
@click.option(
    "--rate",
    type=Finite(0, 10_000),
    default=None,
    help="Requests per second for the whole pool [default: 10; unlimited with "
    "--sandbox]; 0 = unlimited.",
)
@click.option(
    "--max-requests",
    type=click.IntRange(1, MAX_COUNT),
    default=None,
    help="Stop taking work once this many requests were spent (exit 75).",
)
@click.option(
    "--max-error-rate",
    type=Finite(0, 1),
    default=0.2,
    show_default=True,
    help="Exit 1 when a larger share of tasks failed for good.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the categories and the requests a run would spend; send nothing.",
)
@click.option(
    "--cost-per-request",
    type=Finite(0),
    default=0.0,
    help="Price of one request, for the --dry-run estimate.",
)
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Keep a Prometheus text-format file of the run's metrics up to date.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Finish the store's last unfinished run, skipping the work it did.",
)
@click.option(
    "--skip-searched-within",
    metavar="DURATION",
    default=None,
    callback=_duration,
    help="Skip products whose eBay search finished this recently (e.g. 7d, 12h).",
)
@click.option(
    "--start-method",
    type=click.Choice(["spawn", "forkserver", "fork"]),
    default="spawn",
    hidden=True,
)
def run(**options: Any) -> None:
    """Collect the eBay sellers of the best sellers in CATEGORIES.

    CATEGORIES are catalogue ids, departments or raw browse node ids
    (see `collect categories`). Settings come from --config (TOML, [run]
    table), then COLLECT_<OPTION> variables, then flags.

    \b
    Exit codes:
      0        done
      1        too many tasks failed (--max-error-rate), nothing collected,
               the store or the output could not be written
      2        usage error
      75       temporary: store locked by another run, request budget or
               daily Browse budget spent, rate-limited throughout
      78       configuration: missing or refused credentials, a bad value
      130/143  interrupted by SIGINT/SIGTERM (a complete event is written)
      141      the output pipe closed
    """
    # Until the coordinator takes over the signals, a stop ends the run at once.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _run(options)
    except KeyboardInterrupt:
        sys.exit(128 + _last_signal[0])


_last_signal = [signal.SIGINT]


def _interrupt(signum: int, _frame: Any) -> None:
    _last_signal[0] = signum
    raise KeyboardInterrupt


def _run(options: dict[str, Any]) -> None:
    from collect import runplan
    from collect.catalogue import resolve_categories
    from collect.lock import store_lock
    from collect.pipeline import run_collection

    context = click.get_current_context()
    export_credentials(loaded_config(context))
    options["progress"] = not context.find_root().params.get("quiet", False)
    if options["resume"] and options["categories"]:
        raise click.UsageError("--resume takes no categories: it redoes the last run's")
    if not options["resume"] and not options["categories"]:
        raise click.UsageError("name at least one category (or use --resume)")
    with user_errors():
        job = runplan.plan_job(options)
        categories = resolve_categories(job.names)
        if options["dry_run"]:
            for line in runplan.estimate(categories, options):
                click.echo(line)
            return
        runplan.check_writable(
            None if options["out"] == "-" else options["out"], options["store"]
        )
        run_id = runplan.new_run_id()
        with (
            store_lock(options["store"], run_id, utc_timestamp()),
            _sandbox(options) as sandbox_url,
        ):
            progress = runplan.load_progress(options, job)
            settings = runplan.run_settings(run_id, options, categories, sandbox_url)
            settings = dataclasses.replace(settings, job_id=job.job_id)
            log.info("run %s: %d categories", run_id, len(categories))
            outcome = run_collection(settings, progress)
    _exit_for(outcome, settings)


@contextlib.contextmanager
def _sandbox(options: dict[str, Any]) -> Iterator[str | None]:
    """Start the simulator in its own process when --sandbox is given."""
    if not options["sandbox"]:
        if options["replay"] or options["sandbox_faults"]:
            raise ConfigError("--replay and --sandbox-faults need --sandbox")
        yield None
        return
    from collect.sandbox.options import sandbox_config
    from collect.sandbox.process import SandboxProcess

    read_timeout = options["read_timeout"] or 5.0
    config = sandbox_config(
        options["sandbox_faults"],
        latency_ms=options["sandbox_latency"],
        replay_dir=options["replay"],
        timeout_hang_s=read_timeout + 1.0,
    )
    with SandboxProcess(config, options["start_method"]) as url:
        log.info("sandbox listening on %s", url)
        yield url


def _exit_for(outcome: Any, settings: RunSettings) -> None:
    """Map how the run ended to the documented exit codes."""
    status = outcome.status
    if status == "interrupted":
        sys.exit(128 + (outcome.signal_number or signal.SIGINT))
    if status == "output_closed":
        if settings.out is not None:
            click.echo(
                f"Error: the event output {settings.out} could not be written "
                "(see above); the run stopped, the store keeps what was collected",
                err=True,
            )
            sys.exit(EXIT_ERROR)
        sys.exit(EXIT_OUTPUT_CLOSED)
    if status == "budget":
        daily = "daily" in (outcome.message or "")
        fix = (
            "raise --browse-daily-budget, or continue after the reset with --resume"
            if daily
            else "raise --max-requests, or continue later with --resume"
        )
        message = outcome.message or "the request budget is spent"
        click.echo(f"Error: {message} (fix: {fix})", err=True)
        sys.exit(EXIT_TEMPORARY)
    if status == "fatal":
        click.echo(f"Error: {outcome.message}", err=True)
        if "HTTP 40" in (outcome.message or ""):
            click.echo("(fix: check OXYLABS_USERNAME and OXYLABS_PASSWORD)", err=True)
            sys.exit(EXIT_CONFIG)
        sys.exit(EXIT_ERROR)
    verdict = judge_outcome(outcome.totals, settings.max_error_rate)
    if verdict is not None:
        code, message = verdict
        click.echo(f"Error: {message}", err=True)
        sys.exit(code)


# -- collect parse ----------------------------------------------------------------


@main.command()
@click.argument("file", type=click.File("rb"))
@click.option("--summary", is_flag=True, help="Print counts only, as one JSON object.")
def parse(file: Any, summary: bool) -> None:
    """Show what collect extracts from one saved page or API answer.

    FILE is an eBay search page, an Oxylabs answer (an eBay page or best
    sellers) or an eBay Browse API answer; - reads stdin. One JSON line is
    printed per seller sighting or product.
    """
    from collect.parsers.detect import detect_and_parse

    data = file.read()
    try:
        parsed = detect_and_parse(data)
    except Blocked as exc:
        click.echo(f"Error: blocked: {exc}", err=True)
        sys.exit(EXIT_DATA)
    except (ParseError, FetchError) as exc:
        # A failed job or an unreadable answer: say what it is, as for any bad input.
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_DATA)
    out = click.get_binary_stream("stdout")
    if summary:
        out.write(orjson.dumps(_parse_summary(parsed)) + b"\n")
        return
    for row in _parse_rows(parsed):
        out.write(orjson.dumps(row) + b"\n")


def _parse_rows(parsed: Any) -> Iterator[dict[str, Any]]:
    for sighting in parsed.sightings:
        yield {"kind": "sighting", **_drop_none(sighting)}
    for product in parsed.products:
        yield {"kind": "product", **_drop_none(product)}
    for rejected in parsed.rejected:
        row = _drop_none(rejected)
        row["raw_price"] = repr(rejected.raw_price)
        yield {"kind": "rejected", **row}


def _parse_summary(parsed: Any) -> dict[str, Any]:
    summary: dict[str, Any] = {"kind": parsed.kind}
    if parsed.page is not None:
        summary.update(
            listings=parsed.page.listings,
            placeholders=parsed.page.placeholders,
            with_seller=len(parsed.page.sightings),
            unique_sellers=parsed.page.unique_sellers,
            has_next=parsed.page.has_next,
        )
    if parsed.products or parsed.rejected:
        summary.update(products=len(parsed.products), rejected=len(parsed.rejected))
    return summary


def _drop_none(value: Any) -> dict[str, Any]:
    fields = value.__dataclass_fields__
    return {
        name: getattr(value, name)
        for name in fields
        if getattr(value, name) is not None
    }


# -- collect sellers / categories -------------------------------------------------


@main.command()
@click.option("--store", default="sellers.db", show_default=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "jsonl"]),
    default=None,
    help="[default: table on a terminal, csv otherwise]",
)
@click.option("--limit", type=click.IntRange(1, MAX_COUNT), default=None)
@click.option(
    "--min-products",
    type=click.IntRange(0, MAX_COUNT),
    default=0,
    help="Only sellers seen for at least this many distinct products.",
)
def sellers(store: str, fmt: str | None, limit: int | None, min_products: int) -> None:
    """List the sellers in the store, most evidence first."""
    from collect.export import export_sellers
    from collect.store import open_store

    if not Path(store).exists():
        raise click.UsageError(f"no store at {store} (run `collect run` first)")
    out = click.get_text_stream("stdout")
    fmt = fmt or ("table" if out.isatty() else "csv")
    with user_errors():
        opened = open_store(store)
        try:
            export_sellers(opened, fmt, out, limit=limit, min_products=min_products)
        finally:
            opened.close()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def categories(as_json: bool) -> None:
    """List the bundled catalogue of Amazon Best Sellers categories."""
    from collect.catalogue import load_catalogue

    rows = load_catalogue()
    if as_json:
        for row in rows:
            click.echo(orjson.dumps(dataclasses.asdict(row)))
        return
    width = max(len(row.id) for row in rows)
    department = None
    for row in rows:
        if row.department != department:
            department = row.department
            click.echo(f"\n{department}")
        click.echo(f"  {row.id:<{width}}  {row.node_id:>12}  {row.name}")


# -- collect sandbox --------------------------------------------------------------


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--faults", default="", metavar="SPEC", help="e.g. 5xx=0.2,429=0.1")
@click.option("--latency", type=Finite(0, 60_000), default=0.0, metavar="MS")
@click.option("--timeout-hang", type=Finite(0, 600), default=30.0)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--replay", type=click.Path(exists=True, file_okay=False))
def sandbox(
    port: int,
    faults: str,
    latency: float,
    timeout_hang: float,
    seed: int,
    replay: str | None,
) -> None:
    """Serve the Oxylabs realtime API simulator on 127.0.0.1 until Ctrl-C.

    Point a run at it with `--oxylabs-url` and OXYLABS_USERNAME/PASSWORD
    set to sandbox/sandbox.
    """
    from collect.sandbox.options import sandbox_config
    from collect.sandbox.server import serve_forever

    with user_errors():
        config = sandbox_config(
            faults,
            port=port,
            seed=seed,
            latency_ms=latency,
            timeout_hang_s=timeout_hang,
            replay_dir=replay,
        )

        def ready(url: str) -> None:
            click.echo(f"sandbox listening on {url} (user sandbox, password sandbox)")

        with contextlib.suppress(KeyboardInterrupt):
            serve_forever(config, ready)


def _register_commands() -> None:
    from collect.tail.command import tail_command

    main.add_command(tail_command)
    main.add_command(config_command)


_register_commands()
