"""The cardinality guard (limit, counter, one log per rule and hour) and reload that keeps state."""

from __future__ import annotations

import logging
import os

import pytest
from prometheus_client import CollectorRegistry

from offload.aggregate.diagnostics import RulesError
from offload.aggregate.engine import RulesEngine
from offload.aggregate.rules import parse_rules
from offload.point import Point

T0 = 1_700_000_000_000_000_000

RULES = """
default_window = "10s"
[[aggregate_rules]]
name = "by_host"
group_by = ["host"]
series_limit = 3
  [aggregate_rules.select]
  category = "metric"
  metric_name = ["v"]
  [aggregate_rules.algorithms.v_sum]
  method = "sum"
  source_field = "v"

[[aggregate_rules]]
name = "total"
  [aggregate_rules.select]
  category = "metric"
  metric_name = ["v"]
  [aggregate_rules.algorithms.v_inc]
  method = "increase"
  source_field = "v"
"""


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def points(hosts, v=1.0):
    return [Point("m", {"host": h}, {"v": v}, T0) for h in hosts]


def test_guard_skips_counts_and_logs_once_per_rule_and_hour(caplog):
    registry = CollectorRegistry()
    clock = Clock(7200.0 * 1000)
    ruleset, _ = parse_rules(RULES)
    e = RulesEngine(ruleset, clock=clock, registry=registry)
    skipped = lambda rule: registry.get_sample_value("aggregate_series_skipped_total", {"rule": rule}) or 0  # noqa: E731

    caplog.set_level(logging.WARNING, logger="offload.aggregate.guard")
    e.feed("metric", points(["a", "b", "c", "d", "e"]))
    hosts = [b.points.arr[0].fields[1].s for bs in e.take() for b in bs.batchs
             if "v_sum" in b.aggregation_opts]
    assert hosts == ["a", "b", "c"]
    assert skipped("by_host") == 2 and skipped("total") == 0
    warnings = [r for r in caplog.records if "by_host" in r.getMessage()]
    assert len(warnings) == 1 and "limit of 3 output series" in warnings[0].getMessage()

    # admitted series keep flowing; a skipped series is counted once per hour; new ones add up
    e.feed("metric", points(["a", "d", "e", "f"]))
    hosts = [b.points.arr[0].fields[1].s for bs in e.take() for b in bs.batchs if "v_sum" in b.aggregation_opts]
    assert hosts == ["a"]
    assert skipped("by_host") == 3
    assert len([r for r in caplog.records if "by_host" in r.getMessage()]) == 1

    clock.t += 3600  # next hour: counting starts afresh, and the limit is logged again when hit
    e.feed("metric", points(["x", "y", "z", "w"]))
    hosts = [b.points.arr[0].fields[1].s for bs in e.take() for b in bs.batchs if "v_sum" in b.aggregation_opts]
    assert hosts == ["x", "y", "z"]
    assert skipped("by_host") == 4
    assert len([r for r in caplog.records if "by_host" in r.getMessage()]) == 2
    assert e.runner("by_host").guard.warnings == 2


def test_default_limit_is_one_million():
    ruleset, _ = parse_rules(RULES)
    assert ruleset.rules[1].series_limit == 1_000_000
    ruleset, _ = parse_rules("series_limit = 10\n" + RULES)
    assert [r.series_limit for r in ruleset.rules] == [3, 10]


def write(path, text):
    path.write_text(text)
    # make sure the stat changes even on coarse-mtime filesystems
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_reload_keeps_state_of_unchanged_rules(tmp_path):
    registry = CollectorRegistry()
    path = tmp_path / "rules.toml"
    write(path, RULES)
    e = RulesEngine.from_file(path, clock=Clock(3600.0 * 500), registry=registry)
    e.feed("metric", points(["a", "b", "c", "d"], v=10.0))
    by_host, total = e.runner("by_host"), e.runner("total")
    assert by_host.pending_batches == 3 and len(by_host.guard.seen) == 3

    assert not e.reload().changed  # untouched file: nothing happens
    write(path, "# reformatted\n" + RULES.replace("  ", "    "))
    report = e.reload()
    assert report.changed and sorted(report.kept) == ["by_host", "total"] and not report.added
    assert e.runner("by_host") is by_host and e.runner("total") is total
    assert by_host.pending_batches == 3 and len(by_host.guard.seen) == 3

    # change one rule: the other keeps its runner (guard, counter baselines, pending batches)
    write(path, RULES.replace("series_limit = 3", "series_limit = 5"))
    report = e.reload()
    assert report.kept == ["total"] and report.added == ["by_host"] and report.removed == ["by_host"]
    assert e.runner("total") is total and e.runner("by_host") is not by_host
    assert e.runner("by_host").guard.limit == 5 and not e.runner("by_host").guard.seen
    # the counter baseline of "total" survived: the next sample yields a real increase
    e.feed("metric", [Point("m", {"host": "a"}, {"v": 15.0}, T0 + 1)])
    out = [b for bs in e.take() for b in bs.batchs]
    incs = [b.points.arr[0].fields[0].f for b in out if "v_inc" in b.aggregation_opts]
    assert incs[-1] == 5.0
    # batches built before the change were not lost: 3 (old by_host) + 4 + 1 (total) + 1 (new by_host)
    assert len(out) == 9
    # every batch carries the config hash of the file it was built under
    assert {b.config_hash for b in out if "v_sum" in b.aggregation_opts} != {e.ruleset.config_hash}


def test_reload_of_a_broken_file_keeps_running_rules(tmp_path):
    path = tmp_path / "rules.toml"
    write(path, RULES)
    e = RulesEngine.from_file(path, registry=CollectorRegistry())
    before = e.ruleset
    write(path, RULES.replace('method = "sum"', 'method = "median"'))
    with pytest.raises(RulesError) as info:
        e.reload()
    assert "unknown method 'median'" in info.value.render()
    assert e.ruleset is before
    e.feed("metric", points(["a"]))
    assert e.pending_batches == 2


def test_reload_of_a_deleted_file_is_a_rules_error(tmp_path):
    path = tmp_path / "rules.toml"
    write(path, RULES)
    e = RulesEngine.from_file(path, registry=CollectorRegistry())
    path.unlink()
    with pytest.raises(RulesError) as info:
        e.reload()
    assert "cannot read rules file" in info.value.render()
    assert len(e.rules) == 2
