"""Configuration in layers: a TOML file, then environment variables, then flags.

Each layer overrides the one before. Click already ranks its own sources as command
line > environment variable > `default_map` > the option's default, so the file is
loaded into the `run` command's `default_map` and everything else is Click's:

    [run]                         # keys are `collect run` options, - or _ alike
    workers = 8
    price-band = "0.8:1.2"
    max-requests = 500

    [credentials]                 # optional; the environment wins over the file
    oxylabs_username = "..."
    oxylabs_password = "..."

The file comes from `--config PATH` or COLLECT_CONFIG; environment variables are
`COLLECT_<OPTION>` (COLLECT_WORKERS, COLLECT_PRICE_BAND) through Click's
`auto_envvar_prefix`. Every value of the file is checked when it is loaded, so a bad
one is a one-line `ConfigError` naming the file and the key, before any request.
"""

from __future__ import annotations

import difflib
import logging
import os
import stat
import tomllib
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import click
import orjson
from click.core import ParameterSource

from collect.errors import ConfigError

log = logging.getLogger(__name__)

CONFIG_ENV = "COLLECT_CONFIG"
ENV_PREFIX = "COLLECT"
SECTIONS = ("run", "credentials")
CREDENTIAL_ENV = {
    "oxylabs_username": "OXYLABS_USERNAME",
    "oxylabs_password": "OXYLABS_PASSWORD",
    "ebay_client_id": "EBAY_CLIENT_ID",
    "ebay_client_secret": "EBAY_CLIENT_SECRET",
}
SECRET_KEYS = frozenset({"oxylabs_password", "ebay_client_secret"})
NOT_SET = "(not set)"
ALIGN_MAX = 40
# The exit code `collect.cli` documents for configuration errors.
EXIT_CONFIG = 78

SOURCE_NAMES = {
    ParameterSource.COMMANDLINE: "command line",
    ParameterSource.ENVIRONMENT: "environment",
    ParameterSource.DEFAULT_MAP: "config file",
    ParameterSource.DEFAULT: "default",
    ParameterSource.PROMPT: "prompt",
}

# Where the `--config` callback leaves the loaded file for the command to read.
_META_KEY = "collect.config"
# Options that make no sense in the file itself.
_NOT_IN_FILE = frozenset({"config", "help"})

F = TypeVar("F", bound=Callable[..., Any])


class Setting(NamedTuple):
    """One effective setting: its key, its value and where the value came from."""

    key: str
    value: Any
    source: str


# -- finding and reading the file -------------------------------------------------


