"""`DatawayConfig`: the validated `[dataway]` table (wire.md e).

Durations are seconds (a number) or Go-style strings ("200ms", "30s", "12h", "1m30s");
sizes are bytes. Every problem raises `offload.errors.ConfigError` whose key is the
dotted path (`dataway.retry_delay`), so the programs can point at the bad line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qs, urlsplit

from offload.dataway.body import GZIP_LEVEL
from offload.dataway.endpoint import check_token
from offload.errors import ConfigError

__all__ = ["DatawayConfig", "DEFAULT_URL", "apply_datakit_env", "parse_duration"]

# Where points go when no Dataway is configured: JSON lines next to the working directory.
DEFAULT_URL = "file://data/dataway-out.jsonl"

_ENCODINGS = {"v2": "protobuf", "protobuf": "protobuf", "v1": "line-protocol", "line-protocol": "line-protocol"}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any, key: str) -> float:
    """Seconds from a number or a Go duration string; ConfigError naming `key` otherwise."""
    if isinstance(value, bool):
        raise ConfigError(key, f"expected seconds or a duration like '30s', got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        pos, total = 0, 0.0
        for m in _DURATION_PART.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
            pos = m.end()
        if text and pos == len(text):
            return total
    raise ConfigError(key, f"expected seconds or a duration like '30s', got {value!r}")


@dataclass
class DatawayConfig:
    """Where and how the writer sends points; see examples/receiver.toml for every key."""

    urls: list[str] = field(default_factory=lambda: [DEFAULT_URL])
    content_encoding: str = "v2"  # "v2"/"protobuf" or "v1"/"line-protocol"
    gzip: bool = True
    gzip_level: int = GZIP_LEVEL  # see body.GZIP_LEVEL for why not Go's 6
    max_raw_body_size: int = 1 << 20
    timeout: float = 30.0
    retry_delay: float = 1.0
    max_retry_delay: float = 30.0
    wal_dir: str | Path | None = "data/wal"  # None: in-memory queue (bounded, lost on exit; for tests)
    wal_max_bytes: int = 2 << 30
    max_body_age: float = 12 * 3600.0
    workers: int = 4  # concurrent requests per endpoint; 1 delivers strictly in write order
    proxy: str | None = None  # http(s) proxy URL for Dataway requests; the environment is not consulted
    section: str = field(default="dataway", repr=False, compare=False)  # key prefix in error messages

    KEYS = (
        "urls", "content_encoding", "gzip", "gzip_level", "max_raw_body_size", "timeout", "retry_delay",
        "max_retry_delay", "wal_dir", "wal_max_bytes", "max_body_age", "workers", "proxy",
        # DataKit's own spellings, so a [dataway] table copied from datakit.conf loads:
        "timeout_v2", "http_proxy", "drop_expired_package_at", "max_retry_count",
    )

    def __post_init__(self) -> None:
        k = self._key
        if isinstance(self.urls, str):
            self.urls = [u.strip() for u in self.urls.split(",") if u.strip()]
        if not isinstance(self.urls, (list, tuple)) or not all(isinstance(u, str) for u in self.urls):
            raise ConfigError(k("urls"), "expected a list of URL strings")
        self.urls = list(self.urls)
        if not self.urls:
            raise ConfigError(k("urls"), "needs at least one http(s):// or file:// URL")
        for url in self.urls:
            _check_url(url, k("urls"))
        enc = _ENCODINGS.get(str(self.content_encoding).strip().lower())
        if enc is None:
            raise ConfigError(k("content_encoding"),
                              f"expected v1/line-protocol or v2/protobuf, got {self.content_encoding!r}")
        self.content_encoding = enc
        if not isinstance(self.gzip, bool):
            raise ConfigError(k("gzip"), f"expected true or false, got {self.gzip!r}")
        self.gzip_level = _int(self.gzip_level, k("gzip_level"), minimum=1)
        if self.gzip_level > 9:
            raise ConfigError(k("gzip_level"), f"must be 1..9, got {self.gzip_level}")
        self.max_raw_body_size = _int(self.max_raw_body_size, k("max_raw_body_size"), minimum=1024)
        self.wal_max_bytes = _int(self.wal_max_bytes, k("wal_max_bytes"), minimum=1)
        self.workers = _int(self.workers, k("workers"), minimum=1)
        for name in ("timeout", "retry_delay", "max_retry_delay", "max_body_age"):
            seconds = parse_duration(getattr(self, name), k(name))
            if seconds <= 0:
                raise ConfigError(k(name), f"must be positive, got {getattr(self, name)!r}")
            setattr(self, name, seconds)
        if self.max_retry_delay < self.retry_delay:
            raise ConfigError(k("max_retry_delay"), f"must be >= retry_delay ({self.retry_delay}s)")
        if self.wal_dir is not None:
            if not isinstance(self.wal_dir, (str, Path)) or not str(self.wal_dir).strip():
                raise ConfigError(k("wal_dir"), f"expected a directory path, got {self.wal_dir!r}")
            self.wal_dir = Path(self.wal_dir)
        if self.proxy is not None and not (isinstance(self.proxy, str) and urlsplit(self.proxy).scheme):
            raise ConfigError(k("proxy"), f"expected a proxy URL, got {self.proxy!r}")

    def __repr__(self) -> str:
        # Tokens stay out of logs: the URLs are shown with their token masked.
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr and f.name != "urls")
        return f"DatawayConfig(urls={[_mask(u) for u in self.urls]!r}, {shown})"

    def _key(self, name: str) -> str:
        return f"{self.section}.{name}" if self.section else name

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any] | None, section: str = "dataway") -> "DatawayConfig":
        """Build from a parsed `[dataway]` TOML table; unknown keys are errors."""
        table = dict(table or {})
        known = {f.name for f in fields(cls)} & set(cls.KEYS)
        for key in list(table):
            where = f"{section}.{key}" if section else key
            if key in _IGNORED:
                del table[key]  # we retry until max_body_age instead of a fixed count
            elif key in _ALIASES:
                if _ALIASES[key] in table:
                    raise ConfigError(where, f"set either {key} or {_ALIASES[key]}, not both")
                table[_ALIASES[key]] = table.pop(key)
            elif key not in known:
                raise ConfigError(where, f"unknown key (known: {', '.join(cls.KEYS)})")
        return cls(section=section, **table)


_ALIASES = {"timeout_v2": "timeout", "http_proxy": "proxy", "drop_expired_package_at": "max_body_age"}
_IGNORED = {"max_retry_count"}


def _mask(url: str) -> str:
    return re.sub(r"(token=)([^&]{4})[^&]*", r"\1\2...", url)


def _int(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ConfigError(key, f"expected an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(key, f"must be >= {minimum}, got {value}")
    return value


def _check_url(url: str, key: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not (parts.netloc + parts.path):
            raise ConfigError(key, f"file URL without a path: {url!r}")
        return
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(key, f"expected http(s)://host[:port]?token=... or file://PATH, got {_mask(url)!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(key, f"bad port in {_mask(url)!r}") from exc
    token = parse_qs(parts.query).get("token", [None])[-1]
    if token is not None:
        problem = check_token(token)
        if problem:
            raise ConfigError(key, f"{problem} in {url!r}")


def _gib(value: str) -> int:
    return int(float(value) * (1 << 30))


def _url_list(value: str) -> list[str]:
    return [u.strip() for u in value.split(",") if u.strip()]


# DataKit's own environment variables for the Dataway client (wire.md e) -> our [dataway] keys.
_DATAKIT_ENV = {
    "ENV_DATAWAY": ("urls", _url_list),
    "ENV_DATAWAY_CONTENT_ENCODING": ("content_encoding", str),
    "ENV_DATAWAY_MAX_RAW_BODY_SIZE": ("max_raw_body_size", int),
    "ENV_DATAWAY_TIMEOUT": ("timeout", str),
    "ENV_DATAWAY_RETRY_DELAY": ("retry_delay", str),
    "ENV_DATAWAY_DROP_EXPIRED_PACKAGE_AT": ("max_body_age", str),
    "ENV_DATAWAY_WAL_CAPACITY": ("wal_max_bytes", _gib),  # GiB, as DataKit's max_capacity_gb
    "ENV_DATAWAY_HTTP_PROXY": ("proxy", str),
}


def apply_datakit_env(table: dict[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Set `[dataway]` keys from DataKit's ENV_DATAWAY* variables (they win over file and our
    own variables); returns the variable names applied. A bad value raises ConfigError naming it."""
    applied = []
    for name, (key, convert) in _DATAKIT_ENV.items():
        raw = environ.get(name)
        if raw is None or raw.strip() == "":
            continue
        try:
            table[key] = convert(raw.strip())
        except ValueError as exc:
            raise ConfigError(name, f"cannot read {raw!r}: {exc}") from exc
        applied.append(name)
    return applied
