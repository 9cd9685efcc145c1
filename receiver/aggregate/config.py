"""The aggregate endpoint's configuration: Dataway's top-level `aggregator_*` keys and `DW_AGGREGATOR_*`.

    aggregator_mode = "standalone"     # or "proxy"; "" means proxy      env DW_AGGREGATOR_MODE
    aggregator_endpoint = ["http://dataway-0:9528"]                      env DW_AGGREGATOR_ENDPOINTS (a,b,c)
    aggregator_tolerance = "10s"       # Go duration or seconds; whole seconds kept  env DW_AGGREGATOR_TOLERANCE

A non-empty environment variable wins over the file. With the mode and the endpoints
both empty the feature is off (`enabled` is False, the route is not mounted). Proxy mode
without endpoints is a `ConfigError` naming `aggregator_endpoint`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from offload.errors import ConfigError

__all__ = ["AggregateConfig", "parse_duration"]

SECOND = 1_000_000_000
DEFAULT_TOLERANCE = "10s"

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": SECOND,
          "m": 60 * SECOND, "h": 3600 * SECOND}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(value: Any, key: str) -> int:
    """A Go duration string ("10s", "1m30s", "500ms") or a number of seconds (as the rest of the
    receiver config reads durations), as nanoseconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(key, f"must be a duration such as \"10s\", not {value!r}")
    if isinstance(value, (int, float)):
        return int(value * SECOND)
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if body == "0":
        return 0
    pos, total = 0, 0
    while body and pos < len(body):
        m = _PART.match(body, pos)
        if m is None:
            break
        number, unit = m.groups()
        whole, _, frac = number.partition(".")
        scale = _UNITS[unit]
        total += int(whole or 0) * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        pos = m.end()
    if not body or pos != len(body):
        raise ConfigError(key, f"invalid duration {value!r} (expected Go form such as \"10s\", \"1m30s\")")
    return sign * total


@dataclass(frozen=True)
class AggregateConfig:
    """The validated aggregate settings; `mode` is "standalone", "proxy" or "" (off)."""

    mode: str = ""
    endpoints: tuple[str, ...] = ()
    tolerance_ns: int = 10 * SECOND

    @property
    def enabled(self) -> bool:
        return bool(self.mode)

    @property
    def standalone(self) -> bool:
        return self.mode == "standalone"

    @property
    def proxy(self) -> bool:
        return self.mode == "proxy"

    @property
    def tolerance_s(self) -> int:
        """The expiry tolerance E in whole seconds (truncated, spec §4.2)."""
        return int(self.tolerance_ns // SECOND) if self.tolerance_ns >= 0 else 0

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], environ: Mapping[str, str]) -> "AggregateConfig":
        """Read the top-level keys of the receiver config, then let DW_AGGREGATOR_* win."""
        mode_raw = data.get("aggregator_mode", "")
        endpoints_raw = data.get("aggregator_endpoint", [])
        tolerance_raw = data.get("aggregator_tolerance", DEFAULT_TOLERANCE)
        if environ.get("DW_AGGREGATOR_MODE", "").strip():
            mode_raw = environ["DW_AGGREGATOR_MODE"]
        if environ.get("DW_AGGREGATOR_ENDPOINTS", "").strip():
            endpoints_raw = [e for e in environ["DW_AGGREGATOR_ENDPOINTS"].split(",")]
        if environ.get("DW_AGGREGATOR_TOLERANCE", "").strip():
            tolerance_raw = environ["DW_AGGREGATOR_TOLERANCE"]

        if mode_raw is None:
            mode_raw = ""
        if not isinstance(mode_raw, str):
            raise ConfigError("aggregator_mode", f"must be \"standalone\" or \"proxy\", not {mode_raw!r}")
        mode = mode_raw.strip().lower()
        if mode not in ("", "standalone", "proxy"):
            raise ConfigError("aggregator_mode", f"must be \"standalone\" or \"proxy\", not {mode_raw!r}")

        if isinstance(endpoints_raw, str):
            endpoints_raw = endpoints_raw.split(",")
        if not isinstance(endpoints_raw, (list, tuple)):
            raise ConfigError("aggregator_endpoint", f"must be a list of URLs, not {endpoints_raw!r}")
        endpoints = []
        for raw in endpoints_raw:
            if not isinstance(raw, str):
                raise ConfigError("aggregator_endpoint", f"must be a list of URLs, not {raw!r}")
            url = raw.strip().rstrip("/")
            if not url:
                continue
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError("aggregator_endpoint", f"{raw!r} is not an http(s) base URL")
            endpoints.append(url)

        tolerance = parse_duration(tolerance_raw, "aggregator_tolerance")
        if tolerance < 0:
            raise ConfigError("aggregator_tolerance", "must not be negative")

        if not mode and not endpoints:
            return cls("", (), tolerance)
        if not mode:
            mode = "proxy"  # Dataway: an empty mode with endpoints means proxy
        if mode == "proxy" and not endpoints:
            raise ConfigError("aggregator_endpoint", "proxy mode needs at least one endpoint "
                              "(set aggregator_endpoint or DW_AGGREGATOR_ENDPOINTS)")
        return cls(mode, tuple(endpoints), tolerance)
