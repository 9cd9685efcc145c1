"""One rule for setting any config key from the environment.

For a program whose prefix is P (`OFFLOAD_RECEIVER` or `OFFLOAD_AGENT`), the
environment variable `P_<PATH>` sets the key whose dotted TOML path, upper-cased
with every `.` written as `__`, is PATH:

    OFFLOAD_RECEIVER_HTTP__LISTEN=0.0.0.0:9529          -> [http] listen
    OFFLOAD_RECEIVER_DATAWAY__URLS='["http://dw:9528?token=tkn_x"]'
    OFFLOAD_RECEIVER_AGGREGATOR_TOLERANCE=5s            -> top-level aggregator_tolerance
    OFFLOAD_AGENT_PIPELINE__OFFLOAD__ADDRESSES=grpc://a:9530,grpc://b:9530

The value is read as a TOML value when it parses as one (`123`, `true`,
`["a", "b"]`, `"quoted"`), else as a plain string; a plain string for a key whose
current value is a list is split on commas. Key names are matched
case-insensitively against the keys the program knows (`known`), so an unknown
variable is reported instead of silently ignored. Environment values win over the
file; DataKit's own variables (ENV_DATAWAY, ENV_HTTP_LISTEN, ...) are applied
after this rule by each program and win over both.
"""

from __future__ import annotations

import tomllib
from typing import Any, Iterable, Mapping

from offload.errors import ConfigError

__all__ = ["apply_env", "parse_env_value"]


def parse_env_value(raw: str, current: Any = None) -> Any:
    """Read one environment value as TOML, falling back to a string (or a comma list)."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    if isinstance(current, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def apply_env(data: dict[str, Any], prefix: str, environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """Set keys of `data` (nested dicts) from `environ` per the rule above; return the dotted keys set.

    `known` lists the dotted key paths the program accepts; a variable with the
    prefix that names no known key raises ConfigError naming the variable.
    """
    by_env = {f"{prefix}_{path.upper().replace('.', '__')}": path for path in known}
    applied = []
    for name, raw in environ.items():
        if not name.startswith(prefix + "_"):
            continue
        path = by_env.get(name.upper())
        if path is None:
            raise ConfigError(name, f"unknown setting (known: {', '.join(sorted(by_env))})")
        node = data
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(path, f"cannot set from {name}: {part} is not a table")
        node[leaf] = parse_env_value(raw, node.get(leaf))
        applied.append(path)
    return applied
