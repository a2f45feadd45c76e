"""Configuration layers: file < environment < flag, checked values, `collect config`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import click
import orjson
import pytest
from click.testing import CliRunner

from collect.config import (
    CONFIG_ENV,
    ENV_PREFIX,
    config_command,
    config_option,
    default_map_for,
    export_credentials,
    find_config_file,
    load_config_file,
    mask_secret,
)
from collect.errors import ConfigError
from collect.settings import PriceBand


def _price_band(_ctx: Any, _param: Any, value: str) -> PriceBand:
    try:
        return PriceBand.parse(value)
    except ConfigError as exc:
        raise click.BadParameter(f"{exc} ({exc.hint})") from None


# A few options of `collect run`, declared the same way, on a command of that name.
@click.command("run", context_settings={"auto_envvar_prefix": ENV_PREFIX})
@config_option
@click.argument("categories", nargs=-1, required=True)
@click.option("-w", "--workers", type=click.IntRange(1, 64), default=6)
@click.option("--store", default="sellers.db")
@click.option("--price-band", default="0.8:1.2", callback=_price_band)
@click.option("--ebay-pages", type=click.IntRange(1, 50), default=3)
@click.option("--rate", type=click.FloatRange(0, 10_000), default=None)
@click.option("--max-requests", type=click.IntRange(1), default=None)
@click.option("--backoff", type=click.FloatRange(0.0, 60), default=1.0, hidden=True)
@click.option("--sandbox", is_flag=True)
def run(**options: Any) -> None:
    options["price_band"] = str(options["price_band"])
    click.echo(orjson.dumps(options))


@click.group()
def cli() -> None:
    pass


cli.add_command(run)
cli.add_command(config_command)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No COLLECT_* or credential variable of the developer leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("COLLECT_", "OXYLABS_", "EBAY_")):
            monkeypatch.delenv(name)


def write_config(folder: Path, text: str, mode: int = 0o600) -> Path:
    path = folder / "collect.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def invoke(runner: CliRunner, args: list[str], **env: str) -> dict[str, Any]:
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


# -- precedence -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "flags", "workers"),
    [
        ({}, [], 8),
        ({"COLLECT_WORKERS": "9"}, [], 9),
        ({"COLLECT_WORKERS": "9"}, ["--workers", "10"], 10),
        ({}, ["-w", "10"], 10),
    ],
    ids=["file", "env-over-file", "flag-over-env", "flag-over-file"],
)
def test_file_then_environment_then_flag(
    runner: CliRunner,
    tmp_path: Path,
    env: dict[str, str],
    flags: list[str],
    workers: int,
) -> None:
    """Each layer overrides the one before; untouched options keep the file's."""
    path = write_config(tmp_path, '[run]\nworkers = 8\nprice-band = "1.8:2.2"\n')
    options = invoke(runner, ["run", "--config", str(path), *flags, "c1"], **env)
    assert options["workers"] == workers
    assert options["price_band"] == "1.8:2.2"
    assert options["store"] == "sellers.db"


def test_no_file_means_defaults(runner: CliRunner) -> None:
    """Without --config or COLLECT_CONFIG, the options' defaults apply."""
    options = invoke(runner, ["run", "c1"])
    assert (options["workers"], options["price_band"]) == (6, "0.8:1.2")


def test_collect_config_names_the_file(runner: CliRunner, tmp_path: Path) -> None:
    """COLLECT_CONFIG is read when --config is absent, and --config wins over it."""
    used = write_config(tmp_path, "[run]\nebay-pages = 2\n")
    other = tmp_path / "other.toml"
    other.write_text("[run]\nebay-pages = 5\n", encoding="utf-8")
    from_env = invoke(runner, ["run", "c1"], **{CONFIG_ENV: str(used)})
    from_flag = invoke(
        runner, ["run", "--config", str(other), "c1"], **{CONFIG_ENV: str(used)}
    )
    assert (from_env["ebay_pages"], from_flag["ebay_pages"]) == (2, 5)


def test_prefix_on_the_group_would_nest_the_names(runner: CliRunner) -> None:
    """Click derives COLLECT_RUN_* for a subcommand of a prefixed group.

    This is why the prefix is set on `run` itself: COLLECT_WORKERS, not
    COLLECT_RUN_WORKERS.
    """

    @click.group(context_settings={"auto_envvar_prefix": ENV_PREFIX})
    def prefixed() -> None:
        pass

    @prefixed.command("run")
    @click.option("--workers", type=int, default=6)
    def nested(workers: int) -> None:
        click.echo(workers)

    short = runner.invoke(prefixed, ["run"], env={"COLLECT_WORKERS": "9"})
    long = runner.invoke(prefixed, ["run"], env={"COLLECT_RUN_WORKERS": "9"})
    assert (short.stdout, long.stdout) == ("6\n", "9\n")


