"""How the agent wires aggregation in: the `[aggregator]` config table -> (RulesEngine, AggregateClient).

    [aggregator]
    endpoints = ["http://rx-0:9529", "http://rx-1:9529"]   # required: where /v1/aggregate lives
    token = "tkn_..."                 # workspace token (or ?token= in the endpoint URLs)
    rules_file = "aggregate-rules.toml"   # required: DataKit TOML (+ [[promql_rules]]) or YAML
    timeout = 10.0                    # seconds per request
    body_limit = 1048576              # bytes per request body
    flush_interval = 1.0              # seconds between sends of pending batches
    reload_interval = 5.0             # seconds between checks of rules_file; 0 = never

The agent calls `engine.feed(category, points)` for every batch of points it handles
and runs `pump(engine, client, ...)` as a task; on shutdown it sets the stop event,
which sends what is pending once more, then closes the client.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Mapping

from offload.aggregate.client import DEFAULT_BODY_LIMIT, AggregateClient
from offload.aggregate.diagnostics import RulesError
from offload.aggregate.engine import RulesEngine
from offload.errors import ConfigError

__all__ = ["build_from_config", "intervals", "pump", "AGGREGATOR_KEYS"]

log = logging.getLogger("offload.aggregate.agent")

AGGREGATOR_KEYS = {"endpoints", "token", "rules_file", "timeout", "body_limit", "flush_interval", "reload_interval"}


def _number(table: Mapping[str, Any], key: str, default: float, minimum: float = 0.0) -> float:
    v = table.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < minimum:
        raise ConfigError(f"aggregator.{key}", f"must be a number >= {minimum}")
    return float(v)


def build_from_config(table: Mapping[str, Any], base_dir: str | os.PathLike | None = None,
                      **engine_kwargs: Any) -> tuple[RulesEngine, AggregateClient]:
    """Validate `[aggregator]` and build the engine (rules loaded) and the client.

    Raises ConfigError naming the key (RulesError, a ConfigError, for a bad rules file).
    A relative `rules_file` is relative to `base_dir` (default: the working directory).
    Must be called inside a running event loop's thread (the client owns async resources).
    """
    for key in table:
        if key not in AGGREGATOR_KEYS:
            raise ConfigError(f"aggregator.{key}", f"unknown key (expected one of: {', '.join(sorted(AGGREGATOR_KEYS))})")
    endpoints = table.get("endpoints")
    if isinstance(endpoints, str):
        endpoints = [e.strip() for e in endpoints.split(",") if e.strip()]
    if not isinstance(endpoints, list) or not endpoints or not all(isinstance(e, str) for e in endpoints):
        raise ConfigError("aggregator.endpoints", "must be a non-empty list of URLs such as \"http://rx-0:9529\"")
    for e in endpoints:
        if not e.startswith(("http://", "https://")):
            raise ConfigError("aggregator.endpoints", f"{e!r} is not an http(s) URL")
    token = table.get("token", "")
    if not isinstance(token, str):
        raise ConfigError("aggregator.token", "must be a string")
    rules_file = table.get("rules_file")
    if not isinstance(rules_file, str) or not rules_file:
        raise ConfigError("aggregator.rules_file", "is required: the aggregation rules file")
    if base_dir is not None and not os.path.isabs(rules_file):
        rules_file = os.path.join(base_dir, rules_file)
    timeout = _number(table, "timeout", 10.0, 0.001)
    body_limit = table.get("body_limit", DEFAULT_BODY_LIMIT)
    if isinstance(body_limit, bool) or not isinstance(body_limit, int) or body_limit < 1024:
        raise ConfigError("aggregator.body_limit", "must be an integer number of bytes >= 1024")
    intervals(table)
    engine = RulesEngine.from_file(rules_file, **engine_kwargs)
    client = AggregateClient(endpoints, token=token, timeout=timeout, body_limit=body_limit)
    return engine, client


def intervals(table: Mapping[str, Any]) -> tuple[float, float]:
    """(flush_interval, reload_interval) of `[aggregator]`, the arguments of `pump`."""
    return _number(table, "flush_interval", 1.0, 0.01), _number(table, "reload_interval", 5.0)


async def pump(engine: RulesEngine, client: AggregateClient, stop: asyncio.Event,
               flush_interval: float = 1.0, reload_interval: float = 5.0) -> None:
    """Send pending batches every `flush_interval` s and reload the rules when the file changes."""
    loop = asyncio.get_running_loop()
    next_reload = loop.time() + reload_interval
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=flush_interval)
            except asyncio.TimeoutError:
                pass
            report = await client.send(engine.take())
            if not report.ok:
                log.warning("aggregate send: %d bodies failed (%d kept for retry): %s",
                            report.failed, report.kept, "; ".join(report.errors[:3]))
            if reload_interval > 0 and loop.time() >= next_reload:
                next_reload = loop.time() + reload_interval
                try:
                    engine.reload()
                except RulesError as exc:
                    log.error("rules file not reloaded, the previous rules stay active:\n%s", exc.render())
    finally:
        await client.send(engine.take())
        await client.aclose()
