"""The agent's configuration: one validated `AgentConfig` from TOML, then the environment.

    log_level = "info"                            debug | info | warning | error (top level)
    [http]      listen = "127.0.0.1:9529"        DataKit's write API, /metrics, /v1/ping ("" = off)
    [agent]     state_dir = "data/agent"          positions.json, and the local Dataway WAL by default
    [dataway]   urls = [...], ...                 where locally processed points go (offload.dataway)
    [pipeline]  scripts_dir = "pipelines"         scripts that run here (<scripts_dir>/<name>.p)
                offloaded = ["*"]                 which scripts are offloaded (see below)
    [pipeline.offload]  receiver, addresses       DataKit's section (offload.sender.config)
    [sender]    batch_size, queue_batches, ...    (offload.sender.config.SenderConfig)
    [[inputs.file]]  paths (or path), source, pipeline, from_beginning
    [inputs.stdin]   source, pipeline
    [aggregator]     the aggregate client's table (offload/aggregate/agent_hook.py); when present,
                     points pushed to the write API and locally processed results are fed to its
                     rules engine and the pump task sends the aggregation batches

Which points are offloaded. DataKit offloads the logging points whose script comes
from its *remote* namespace (pushed from the console). Our agent has no namespaces,
so `[pipeline] offloaded` names them: a list of script names (without `.p`), or
`"*"` (or `["*"]`) for every script. It defaults to `["*"]` when
`[pipeline.offload]` is configured, and to nothing otherwise. A point's script is
its input's `pipeline`, else its `source` (for pushed points: the measurement
name). Over HTTP (ploffload and datakit-http alike) a receiver can only run the
script named after the measurement, so an input whose `pipeline` differs from
its `source` can be offloaded only to grpc:// addresses; that is a config error.

Order of precedence: the file, then `OFFLOAD_AGENT_<PATH>` variables (the
project-wide rule, offload/envconfig.py), then DataKit's variables:
`ENV_HTTP_LISTEN`, `ENV_DATAWAY` (comma-separated URLs),
`ENV_PIPELINE_OFFLOAD_RECEIVER` and `ENV_PIPELINE_OFFLOAD_ADDRESSES`.
Loop detection (offload.sender.loop) runs at load. Every error is a `ConfigError`
whose key is the dotted path of the bad key; `offload-agent check` prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from offload.dataway.config import DatawayConfig
from offload.envconfig import apply_env
from offload.errors import ConfigError
from offload.sender.config import (
    OFFLOAD_KEYS,
    SENDER_KEYS,
    OffloadConfig,
    SenderConfig,
    apply_datakit_env,
    parse_offload,
    parse_sender,
)
from offload.sender.loop import check_no_loop, parse_listen

__all__ = ["AgentConfig", "FileInput", "StdinInput", "load_config", "parse_config", "check_command", "ENV_KEYS"]

DEFAULT_LISTEN = "127.0.0.1:9529"
_DATAWAY_KEYS = DatawayConfig.KEYS
try:  # the aggregate client's keys, so OFFLOAD_AGENT_AGGREGATOR__* variables are known
    from offload.aggregate.agent_hook import AGGREGATOR_KEYS as _AGG_KEYS
except ImportError:  # pragma: no cover - a build without the aggregate client
    _AGG_KEYS = ()
ENV_KEYS = (
    *(f"aggregator.{k}" for k in sorted(_AGG_KEYS)),
    "log_level", "http.listen", "agent.state_dir", "pipeline.scripts_dir", "pipeline.offloaded",
    "inputs.stdin.source", "inputs.stdin.pipeline",
    *OFFLOAD_KEYS, *SENDER_KEYS, *(f"dataway.{k}" for k in _DATAWAY_KEYS),
)
_TOP = {"log_level", "http", "agent", "dataway", "pipeline", "sender", "inputs", "aggregator"}
_LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class FileInput:
    paths: tuple[str, ...]
    source: str
    pipeline: str = ""
    from_beginning: bool = False

    @property
    def script(self) -> str:
        return self.pipeline or self.source


@dataclass(frozen=True)
class StdinInput:
    source: str
    pipeline: str = ""

    @property
    def script(self) -> str:
        return self.pipeline or self.source


@dataclass(frozen=True)
class AgentConfig:
    http_listen: str = DEFAULT_LISTEN
    state_dir: str = "data/agent"
    dataway: Mapping[str, Any] | None = None  # the raw [dataway] table (None: not configured)
    scripts_dir: str = "pipelines"
    offload_all: bool = False
    offloaded: frozenset[str] = frozenset()
    offload: OffloadConfig = field(default_factory=OffloadConfig)
    sender: SenderConfig = field(default_factory=SenderConfig)
    files: tuple[FileInput, ...] = ()
    stdin: StdinInput | None = None
    source_path: str = ""
    log_level: str = ""  # "" = the command's default (run: info, send: warning)
    aggregator: Mapping[str, Any] | None = None  # the raw [aggregator] table (validated by its hook)

    def offloads(self, script: str) -> bool:
        """Whether points of `script` go to the receivers."""
        return self.offload.enabled and (self.offload_all or script in self.offloaded)

    @property
    def base_dir(self) -> str | None:
        """The config file's directory (relative paths of the aggregator are relative to it)."""
        return str(Path(self.source_path).parent) if self.source_path else None

    @property
    def positions_path(self) -> Path:
        return Path(self.state_dir) / "positions.json"

    def dataway_config(self):
        """The validated DatawayConfig for local results (its WAL under state_dir unless set)."""
        table = dict(self.dataway or {})
        table.setdefault("wal_dir", str(Path(self.state_dir) / "dataway-wal"))
        return DatawayConfig.from_mapping(table)