# -- the file -------------------------------------------------------------------


def test_keys_with_dashes_or_underscores(tmp_path: Path) -> None:
    """`max-requests` and `max_requests` name the same option."""
    path = write_config(
        tmp_path,
        "[run]\nmax_requests = 500\nrate = 10\nebay-pages = 2\nsandbox = true\n",
    )
    defaults = default_map_for(load_config_file(path), run)
    assert defaults == {
        "max_requests": 500,
        "rate": 10.0,
        "ebay_pages": 2,
        "sandbox": True,
    }


def test_credentials_table(tmp_path: Path) -> None:
    path = write_config(
        tmp_path, '[credentials]\noxylabs_username = "u1"\noxylabs-password = "pw"\n'
    )
    config = load_config_file(path)
    assert config == {
        "path": str(path),
        "run": {},
        "credentials": {"oxylabs_username": "u1", "oxylabs_password": "pw"},
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[run]\nworkers = 'many'\n", "workers: 'many' is not a valid integer"),
        ("[run]\nworkers = true\n", "workers: true is not a valid integer"),
        ("[run]\nworkers = 2.5\n", "workers: 2.5 is not a valid integer"),
        ("[run]\nworkers = 100\n", "workers: 100 is not in the range 1<=x<=64"),
        ("[run]\nworkers = [1, 2]\n", "workers: [1, 2] is not a single value"),
        (
            "[run]\nprice-band = '1.2:0.8'\n",
            "price-band: bad price band '1.2:0.8': LOW must be above 0 and below HIGH "
            "(e.g. 0.8:1.2, or 1.8:2.2 for an 80-120 % markup)",
        ),
        ("[run]\nworkers = 2\nworkers_ = 3\n", "[run] workers_ is not an option"),
        ("[run]\nworkers = 2\n'-w' = 3\n", "[run] -w is not an option"),
        ("[run]\nebay-pages = 2\nebay_pages = 3\n", "ebay_pages: given twice"),
        ("[run]\nwrokers = 2\n", "(did you mean workers?)"),
        ("[run]\ncategories = ['x']\n", "[run] categories is not an option"),
        ("[run]\nconfig = 'x.toml'\n", "[run] config is not an option"),
    ],
    ids=[
        "word",
        "bool",
        "fraction",
        "range",
        "array",
        "callback",
        "unknown",
        "short-flag",
        "twice",
        "suggestion",
        "argument",
        "config",
    ],
)
def test_bad_run_values(tmp_path: Path, text: str, message: str) -> None:
    """One line naming the file and the key."""
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        default_map_for(load_config_file(path), run)
    assert str(caught.value).startswith(f"config file {path}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("workers = 8\n", "unknown table or key 'workers'"),
        ("[runn]\nworkers = 8\n", "unknown table or key 'runn' (did you mean run?)"),
        ("run = 3\n", "run must be a table, [run]"),
        ("[run\n", "not valid TOML: "),
        (
            "[credentials]\noxylabs_user = 'u'\n",
            "(did you mean oxylabs_username or oxylabs_password?)",
        ),
        ("[credentials]\noxylabs_password = ''\n", "must be a non-empty string"),
    ],
    ids=["top-level-key", "section-typo", "not-a-table", "syntax", "cred-key", "empty"],
)
def test_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert str(caught.value).startswith(f"config file {path}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("flag", "env", "origin"),
    [("nope.toml", {}, "--config"), (None, {CONFIG_ENV: "nope.toml"}, CONFIG_ENV)],
    ids=["flag", "env"],
)
def test_missing_file_says_where_its_name_came_from(
    flag: str | None, env: dict[str, str], origin: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        find_config_file(flag, env)
    assert str(caught.value) == (
        f"config file nope.toml (from {origin}) does not exist or is not a file"
    )


def test_no_file_named(tmp_path: Path) -> None:
    assert find_config_file(None, {CONFIG_ENV: ""}) is None


def test_bad_file_exits_78_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    """Before the command runs: `Error: ...` on stderr, the exit code for config."""
    path = write_config(tmp_path, "[run]\nworkers = 'many'\n")
    result = runner.invoke(cli, ["run", "--config", str(path), "c1"])
    assert result.exit_code == 78
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: config file {path}: workers: 'many' is not a valid integer\n"
    )