def find_config_file(
    flag: str | None, environ: Mapping[str, str] = os.environ
) -> Path | None:
    """The file named by `--config`, else by COLLECT_CONFIG, else none."""
    origin, name = ("--config", flag) if flag else (CONFIG_ENV, environ.get(CONFIG_ENV))
    if not name:
        return None
    path = Path(name).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"config file {name} (from {origin}) does not exist or is not a file",
            hint=f"check the path, or unset {CONFIG_ENV}",
        )
    return path


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read and check a config file.

    Returns `{"path": str, "run": {key: value}, "credentials": {key: value}}`; the
    `run` table is checked against a command later, by `default_map_for`.
    """
    data = _read_toml(Path(path))
    _check_sections(data, path)
    credentials = _credentials_table(data.get("credentials", {}), path)
    if credentials:
        _warn_if_readable_by_others(Path(path))
    return {"path": str(path), "run": data.get("run", {}), "credentials": credentials}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from None


def _check_sections(data: dict[str, Any], path: str | Path) -> None:
    for key, value in data.items():
        if key in SECTIONS and isinstance(value, dict):
            continue
        if key in SECTIONS:
            raise ConfigError(f"config file {path}: {key} must be a table, [{key}]")
        suggestion = _did_you_mean(key, SECTIONS)
        raise ConfigError(
            f"config file {path}: unknown table or key {key!r}{suggestion}",
            hint="settings of `collect run` go in a [run] table",
        )


def _credentials_table(table: dict[str, Any], path: str | Path) -> dict[str, str]:
    credentials = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key not in CREDENTIAL_ENV:
            suggestion = _did_you_mean(key, CREDENTIAL_ENV)
            raise ConfigError(
                f"config file {path}: [credentials] unknown key {raw_key!r}{suggestion}"
            )
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"config file {path}: {raw_key}: must be a non-empty string"
            )
        credentials[key] = value
    return credentials


def _warn_if_readable_by_others(path: Path) -> None:
    # As ssh does for private keys: a secret others can read is no longer a secret.
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o044:
        log.warning(
            "config file %s holds credentials but is readable by others "
            "(mode %04o); run: chmod 600 %s",
            path,
            mode,
            path,
        )


def _did_you_mean(key: str, choices: Any) -> str:
    matches = difflib.get_close_matches(key, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(matches)}?)" if matches else ""


# -- the [run] table as Click defaults --------------------------------------------


def default_map_for(
    config: Mapping[str, Any],
    command: click.Command,
    ctx: click.Context | None = None,
) -> dict[str, Any]:
    """Turn the [run] table into a `default_map` for `command`, checking every key.

    Values go through each option's type, and through its callback when it has one,
    so a bad value fails here with the file's name instead of later as a usage error.
    Callbacks must therefore check only their own value.
    """
    path = config.get("path", "(no file)")
    ctx = ctx or click.Context(command, info_name=command.name)
    options = _options_by_key(command)
    default_map: dict[str, Any] = {}
    for raw_key, value in config.get("run", {}).items():
        option = options.get(raw_key.replace("-", "_"))
        if option is None:
            raise _unknown_key(raw_key, options, path, command)
        if option.name in default_map:
            raise ConfigError(f"config file {path}: {raw_key}: given twice")
        default_map[option.name] = _convert(option, raw_key, value, ctx, path)
    return default_map


def _options_by_key(command: click.Command) -> dict[str, click.Option]:
    """Each option under its parameter name and under each of its long flags."""
    options: dict[str, click.Option] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.name in _NOT_IN_FILE:
            continue
        names = [param.name or ""]
        names += [flag[2:] for flag in param.opts if flag.startswith("--")]
        for name in names:
            options[name.replace("-", "_")] = param
    return options


def _unknown_key(
    key: str, options: Mapping[str, click.Option], path: str, command: click.Command
) -> ConfigError:
    dashed = sorted({name.replace("_", "-") for name in options})
    suggestion = _did_you_mean(key.replace("_", "-"), dashed)
    return ConfigError(
        f"config file {path}: [run] {key} is not an option of "
        f"`collect {command.name}`{suggestion}",
        hint=f"the keys are the options of `collect {command.name} --help`",
    )


def _convert(
    option: click.Option, key: str, value: Any, ctx: click.Context, path: str
) -> Any:
    problem = _toml_type_problem(option, value)
    try:
        if problem:
            raise click.BadParameter(problem)
        # The plain type first: "not a valid integer" reads better than Click's
        # "not a valid integer range" for a value that is not a number at all.
        _plain_type(option.type).convert(value, option, ctx)
        converted = option.type.convert(value, option, ctx)
        if option.callback is not None and not option.is_eager:
            option.callback(ctx, option, converted)
    except (click.BadParameter, ConfigError) as exc:
        message = exc.message if isinstance(exc, click.BadParameter) else str(exc)
        raise ConfigError(f"config file {path}: {key}: {message.rstrip('.')}") from None
    return converted


def _plain_type(param_type: click.ParamType) -> click.ParamType:
    if isinstance(param_type, click.IntRange):
        return click.INT
    if isinstance(param_type, click.FloatRange):
        return click.FLOAT
    return param_type


def _toml_type_problem(option: click.Option, value: Any) -> str | None:
    """What Click would silently accept but a TOML value should not mean.

    Click's number types run `int(value)`, so `true` would become 1 and `2.5` 2.
    """
    literal = _toml_literal(value)
    if isinstance(value, dict | list) and option.nargs == 1 and not option.multiple:
        return f"{literal} is not a single value"
    if isinstance(value, bool) and not isinstance(
        option.type, click.types.BoolParamType
    ):
        return f"{literal} is not a valid {option.type.name}"
    is_int = isinstance(option.type, click.types.IntParamType)
    if is_int and isinstance(value, float) and not value.is_integer():
        return f"{literal} is not a valid integer"
    return None


# -- the --config option ------------------------------------------------------------


def config_option(function: F) -> F:
    """Add `--config PATH` (or COLLECT_CONFIG) to a command: load the file first.

    The option is eager, so the file is in the context's `default_map` before any
    other option looks for its value.
    """
    return click.option(
        "--config",
        "config",
        metavar="PATH",
        envvar=CONFIG_ENV,
        is_eager=True,
        expose_value=False,
        callback=_load_into_context,
        help=f"A TOML file of settings, [run] table (env {CONFIG_ENV}).",
    )(function)


def _load_into_context(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    if ctx.resilient_parsing:
        return value
    from_flag = ctx.get_parameter_source("config") == ParameterSource.COMMANDLINE
    try:
        path = find_config_file(value if from_flag else None, {CONFIG_ENV: value or ""})
        config = load_config_file(path) if path else {}
        defaults = default_map_for(config, ctx.command, ctx)
    except ConfigError as exc:
        raise _ConfigUsageError(exc) from None
    ctx.meta[_META_KEY] = config
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


class _ConfigUsageError(click.ClickException):
    """A `ConfigError` met while Click parses options, shown as `collect.cli` would."""

    exit_code = EXIT_CONFIG

    def __init__(self, error: ConfigError) -> None:
        message = str(error)
        if error.hint:
            message += f" (fix: {error.hint})"
        super().__init__(message)


def loaded_config(ctx: click.Context) -> dict[str, Any]:
    """The config file `--config` loaded for this context, or `{}` if none."""
    return ctx.meta.get(_META_KEY, {})


def export_credentials(
    config: Mapping[str, Any], environ: MutableMapping[str, str] = os.environ
) -> list[str]:
    """Put the file's credentials in the environment where it has none.

    The environment wins over the file; worker processes inherit the result. Returns
    the names of the variables set.
    """
    exported = []
    for key, value in config.get("credentials", {}).items():
        name = CREDENTIAL_ENV[key]
        if not environ.get(name):
            environ[name] = value
            exported.append(name)
    return exported


# -- what is in effect --------------------------------------------------------------


def mask_secret(value: str | None) -> str:
    """`****` and the last two characters; short secrets show nothing of themselves."""
    if not value:
        return NOT_SET
    return "****" + value[-2:] if len(value) >= 8 else "****"


def effective_settings(
    ctx: click.Context, environ: Mapping[str, str] = os.environ
) -> list[Setting]:
    """Every option of the parsed command, then the credentials, with their sources.

    Hidden options are listed only when something other than their default set them.
    """
    settings = []
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        key = param.name or ""
        if key != "config" and key not in ctx.params:
            continue
        source = ctx.get_parameter_source(key)
        name = SOURCE_NAMES.get(source, "default") if source else "default"
        if param.hidden and name == "default":
            continue
        value = _config_path(ctx) if key == "config" else ctx.params[key]
        settings.append(Setting(_dashed(param), value, name))
    return settings + credential_settings(loaded_config(ctx), environ)


def credential_settings(
    config: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> list[Setting]:
    """The credentials in effect, the secret ones masked; the environment wins."""
    from_file = config.get("credentials", {})
    settings = []
    for key, name in CREDENTIAL_ENV.items():
        if environ.get(name):
            value, source = environ[name], "environment"
        elif key in from_file:
            value, source = from_file[key], "config file"
        else:
            value, source = None, "default"
        shown = mask_secret(value) if key in SECRET_KEYS else value or NOT_SET
        settings.append(Setting(f"credentials.{key}", shown, source))
    return settings


def _config_path(ctx: click.Context) -> str | None:
    return loaded_config(ctx).get("path")


def _dashed(param: click.Parameter) -> str:
    return (param.name or "").replace("_", "-")


# -- collect config -----------------------------------------------------------------


@click.command(
    "config",
    context_settings={"ignore_unknown_options": True},
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per setting.")
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED, metavar="[RUN OPTIONS]")
@click.pass_context
def config_command(
    ctx: click.Context, as_json: bool, run_args: tuple[str, ...]
) -> None:
    """Show the settings `collect run` would use and where each comes from.

    RUN OPTIONS are options of `collect run`, --config included; each value
    comes from the command line, the environment (COLLECT_<OPTION>), the
    config file or the default, in that order. Secrets are masked.
    """
    run_command = _sibling_command(ctx, "run")
    with _parsed_context(ctx, run_command, run_args) as run_ctx:
        settings = effective_settings(run_ctx)
    for line in format_settings(settings, as_json=as_json):
        click.echo(line)


def _sibling_command(ctx: click.Context, name: str) -> click.Command:
    group = ctx.parent.command if ctx.parent else None
    command = group.get_command(ctx, name) if isinstance(group, click.Group) else None
    if command is None:
        raise click.UsageError(f"`collect config` needs the `{name}` command beside it")
    return command


def _parsed_context(
    ctx: click.Context, command: click.Command, args: tuple[str, ...]
) -> click.Context:
    # Required arguments (the categories) are not settings; a placeholder after
    # `--` satisfies them without touching how the options parse.
    placeholders = [
        "_"
        for param in command.params
        if isinstance(param, click.Argument) and param.required
        for _ in range(max(param.nargs, 1))
    ]
    return command.make_context(
        command.name, [*args, "--", *placeholders], parent=ctx.parent
    )


def format_settings(settings: list[Setting], *, as_json: bool = False) -> list[str]:
    """`key = value   # source` lines in sections, or one JSON object per setting."""
    if as_json:
        return [_json_line(setting) for setting in settings]
    # Aligned comments, except after a value too long to align with (a path).
    width = min(ALIGN_MAX, max((len(_assignment(s)) for s in settings), default=0))
    lines, section = [], ""
    for setting in settings:
        this_section = "credentials" if "." in setting.key else "run"
        if this_section != section:
            lines.append(f"[{this_section}]")
            section = this_section
        lines.append(f"{_assignment(setting):<{width}}   # {setting.source}")
    return lines


def _assignment(setting: Setting) -> str:
    key = setting.key.split(".", 1)[-1]
    return f"{key} = {_toml_literal(setting.value)}"


def _json_line(setting: Setting) -> str:
    value = setting.value
    if not isinstance(value, str | int | float | bool | None):
        value = str(value)
    row = {"key": setting.key, "value": value, "source": setting.source}
    return orjson.dumps(row).decode()


def _toml_literal(value: Any) -> str:
    """How a value reads in a TOML file; a value TOML cannot hold reads (not set)."""
    if value is None or value == NOT_SET:
        return NOT_SET
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple | dict):
        return str(value)
    return orjson.dumps(str(value)).decode()