def _str(table: Mapping, name: str, key: str, default: str = "") -> str:
    value = table.get(name, default)
    if not isinstance(value, str):
        raise ConfigError(key, f"expected a string, got {value!r}")
    return value.strip()


def _table(data: Mapping, name: str, key: str | None = None) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(key or name, f"expected a table, got {value!r}")
    return value


def _unknown(table: Mapping, known: set[str], prefix: str) -> None:
    extra = sorted(set(table) - known)
    if extra:
        raise ConfigError(f"{prefix}.{extra[0]}" if prefix else extra[0],
                          f"unknown key (known: {', '.join(sorted(known))})")


def _parse_file_inputs(raw: Any) -> tuple[FileInput, ...]:
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError("inputs.file", "expected [[inputs.file]] tables")
    out = []
    for i, item in enumerate(raw):
        key = f"inputs.file[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(key, "expected a table")
        _unknown(item, {"path", "paths", "source", "pipeline", "from_beginning"}, key)
        paths = item.get("paths", [])
        if isinstance(paths, str):
            paths = [paths]
        if "path" in item:
            if not isinstance(item["path"], str):
                raise ConfigError(f"{key}.path", f"expected a string, got {item['path']!r}")
            paths = [item["path"], *paths]
        if not isinstance(paths, list) or not all(isinstance(p, str) and p.strip() for p in paths):
            raise ConfigError(f"{key}.paths", f"expected a list of file paths or globs, got {paths!r}")
        if not paths:
            raise ConfigError(f"{key}.paths", "empty list: give at least one file path or glob")
        source = _str(item, "source", f"{key}.source")
        if not source:
            raise ConfigError(f"{key}.source", "required: the measurement name (and default script name)")
        fb = item.get("from_beginning", False)
        if not isinstance(fb, bool):
            raise ConfigError(f"{key}.from_beginning", f"expected true or false, got {fb!r}")
        out.append(FileInput(paths=tuple(p.strip() for p in paths), source=source,
                             pipeline=_str(item, "pipeline", f"{key}.pipeline").removesuffix(".p"),
                             from_beginning=fb))
    return tuple(out)


