"""The receiver's configuration: one validated object built from TOML, then the environment.

Order of precedence (later wins): built-in defaults, the TOML file, the generic
`OFFLOAD_RECEIVER_<PATH>` variables (offload.envconfig), then DataKit's own
variables `ENV_DATAWAY` (comma-separated Dataway URLs -> [dataway] urls) and
`ENV_HTTP_LISTEN` (-> [http] listen). Dataway's `DW_AGGREGATOR_*` variables are
applied by the aggregate config itself.

Every error is an `offload.errors.ConfigError` whose `key` is the dotted path of
the offending key. The `[dataway]` table is validated by the Dataway writer's own
config (`offload.dataway.DatawayConfig`); the receiver only fills in its defaults
(`file://./data/out.jsonl`, WAL in `./data/wal`) so that `serve` works with no file.

`ReceiverConfig.describe()` is the effective config with every secret masked
(tokens in URLs, auth tokens): the daemon logs it once at start-up.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from offload.envconfig import apply_env
from offload.errors import ConfigError

__all__ = [
    "AuthSettings", "GRPCSettings", "HTTPSettings", "PipelineSettings", "ReceiverConfig",
    "ShutdownSettings", "WorkerSettings", "load_config", "mask_secret", "mask_url",
]

ENV_PREFIX = "OFFLOAD_RECEIVER"
MiB = 1 << 20

DEFAULT_DATAWAY_URL = "file://./data/out.jsonl"
DEFAULT_WAL_DIR = "data/wal"

# The writer's keys as documented in examples/receiver.toml; the live list comes from
# DatawayConfig's fields when it is a dataclass (see _dataway_keys).
_DATAWAY_KEYS = (
    "urls", "content_encoding", "gzip", "max_raw_body_size", "timeout", "retry_delay",
    "max_retry_delay", "max_retry_count", "wal_dir", "wal_max_bytes", "max_body_age",
)
_AGGREGATOR_KEYS = ("aggregator_mode", "aggregator_endpoint", "aggregator_tolerance")


@dataclass(frozen=True)
class HTTPSettings:
    listen: str = "127.0.0.1:9529"
    max_body_bytes: int = 64 * MiB
    tls_cert: str = ""
    tls_key: str = ""
    max_connections: int = 2048

    @property
    def host(self) -> str:
        return split_listen(self.listen, "http.listen")[0]

    @property
    def port(self) -> int:
        return split_listen(self.listen, "http.listen")[1]

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)


@dataclass(frozen=True)
class GRPCSettings:
    listen: str = "127.0.0.1:9530"
    tls_cert: str = ""
    tls_key: str = ""
    max_message_bytes: int = 64 * MiB
    # How many accepted batch_ids are remembered to answer resends with DUPLICATE.
    dedup_window: int = 200_000

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert)


@dataclass(frozen=True)
class PipelineSettings:
    scripts_dir: str = "pipelines"
    budget_ms: int = 100


@dataclass(frozen=True)
class WorkerSettings:
    count: int = 0  # 0 = one per CPU core
    max_inflight_batches: int = 64
    max_inflight_bytes: int = 256 * MiB
    batch_timeout: float = 60.0
    start_method: str = "forkserver"

    @property
    def effective_count(self) -> int:
        return self.count or (os.cpu_count() or 1)


@dataclass(frozen=True)
class AuthSettings:
    tokens: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.tokens)


@dataclass(frozen=True)
class ShutdownSettings:
    # Bound on draining in-flight batches after SIGTERM, and on the final writer flush.
    drain_timeout: float = 30.0
    flush_timeout: float = 5.0


@dataclass(frozen=True)
class ReceiverConfig:
    http: HTTPSettings = field(default_factory=HTTPSettings)
    grpc: GRPCSettings = field(default_factory=GRPCSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    workers: WorkerSettings = field(default_factory=WorkerSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    shutdown: ShutdownSettings = field(default_factory=ShutdownSettings)
    log_level: str = "info"
    # The [dataway] table with the receiver's defaults filled in, and the writer's config built from it.
    dataway_table: dict[str, Any] = field(default_factory=dict)
    dataway: Any = None
    # The top-level aggregator_* keys and the aggregate endpoint's config (None: module not installed).
    aggregate_table: dict[str, Any] = field(default_factory=dict)
    aggregate: Any = None
    source: str = "<defaults>"
    env_applied: tuple[str, ...] = ()

    @property
    def wal_dir(self) -> Path:
        return Path(str(self.dataway_table.get("wal_dir") or DEFAULT_WAL_DIR))

    @property
    def default_token(self) -> str | None:
        """The token of the first Dataway URL (results of batches that carry none go there)."""
        for url in self.dataway_table.get("urls") or ():
            token = dict(parse_qsl(urlsplit(str(url)).query)).get("token")
            if token:
                return token
        return None

    def describe(self) -> dict[str, Any]:
        """The effective config as plain data, secrets masked, for the start-up log line."""
        out: dict[str, Any] = {"source": self.source}
        for name in ("http", "grpc", "pipeline", "workers", "shutdown"):
            out[name] = asdict(getattr(self, name))
        out["workers"]["effective_count"] = self.workers.effective_count
        out["auth"] = {"tokens": [mask_secret(t) for t in self.auth.tokens]}
        out["log_level"] = self.log_level
        out["dataway"] = _mask_table(self.dataway_table)
        out.update(self.aggregate_table)
        if self.env_applied:
            out["env"] = list(self.env_applied)
        return out


# -- loading ---------------------------------------------------------------------------------

_TABLES: dict[str, type] = {
    "http": HTTPSettings, "grpc": GRPCSettings, "pipeline": PipelineSettings,
    "workers": WorkerSettings, "auth": AuthSettings, "shutdown": ShutdownSettings,
}


def known_keys() -> list[str]:
    """Every dotted key the receiver accepts (for the environment rule)."""
    keys = [f"{t}.{f.name}" for t, cls in _TABLES.items() for f in fields(cls)]
    keys += [f"dataway.{k}" for k in _dataway_keys()]
    keys += ["log.level", *_AGGREGATOR_KEYS]
    return keys


def load_config(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> ReceiverConfig:
    """Read `path` (None: defaults only), apply the environment, validate; raise ConfigError."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError("--config", f"no such file: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("--config", f"{path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError("--config", f"{path}: {exc.strerror}") from None
    data = copy.deepcopy(data)
    applied = apply_env(data, ENV_PREFIX, environ, known_keys())
    # DataKit's variables win over both the file and the generic rule.
    if environ.get("ENV_DATAWAY"):
        urls = [u.strip() for u in environ["ENV_DATAWAY"].split(",") if u.strip()]
        data.setdefault("dataway", {})["urls"] = urls
        applied.append("dataway.urls (ENV_DATAWAY)")
    if environ.get("ENV_HTTP_LISTEN"):
        data.setdefault("http", {})["listen"] = environ["ENV_HTTP_LISTEN"].strip()
        applied.append("http.listen (ENV_HTTP_LISTEN)")
    return build_config(data, environ, source=source, env_applied=tuple(applied))


def build_config(data: Mapping[str, Any], environ: Mapping[str, str], *, source: str = "<mapping>",
                 env_applied: tuple[str, ...] = ()) -> ReceiverConfig:
    """Validate an already-merged mapping (file + environment) into a ReceiverConfig."""
    allowed_top = set(_TABLES) | {"dataway", "log", *_AGGREGATOR_KEYS}
    for key in data:
        if key not in allowed_top:
            raise ConfigError(key, f"unknown key (known: {', '.join(sorted(allowed_top))})")
    sections = {name: _build_table(name, cls, data.get(name, {})) for name, cls in _TABLES.items()}
    log_table = _table(data, "log")
    for key in log_table:
        if key != "level":
            raise ConfigError(f"log.{key}", "unknown key (known: level)")
    level = str(log_table.get("level", "info")).lower()
    if level not in ("debug", "info", "warning", "error"):
        raise ConfigError("log.level", f"must be debug, info, warning or error, not {level!r}")

    dataway_table = dict(_table(data, "dataway"))
    if not dataway_table.get("urls"):
        dataway_table["urls"] = [DEFAULT_DATAWAY_URL]
    dataway_table.setdefault("wal_dir", DEFAULT_WAL_DIR)
    dataway = _build_dataway(dataway_table)

    aggregate_table = {k: data[k] for k in _AGGREGATOR_KEYS if k in data}
    aggregate = _build_aggregate(dict(data), environ)

    cfg = ReceiverConfig(
        **sections, log_level=level, dataway_table=dataway_table, dataway=dataway,
        aggregate_table=aggregate_table, aggregate=aggregate, source=source, env_applied=env_applied,
    )
    _validate(cfg)
    return cfg


def _table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(name, f"must be a table, not {type(value).__name__}")
    return value


def _build_table(name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(name, f"must be a table, not {type(raw).__name__}")
    known = {f.name: f for f in fields(cls)}
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{name}.{key}", f"unknown key (known: {', '.join(known)})")
        kwargs[key] = _coerce(f"{name}.{key}", value, getattr(defaults, key))
    return cls(**kwargs)


def _coerce(key: str, value: Any, default: Any) -> Any:
    # The default's type says what the key holds; ints are accepted for floats.
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, not {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be an integer, not {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"must be a number, not {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, not {value!r}")
        return value
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(key, f"must be a list of strings, not {value!r}")
        return tuple(value)
    return value


def split_listen(listen: str, key: str) -> tuple[str, int]:
    """'host:port' (IPv6 as '[::1]:9529') -> (host, port); ConfigError naming `key`."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ConfigError(key, f"must be host:port, not {listen!r}")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ConfigError(key, f"port {port} out of range")
    host = host.strip("[]") or "0.0.0.0"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not host.replace("-", "").replace(".", "").isalnum():
            raise ConfigError(key, f"bad host {host!r}") from None
    return host, port


def _validate(cfg: ReceiverConfig) -> None:
    split_listen(cfg.http.listen, "http.listen")
    split_listen(cfg.grpc.listen, "grpc.listen")
    for name, tls in (("http", cfg.http), ("grpc", cfg.grpc)):
        if bool(tls.tls_cert) != bool(tls.tls_key):
            missing = "tls_key" if tls.tls_cert else "tls_cert"
            raise ConfigError(f"{name}.{missing}", "tls_cert and tls_key must be set together")
        for attr in ("tls_cert", "tls_key"):
            value = getattr(tls, attr)
            if value and not Path(value).is_file():
                raise ConfigError(f"{name}.{attr}", f"no such file: {value}")
    positive = {
        "http.max_body_bytes": cfg.http.max_body_bytes, "http.max_connections": cfg.http.max_connections,
        "grpc.max_message_bytes": cfg.grpc.max_message_bytes, "pipeline.budget_ms": cfg.pipeline.budget_ms,
        "workers.max_inflight_batches": cfg.workers.max_inflight_batches,
        "workers.max_inflight_bytes": cfg.workers.max_inflight_bytes,
        "workers.batch_timeout": cfg.workers.batch_timeout,
        "shutdown.drain_timeout": cfg.shutdown.drain_timeout,
        "shutdown.flush_timeout": cfg.shutdown.flush_timeout,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(key, f"must be > 0, not {value}")
    for key, size in (("http.max_body_bytes", cfg.http.max_body_bytes),
                      ("grpc.max_message_bytes", cfg.grpc.max_message_bytes)):
        if size > cfg.workers.max_inflight_bytes:
            raise ConfigError("workers.max_inflight_bytes",
                              f"must be at least {key} ({size}), or such a request could never be admitted")
    if cfg.grpc.dedup_window < 0:
        raise ConfigError("grpc.dedup_window", "must be >= 0")
    if cfg.workers.count < 0:
        raise ConfigError("workers.count", "must be >= 0 (0 = one per CPU core)")
    if cfg.workers.start_method not in ("forkserver", "spawn"):
        raise ConfigError("workers.start_method", "must be 'forkserver' or 'spawn'")
    if not cfg.pipeline.scripts_dir:
        raise ConfigError("pipeline.scripts_dir", "must not be empty")
    scripts = Path(cfg.pipeline.scripts_dir)
    if scripts.exists() and not scripts.is_dir():
        raise ConfigError("pipeline.scripts_dir", f"not a directory: {scripts}")
    for token in cfg.auth.tokens:
        if not token or token != token.strip():
            raise ConfigError("auth.tokens", "tokens must be non-empty and have no surrounding spaces")


# -- the collaborators' configs ----------------------------------------------------------------

def _dataway_keys() -> tuple[str, ...]:
    try:
        from offload.dataway import DatawayConfig
    except ImportError:
        return _DATAWAY_KEYS
    keys = getattr(DatawayConfig, "KEYS", None)
    if keys:
        return tuple(keys)
    if is_dataclass(DatawayConfig):
        return tuple(f.name for f in fields(DatawayConfig))
    return _DATAWAY_KEYS


def _build_dataway(table: dict[str, Any]) -> Any:
    try:
        from offload.dataway import DatawayConfig
    except ImportError:
        return None  # the writer is not installed yet: the daemon refuses to start, --check-config says so
    try:
        return DatawayConfig.from_mapping(table)
    except ConfigError as exc:
        key = exc.key if exc.key.startswith("dataway") else f"dataway.{exc.key}"
        raise ConfigError(key, exc.reason) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError("dataway", str(exc)) from None


def _build_aggregate(data: dict[str, Any], environ: Mapping[str, str]) -> Any:
    try:
        from receiver.aggregate import AggregateConfig
    except ImportError:  # the aggregate endpoint is optional: the daemon runs without it
        AggregateConfig = None
    if AggregateConfig is None:
        for key in _AGGREGATOR_KEYS:
            if key in data and not isinstance(data[key], (str, list)):
                raise ConfigError(key, f"must be a string or list, not {data[key]!r}")
        return None
    return AggregateConfig.from_mapping(data, environ)


# -- masking -------------------------------------------------------------------------------------

def mask_secret(secret: str) -> str:
    """Keep a recognisable prefix (`tkn_`) and hide the rest."""
    if not secret:
        return secret
    prefix = secret.split("_", 1)[0] + "_" if "_" in secret[:7] else ""
    return f"{prefix}***" if len(secret) > len(prefix) + 4 else "***"


def mask_url(url: str) -> str:
    """Hide `token=` (and any other *token*/*key*/*secret* query value) and a URL password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    query = [(k, mask_secret(v) if _secret_name(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"), parts.fragment))


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("token", "secret", "password", "key", "auth"))


def _mask_table(table: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key == "urls" and isinstance(value, list):
            out[key] = [mask_url(str(u)) for u in value]
        elif isinstance(value, str) and "://" in value:
            out[key] = mask_url(value)
        elif isinstance(value, str) and _secret_name(key):
            out[key] = mask_secret(value)
        elif isinstance(value, Mapping):
            out[key] = _mask_table(value)
        else:
            out[key] = value
    return out
