"""Configuration of the offload sender: `[pipeline.offload]` and `[sender]`.

`[pipeline.offload]` is exactly DataKit's section (wire.md c.1):

    [pipeline.offload]
    receiver  = "ploffload"          # or "datakit-http"
    addresses = ["grpc://10.0.0.2:9530", "http://10.0.0.3:9529"]

DataKit's environment variables win over the file (and over OFFLOAD_AGENT_*):
`ENV_PIPELINE_OFFLOAD_RECEIVER` sets `receiver`; `ENV_PIPELINE_OFFLOAD_ADDRESSES`
sets `addresses`, split on `,` (we also strip blanks around each part, which
upstream does not). When addresses are given and `receiver` is left empty, the
receiver defaults to `datakit-http`, as in DataKit.

Transport per address (DESIGN.md): with `ploffload`, `grpc://` (or `grpcs://`, TLS)
uses our gRPC service and `http(s)://` posts protobuf points to
`/v1/write/ploffload/logging`; with `datakit-http`, `http(s)://` posts line protocol
to `/v1/write/logging`. Only scheme and host:port of an address are used; a path
or query is rejected rather than silently ignored (upstream ignores it).

`[sender]` tunes the sender; every key has a default (see `SenderConfig`).
Errors are `ConfigError`s whose `key` is the dotted path of the bad key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from offload.errors import ConfigError

__all__ = [
    "RECEIVER_KINDS",
    "Address",
    "OffloadConfig",
    "SenderConfig",
    "parse_offload",
    "parse_sender",
    "apply_datakit_env",
    "check_token",
    "OFFLOAD_KEYS",
    "SENDER_KEYS",
]

RECEIVER_KINDS = ("ploffload", "datakit-http")
_SCHEMES = {"ploffload": ("grpc", "grpcs", "http", "https"), "datakit-http": ("http", "https")}
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Dotted keys these sections accept (for the OFFLOAD_AGENT_* environment rule and unknown-key checks).
OFFLOAD_KEYS = ("pipeline.offload.receiver", "pipeline.offload.addresses")
SENDER_KEYS = (
    "sender.batch_size",
    "sender.queue_batches",
    "sender.concurrency",
    "sender.spill_dir",
    "sender.spill_max_bytes",
    "sender.timeout",
    "sender.token",
    "sender.compression",
    "sender.eject_base",
    "sender.eject_max",
    "sender.give_up_after",
    "sender.tls_ca",
)

# Batch sizes (lines per batch). A gRPC call costs the host about 1 ms of CPU
# (grpc's own work, measured against a real receiver) whatever its size, so bigger
# batches are cheaper per line. Agent CPU to tail and offload 200,000 nginx lines
# (tests/benchmarks/bench_agent.py): 0.70 s at 1024 lines a batch, 0.50 s at 2048;
# `send` of the same file: 1.0-1.1 s at 512, 0.80-0.87 s at 1024, 0.71-0.84 s at 2048
# (0.45 s of start-up included). Over HTTP we keep DataKit's 128 so that a real
# DataKit receiver sees the requests it knows.
DEFAULT_BATCH_GRPC = 2048
DEFAULT_BATCH_HTTP = 128


@dataclass(frozen=True)
class Address:
    """One receiver address: `scheme://host:port` and the transport it implies."""

    url: str
    scheme: str
    host: str
    port: int
    receiver: str  # "ploffload" | "datakit-http"

    @property
    def transport(self) -> str:
        """"grpc", "http-ploffload" or "http-datakit"."""
        if self.scheme in ("grpc", "grpcs"):
            return "grpc"
        return "http-ploffload" if self.receiver == "ploffload" else "http-datakit"

    @property
    def tls(self) -> bool:
        return self.scheme in ("grpcs", "https")

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class OffloadConfig:
    """`[pipeline.offload]`: disabled when `receiver` is empty."""

    receiver: str = ""
    addresses: tuple[Address, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.receiver and self.addresses)

    @property
    def all_grpc(self) -> bool:
        return all(a.transport == "grpc" for a in self.addresses)


@dataclass(frozen=True)
class SenderConfig:
    """`[sender]`. `batch_size` 0 means "pick by transport" (see DEFAULT_BATCH_*)."""

    batch_size: int = 0
    queue_batches: int = 64  # batches waiting in memory; beyond this the inputs are pushed back
    concurrency: int = 0  # batches in flight; 0 = 4 per address, at least 8
    spill_dir: str = ""  # overflow of non-replayable batches (HTTP API, stdin) goes here
    spill_max_bytes: int = 1 << 30
    timeout: float = 10.0  # seconds per request (connect + send + ack)
    token: str = ""  # workspace token the receivers write results with
    compression: str = "none"  # "none" | "gzip" (gRPC and datakit-http; never for HTTP ploffload)
    eject_base: float = 0.5  # first ejection of a failing receiver, doubled per failure
    eject_max: float = 30.0
    give_up_after: float = 60.0  # `send` only: fail what is left after every receiver was down this long
    # PEM file of the CA(s) that sign the receivers' certificates, for grpcs:// and https://
    # addresses; empty = the system's trust store (a private CA is the usual case in a cluster).
    tls_ca: str = ""

    def resolved_batch_size(self, offload: OffloadConfig) -> int:
        if self.batch_size:
            return self.batch_size
        return DEFAULT_BATCH_GRPC if offload.addresses and offload.all_grpc else DEFAULT_BATCH_HTTP

    def resolved_concurrency(self, offload: OffloadConfig) -> int:
        if self.concurrency:
            return self.concurrency
        return max(8, 4 * len(offload.addresses))


def apply_datakit_env(offload_table: dict[str, Any], environ: Mapping[str, str] | None = None) -> None:
    """Apply ENV_PIPELINE_OFFLOAD_RECEIVER / _ADDRESSES to a raw `[pipeline.offload]` table in place."""
    env = os.environ if environ is None else environ
    receiver = env.get("ENV_PIPELINE_OFFLOAD_RECEIVER")
    addresses = env.get("ENV_PIPELINE_OFFLOAD_ADDRESSES")
    if receiver:
        offload_table["receiver"] = receiver
    if addresses:
        offload_table["addresses"] = [a.strip() for a in addresses.split(",") if a.strip()]
        if not offload_table.get("receiver"):
            offload_table["receiver"] = "datakit-http"


def parse_address(raw: Any, receiver: str, key: str) -> Address:
    """Parse one address; `key` is the dotted key used in errors."""
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError(key, f"expected a URL string such as grpc://10.0.0.2:9530, got {raw!r}")
    text = raw.strip()
    if "://" not in text:
        raise ConfigError(key, f"{text!r} has no scheme: write it as grpc://{text} or http://{text}")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    allowed = _SCHEMES[receiver]
    if scheme not in allowed:
        hint = " (gRPC needs receiver = \"ploffload\")" if scheme in ("grpc", "grpcs") else ""
        raise ConfigError(key, f"{text!r}: scheme {scheme!r} is not usable with receiver {receiver!r}; "
                               f"use one of {', '.join(s + '://' for s in allowed)}{hint}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(key, f"{text!r}: bad port ({exc})") from None
    host = parts.hostname or ""
    if not host:
        raise ConfigError(key, f"{text!r} has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(key, f"{text!r}: give only scheme://host:port (the path is chosen by the receiver kind)")
    if port is None:
        if scheme not in _DEFAULT_PORTS:
            raise ConfigError(key, f"{text!r} needs a port (e.g. {scheme}://{host}:9530)")
        port = _DEFAULT_PORTS[scheme]
    shown_host = f"[{host}]" if ":" in host else host
    return Address(url=f"{scheme}://{shown_host}:{port}", scheme=scheme, host=host, port=port, receiver=receiver)


def parse_offload(table: Mapping[str, Any] | None, prefix: str = "pipeline.offload") -> OffloadConfig:
    """Validate a raw `[pipeline.offload]` table (DataKit env already applied)."""
    if not table:
        return OffloadConfig()
    if not isinstance(table, Mapping):
        raise ConfigError(prefix, "expected a table")
    unknown = sorted(set(table) - {"receiver", "addresses"})
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]}", "unknown key (known: receiver, addresses)")
    receiver = table.get("receiver", "")
    addresses = table.get("addresses", [])
    if not isinstance(receiver, str):
        raise ConfigError(f"{prefix}.receiver", f"expected a string, got {receiver!r}")
    receiver = receiver.strip()
    if isinstance(addresses, str):
        addresses = [addresses]
    if not isinstance(addresses, list):
        raise ConfigError(f"{prefix}.addresses", f"expected a list of URLs, got {addresses!r}")
    if not receiver and addresses:
        receiver = "datakit-http"  # DataKit's default when only addresses are given
    if not receiver:
        return OffloadConfig()
    if receiver not in RECEIVER_KINDS:
        raise ConfigError(f"{prefix}.receiver",
                          f"unknown receiver kind {receiver!r} (expected \"ploffload\" or \"datakit-http\")")
    if not addresses:
        raise ConfigError(f"{prefix}.addresses", f"empty list: receiver {receiver!r} needs at least one address")
    parsed: list[Address] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(addresses):
        addr = parse_address(raw, receiver, f"{prefix}.addresses[{i}]")
        if addr.url in seen:
            raise ConfigError(f"{prefix}.addresses[{i}]", f"{addr.url} is listed twice (also at [{seen[addr.url]}])")
        seen[addr.url] = i
        parsed.append(addr)
    return OffloadConfig(receiver=receiver, addresses=tuple(parsed))


def check_token(token: str) -> str | None:
    """DataKit's token shape check (wire.md g); returns the problem or None."""
    parts = token.split("_")
    if len(parts) != 2:
        return "expected <prefix>_<secret> (tkn_ + 32 characters)"
    prefix, secret = parts
    want = {"tkn": 32, "token": 32, "tokn": 24}.get(prefix)
    if want is None:
        return f"unknown prefix {prefix!r} (expected tkn, token or tokn)"
    if len(secret.encode()) != want:
        return f"{prefix}_ needs {want} characters after the '_', got {len(secret.encode())}"
    return None


