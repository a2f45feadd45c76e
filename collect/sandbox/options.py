"""Turn the command line's fault spec (`5xx=0.2,429=0.1`) into a SandboxConfig."""

from __future__ import annotations

from typing import Any

from collect.errors import ConfigError
from collect.sandbox.server import SandboxConfig

# Spec key -> SandboxConfig field. Rates are shares of requests, from 0 to 1.
FAULT_KEYS = {
    "429": "rate_429",
    "5xx": "rate_5xx",
    "timeout": "rate_timeout",
    "faulted": "rate_faulted",
    "block": "rate_block",
    "malformed": "rate_malformed",
    "truncated": "rate_truncated",
    "retry-after": "retry_after_share",
    "rps": "rate_limit_rps",
    "token-ttl": "token_ttl_s",
}


def parse_fault_spec(spec: str) -> dict[str, float]:
    """`5xx=0.2,429=0.1` -> {"rate_5xx": 0.2, "rate_429": 0.1}."""
    values: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, raw = part.partition("=")
        field = FAULT_KEYS.get(key.strip())
        if not sep or field is None:
            raise ConfigError(
                f"bad fault {part!r}",
                hint=f"write KEY=VALUE with KEY one of {', '.join(FAULT_KEYS)}",
            )
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"bad fault {part!r}: {raw!r} is not a number") from None
        if value < 0 or (
            field.startswith(("rate_", "retry"))
            and field != "rate_limit_rps"
            and value > 1
        ):
            raise ConfigError(f"bad fault {part!r}: rates go from 0 to 1")
        values[field] = value
    return values


def sandbox_config(spec: str, **fields: Any) -> SandboxConfig:
    """A SandboxConfig from a fault spec plus explicit fields (None means default)."""
    given = {name: value for name, value in fields.items() if value is not None}
    return SandboxConfig(**given, **parse_fault_spec(spec))