def parse_config(data: dict[str, Any], environ: Mapping[str, str] | None = None, source_path: str = "",
                 check_loops: bool = True) -> AgentConfig:
    """Validate a parsed TOML document (environment applied here) into an AgentConfig."""
    env = os.environ if environ is None else environ
    apply_env(data, "OFFLOAD_AGENT", env, ENV_KEYS)
    _unknown(data, _TOP, "")
    log_level = data.get("log_level", "")
    if not isinstance(log_level, str) or (log_level and log_level.lower() not in _LOG_LEVELS):
        raise ConfigError("log_level", f"{log_level!r}: expected one of {', '.join(_LOG_LEVELS)}")
    http = _table(data, "http")
    _unknown(http, {"listen"}, "http")
    if env.get("ENV_HTTP_LISTEN"):
        http["listen"] = env["ENV_HTTP_LISTEN"]
    listen = _str(http, "listen", "http.listen", DEFAULT_LISTEN)
    if listen:
        parse_listen(listen, "http.listen")
    agent = _table(data, "agent")
    _unknown(agent, {"state_dir"}, "agent")
    state_dir = _str(agent, "state_dir", "agent.state_dir", "data/agent") or "data/agent"

    dataway = data.get("dataway")
    if env.get("ENV_DATAWAY"):
        dataway = dict(dataway or {})
        dataway["urls"] = [u.strip() for u in env["ENV_DATAWAY"].split(",") if u.strip()]
    if dataway is not None and not isinstance(dataway, dict):
        raise ConfigError("dataway", "expected a table")

    pipeline = _table(data, "pipeline")
    _unknown(pipeline, {"scripts_dir", "offloaded", "offload"}, "pipeline")
    offload_table = dict(_table(pipeline, "offload", "pipeline.offload"))
    apply_datakit_env(offload_table, env)
    offload = parse_offload(offload_table)
    scripts_dir = _str(pipeline, "scripts_dir", "pipeline.scripts_dir", "pipelines") or "pipelines"
    if "scripts_dir" in pipeline and not Path(scripts_dir).is_dir():
        raise ConfigError("pipeline.scripts_dir", f"{scripts_dir!r} is not a directory")
    offloaded_raw = pipeline.get("offloaded", ["*"] if offload.enabled else [])
    if isinstance(offloaded_raw, str):
        offloaded_raw = [offloaded_raw]
    if not isinstance(offloaded_raw, list) or not all(isinstance(s, str) and s.strip() for s in offloaded_raw):
        raise ConfigError("pipeline.offloaded", f"expected a list of script names or \"*\", got {offloaded_raw!r}")
    names = {s.strip().removesuffix(".p") for s in offloaded_raw}
    offload_all = "*" in names
    names.discard("*")
    if names and not offload.enabled:
        raise ConfigError("pipeline.offloaded", "scripts are listed for offload but [pipeline.offload] "
                                                "has no receiver/addresses")

    sender = parse_sender(_table(data, "sender"))
    inputs = _table(data, "inputs")
    _unknown(inputs, {"file", "stdin"}, "inputs")
    files = _parse_file_inputs(inputs.get("file", []))
    stdin = None
    if "stdin" in inputs:
        st = _table(inputs, "stdin", "inputs.stdin")
        _unknown(st, {"source", "pipeline"}, "inputs.stdin")
        source = _str(st, "source", "inputs.stdin.source")
        if not source:
            raise ConfigError("inputs.stdin.source", "required: the measurement name (and default script name)")
        stdin = StdinInput(source=source, pipeline=_str(st, "pipeline", "inputs.stdin.pipeline").removesuffix(".p"))

    aggregator = data.get("aggregator")
    if aggregator is not None and not isinstance(aggregator, dict):
        raise ConfigError("aggregator", "expected a table")
    cfg = AgentConfig(
        aggregator=aggregator, http_listen=listen, state_dir=state_dir, dataway=dataway, scripts_dir=scripts_dir,
        offload_all=offload_all, offloaded=frozenset(names), offload=offload, sender=sender,
        files=files, stdin=stdin, source_path=source_path, log_level=log_level.lower(),
    )
    _check_pipeline_names(cfg)
    if dataway is not None:
        cfg.dataway_config()  # validates [dataway]; errors name dataway.<key>
    if check_loops and offload.enabled:
        check_no_loop(offload.addresses, listen)
    return cfg


def _check_pipeline_names(cfg: AgentConfig) -> None:
    http = [a.url for a in cfg.offload.addresses if a.transport != "grpc"]
    if not http:
        return
    named = [(f"inputs.file[{i}].pipeline", inp) for i, inp in enumerate(cfg.files)]
    if cfg.stdin is not None:
        named.append(("inputs.stdin.pipeline", cfg.stdin))
    for key, inp in named:
        if inp.pipeline and inp.pipeline != inp.source and cfg.offloads(inp.script):
            raise ConfigError(key, f"script {inp.pipeline!r} differs from source {inp.source!r}: over HTTP "
                                   f"({http[0]}) a receiver runs <source>.p; rename the script after the "
                                   "source or offload over grpc://")


def load_config(path: str | os.PathLike, environ: Mapping[str, str] | None = None,
                check_loops: bool = True) -> AgentConfig:
    """Read, apply the environment, validate. ConfigError (key "config") when unreadable."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path}: invalid TOML: {exc}") from None
    return parse_config(data, environ, source_path=str(path), check_loops=check_loops)


def describe(cfg: AgentConfig) -> str:
    """A one-paragraph summary for `check`."""
    if cfg.offload.enabled:
        which = "every script" if cfg.offload_all else ", ".join(sorted(cfg.offloaded)) or "no script"
        off = f"offload {which} to {len(cfg.offload.addresses)} receiver(s) ({cfg.offload.receiver}): " + \
              ", ".join(a.url for a in cfg.offload.addresses)
    else:
        off = "offload disabled (every script runs locally)"
    inputs = [f"file {inp.source} <- {', '.join(inp.paths)}" for inp in cfg.files]
    if cfg.stdin:
        inputs.append(f"stdin {cfg.stdin.source}")
    listen = cfg.http_listen or "off"
    return f"ok: {off}; http listen {listen}; inputs: {'; '.join(inputs) or 'none'}"


def check_command(args: argparse.Namespace) -> int:
    """`offload-agent check --config FILE`: 0 when valid, 2 with `error: <key>: <why>` otherwise."""
    try:
        cfg = load_config(args.config)
        if cfg.aggregator is not None:
            asyncio.run(_check_aggregator(cfg))
    except ConfigError as exc:
        kind = "loop error" if type(exc).__name__ == "LoopError" else "error"
        print(f"{kind}: {exc}", file=sys.stderr)
        return 2
    print(describe(cfg))
    return 0


async def _check_aggregator(cfg: AgentConfig) -> None:
    """Validate [aggregator] (its rules file included) the way the daemon will build it."""
    from offload.aggregate.agent_hook import build_from_config

    _, client = build_from_config(cfg.aggregator, base_dir=cfg.base_dir)
    await client.aclose()