def _number(table: Mapping[str, Any], name: str, default, kind, lo, hi, prefix: str):
    value = table.get(name, default)
    key = f"{prefix}.{name}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise ConfigError(key, f"expected {'an integer' if kind is int else 'a number'}, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(key, f"{value!r} is out of range [{lo}, {hi}]")
    return kind(value)


def _pem_problem(path: str) -> str | None:
    """Why `path` cannot serve as a CA bundle, or None."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return f"cannot read {path!r}: {exc.strerror or exc}"
    if b"-----BEGIN CERTIFICATE-----" not in data:
        return f"{path!r} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    return None


def parse_sender(table: Mapping[str, Any] | None, prefix: str = "sender") -> SenderConfig:
    """Validate a raw `[sender]` table."""
    table = dict(table or {})
    known = {k.split(".", 1)[1] for k in SENDER_KEYS}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(known))})")
    d = SenderConfig()
    spill_dir = table.get("spill_dir", d.spill_dir)
    token = table.get("token", d.token)
    compression = table.get("compression", d.compression)
    tls_ca = table.get("tls_ca", d.tls_ca)
    for name, value in (("spill_dir", spill_dir), ("token", token), ("compression", compression),
                        ("tls_ca", tls_ca)):
        if not isinstance(value, str):
            raise ConfigError(f"{prefix}.{name}", f"expected a string, got {value!r}")
    if token and (problem := check_token(token)):
        raise ConfigError(f"{prefix}.token", f"not a workspace token: {problem}")
    if compression not in ("none", "gzip"):
        raise ConfigError(f"{prefix}.compression", f"{compression!r}: expected \"none\" or \"gzip\"")
    if tls_ca:
        problem = _pem_problem(tls_ca)
        if problem:
            raise ConfigError(f"{prefix}.tls_ca", problem)
    cfg = SenderConfig(
        batch_size=_number(table, "batch_size", d.batch_size, int, 0, 100_000, prefix),
        queue_batches=_number(table, "queue_batches", d.queue_batches, int, 1, 1_000_000, prefix),
        concurrency=_number(table, "concurrency", d.concurrency, int, 0, 1024, prefix),
        spill_dir=spill_dir,
        spill_max_bytes=_number(table, "spill_max_bytes", d.spill_max_bytes, int, 1, 1 << 50, prefix),
        timeout=_number(table, "timeout", d.timeout, float, 0.001, 3600, prefix),
        token=token,
        compression=compression,
        eject_base=_number(table, "eject_base", d.eject_base, float, 0.001, 3600, prefix),
        eject_max=_number(table, "eject_max", d.eject_max, float, 0.001, 86400, prefix),
        give_up_after=_number(table, "give_up_after", d.give_up_after, float, 0, 86400 * 365, prefix),
        tls_ca=tls_ca,
    )
    if cfg.eject_max < cfg.eject_base:
        raise ConfigError(f"{prefix}.eject_max", f"must be >= eject_base ({cfg.eject_base})")
    return cfg