@pytest.mark.parametrize(
    ("mode", "warned"), [(0o600, False), (0o640, True), (0o604, True)], ids=oct
)
def test_credentials_readable_by_others_are_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int, warned: bool
) -> None:
    path = write_config(tmp_path, "[credentials]\nebay_client_secret = 's'\n", mode)
    with caplog.at_level(logging.WARNING, logger="collect.config"):
        load_config_file(path)
    expected = [
        f"config file {path} holds credentials but is readable by others "
        f"(mode {mode:04o}); run: chmod 600 {path}"
    ]
    assert caplog.messages == (expected if warned else [])


def test_settings_without_credentials_may_be_readable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, "[run]\nworkers = 2\n", 0o644)
    with caplog.at_level(logging.WARNING, logger="collect.config"):
        load_config_file(path)
    assert caplog.messages == []


# -- credentials ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        (None, "(not set)"),
        ("", "(not set)"),
        ("short", "****"),
        ("s3cret-42", "****42"),
    ],
    ids=["none", "empty", "short", "long"],
)
def test_mask_secret(secret: str | None, shown: str) -> None:
    assert mask_secret(secret) == shown


def test_environment_credentials_win_over_the_file() -> None:
    config = {"credentials": {"oxylabs_username": "file", "oxylabs_password": "pw"}}
    environ = {"OXYLABS_USERNAME": "env"}
    assert export_credentials(config, environ) == ["OXYLABS_PASSWORD"]
    assert environ == {"OXYLABS_USERNAME": "env", "OXYLABS_PASSWORD": "pw"}


# -- collect config -------------------------------------------------------------


def row(assignment: str, source: str) -> str:
    """A line of `collect config`: comments aligned at column 44."""
    return f"{assignment:<40}   # {source}"


def test_collect_config_shows_each_source(runner: CliRunner, tmp_path: Path) -> None:
    """Default, file, environment and command line, with secrets masked."""
    path = write_config(
        tmp_path,
        "[run]\nworkers = 8\nebay-pages = 2\nrate = 10\n"
        "[credentials]\noxylabs_username = 'fileuser'\n"
        "oxylabs_password = 'file-secret-99'\n",
    )
    env = {"COLLECT_EBAY_PAGES": "4", "EBAY_CLIENT_SECRET": "env-secret-77"}
    result = runner.invoke(
        cli, ["config", "--config", str(path), "--rate", "2.5"], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "[run]",
        f'config = "{path}"   # command line',
        row("workers = 8", "config file"),
        row('store = "sellers.db"', "default"),
        row('price-band = "0.8:1.2"', "default"),
        row("ebay-pages = 4", "environment"),
        row("rate = 2.5", "command line"),
        row("max-requests = (not set)", "default"),
        row("sandbox = false", "default"),
        "[credentials]",
        row('oxylabs_username = "fileuser"', "config file"),
        row('oxylabs_password = "****99"', "config file"),
        row("ebay_client_id = (not set)", "default"),
        row('ebay_client_secret = "****77"', "environment"),
    ]


def test_collect_config_json(runner: CliRunner, tmp_path: Path) -> None:
    """One object per setting; values keep their types; a hidden option set shows."""
    path = write_config(tmp_path, "[run]\nbackoff = 0.5\n")
    result = runner.invoke(cli, ["config", "--json"], env={CONFIG_ENV: str(path)})
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    by_key = {row["key"]: row for row in rows}
    assert by_key["config"] == {
        "key": "config",
        "value": str(path),
        "source": "environment",
    }
    assert by_key["workers"] == {"key": "workers", "value": 6, "source": "default"}
    assert by_key["backoff"] == {
        "key": "backoff",
        "value": 0.5,
        "source": "config file",
    }
    assert by_key["credentials.oxylabs_password"]["value"] == "(not set)"
    assert len(rows) == 13


def test_collect_config_reports_a_bad_file(runner: CliRunner, tmp_path: Path) -> None:
    path = write_config(tmp_path, "[run]\nworkerz = 3\n")
    result = runner.invoke(cli, ["config", "--config", str(path)])
    assert result.exit_code == 78
    assert result.stderr == (
        f"Error: config file {path}: [run] workerz is not an option of `collect run` "
        "(did you mean workers?) (fix: the keys are the options of "
        "`collect run --help`)\n"
    )
