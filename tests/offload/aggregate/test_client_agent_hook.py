"""`[aggregator]` -> (engine, client), and the pump task that sends and reloads."""

from __future__ import annotations

import asyncio

import pytest

from offload.aggregate.agent_hook import build_from_config, intervals, pump
from offload.errors import ConfigError
from offload.point import Point
from test_client_http import AggregateServer

RULES = """
default_window = "10s"
[[promql_rules]]
promql = 'sum by (host) (cpu_usage[10s])'
as = "cpu_sum"
"""


@pytest.mark.parametrize(
    "table, key",
    [
        ({"rules_file": "r.toml"}, "aggregator.endpoints"),
        ({"endpoints": ["ftp://x"], "rules_file": "r.toml"}, "aggregator.endpoints"),
        ({"endpoints": ["http://x"]}, "aggregator.rules_file"),
        ({"endpoints": ["http://x"], "rules_file": "r.toml", "timeout": 0}, "aggregator.timeout"),
        ({"endpoints": ["http://x"], "rules_file": "r.toml", "body_limit": 10}, "aggregator.body_limit"),
        ({"endpoints": ["http://x"], "rules_file": "r.toml", "colour": 1}, "aggregator.colour"),
    ],
)
async def test_bad_tables_name_the_key(table, key):
    with pytest.raises(ConfigError) as info:
        build_from_config(table)
    assert info.value.key == key


async def test_bad_rules_file_is_a_config_error(tmp_path):
    (tmp_path / "r.toml").write_text("[[promql_rules]]\npromql = 'sum(rate(x[1m]))'\nas = \"o\"\n")
    with pytest.raises(ConfigError) as info:
        build_from_config({"endpoints": ["http://x"], "rules_file": "r.toml"}, base_dir=tmp_path)
    assert "r.toml:2:15: unknown function 'rate'" in str(info.value)


async def test_pump_sends_and_reloads(tmp_path):
    server = AggregateServer()
    try:
        rules = tmp_path / "rules.toml"
        rules.write_text(RULES)
        table = {"endpoints": [server.url], "token": "tkn_" + "b" * 32, "rules_file": "rules.toml",
                 "flush_interval": 0.05, "reload_interval": 0.05}
        engine, client = build_from_config(table, base_dir=tmp_path)
        assert client.body_limit == 1 << 20 and intervals(table) == (0.05, 0.05)
        stop = asyncio.Event()
        task = asyncio.create_task(pump(engine, client, stop, *intervals(table)))
        engine.feed("metric", [Point("cpu", {"host": "h1"}, {"usage": 1.0}, 1)])

        async def until(cond):
            for _ in range(200):
                if cond():
                    return
                await asyncio.sleep(0.02)
            raise AssertionError("condition not reached")

        await until(lambda: len(server.ok()) == 1)
        rules.write_text(RULES.replace("cpu_sum", "cpu_total"))
        await until(lambda: engine.rules[0].name == "cpu_total")
        engine.feed("metric", [Point("cpu", {"host": "h1"}, {"usage": 2.0}, 2)])
        stop.set()
        await asyncio.wait_for(task, 5)
        outputs = [set(b.aggregation_opts) for r in server.ok() for b in r["batchs"].batchs]
        assert outputs == [{"cpu_sum"}, {"cpu_total"}]
    finally:
        server.close()
