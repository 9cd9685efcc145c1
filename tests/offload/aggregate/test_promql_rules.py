"""PromQL-form rules: parsing, errors with columns, and the Rule objects they compile into."""

from __future__ import annotations

import pytest

from offload.aggregate import hashing
from offload.aggregate.engine import RulesEngine
from offload.aggregate.promql import PromQLError, parse
from offload.aggregate.rules import LabelMatcher, parse_rules
from offload.point import Point

T0 = 1_700_000_000_000_000_000


def compile_one(expr: str, extra: str = "", head: str = ""):
    text = f"{head}[[promql_rules]]\npromql = '{expr}'\nas = \"out\"\n{extra}"
    ruleset, diags = parse_rules(text)
    assert ruleset is not None, diags
    (rule,) = ruleset.rules
    return ruleset, rule


def test_levitate_histogram_rule():
    agg = parse('sum by (stack, le) (http_requests_duration_seconds_bucket{service="pushnotifs"}[2m])')
    assert agg.function == "sum" and agg.by == ("stack", "le") and agg.without is None
    assert agg.metric == "http_requests_duration_seconds_bucket"
    assert agg.matchers == (LabelMatcher("service", "=", ("pushnotifs",)),)
    assert agg.range_ns == 120_000_000_000


@pytest.mark.parametrize(
    "expr, function, method, transform",
    [
        ("sum(x_y[1m])", "sum", "sum", "raw"),
        ("count by (a) (x_y[1m])", "count", "count", "raw"),
        ("min(x_y[1m]) by (a)", "min", "min", "raw"),
        ("MAX without (a) (x_y[1m])", "max", "max", "raw"),
        ("avg(x_y[1m])", "avg", "avg", "raw"),
        ("last(x_y[1m])", "last", "last", "raw"),
        ("sum2 by (a) (x_total[1m])", "sum2", "sum", "delta"),
        ("increase by (a) (x_total[1m])", "increase", "sum", "delta"),
        ("stddev(x_y[1m])", "stddev", "stdev", "raw"),
    ],
)
def test_functions_map_onto_server_methods(expr, function, method, transform):
    _, rule = compile_one(expr)
    (algo,) = rule.algorithms
    assert (algo.function, algo.method, algo.transform) == (function, method, transform)
    assert algo.output == "out" and algo.source_field == "out" and algo.window == 60_000_000_000


def test_quantile_parameter():
    _, rule = compile_one("quantile by (a) (0.99, x_y[1m])")
    assert rule.algorithms[0].method == "quantiles" and rule.algorithms[0].percentiles == (0.99,)
    with pytest.raises(PromQLError) as info:
        parse("quantile(1.5, x_y[1m])")
    assert "out of range" in info.value.reason and info.value.offset == 9


@pytest.mark.parametrize(
    "expr, offset, fragment",
    [
        ("sum by (a) (rate(x[1m]))", 12, "unknown function 'rate'"),
        ("topk(3, x[1m])", 0, "unknown function 'topk'"),
        ("sum by (a) (x[1m]) by (b)", 19, "by/without conflict"),
        ("sum by (a, a) (x[1m])", 11, "listed twice"),
        ("sum(x{a=~\"[\"}[1m])", 9, "invalid regular expression"),
        ("sum(x{a~\"b\"}[1m])", 7, "unexpected character"),
        ("sum(x{a=b}[1m])", 8, "quoted string"),
        ("sum(x[1m)", 8, "expected ']'"),
        ("sum(x[1.5s])", 6, "invalid duration"),
        ("sum(x[1m]) + 1", 11, "unexpected '+'"),
        ("sum(x[5m] offset 1m)", 10, "not supported"),
        ("sum({a=\"b\"}[1m])", 4, "metric name"),
        ("x[1m]", 0, "expected an aggregation"),
        ("sum(sum(x[1m]))", 4, "nested aggregation"),
        ("sum by (stack) (h_bucket[1m])", 4, "keep 'le'"),
        ("sum without (le) (h_bucket[1m])", 4, "cannot drop 'le'"),
        ("sum(x[1m]", 9, "expected ')'"),
        ("sum(x{a=\"b}[1m])", 8, "unterminated string"),
    ],
)
def test_parse_errors_have_columns(expr, offset, fragment):
    with pytest.raises(PromQLError) as info:
        parse(expr)
    assert fragment in info.value.reason, info.value.reason
    assert info.value.offset == offset, info.value


def test_range_defaults_to_default_window_and_is_required():
    _, rule = compile_one("sum(x_y)", head='default_window = "30s"\n')
    assert rule.algorithms[0].window == 30_000_000_000
    ruleset, diags = parse_rules("[[promql_rules]]\npromql = 'sum(x_y)'\nas = \"o\"\n")
    assert ruleset is None and "needs a range" in diags[0].message


def test_resolutions_on_promql_rules():
    _, rule = compile_one("sum by (a) (x_y[1m])", extra='resolutions = ["1m", "1h"]\n')
    assert [(a.output, a.window) for a in rule.algorithms] == [("out_1m", 60_000_000_000),
                                                              ("out_1h", 3_600_000_000_000)]
    ruleset, diags = parse_rules("[[promql_rules]]\npromql = 'sum(x_y[1m])'\nas = \"o\"\nresolutions = [\"45s\"]\n")
    assert ruleset is None and diags[0].line == 4 and "whole multiple" in diags[0].message


def feed(rule_text: str, points: list[Point]) -> list:
    ruleset, diags = parse_rules(rule_text)
    assert ruleset is not None, diags
    e = RulesEngine(ruleset)
    e.feed("metric", points)
    return [b for bs in e.take() for b in bs.batchs]


def test_selection_by_guance_metric_name_and_matchers():
    text = ("[[promql_rules]]\n"
            "promql = 'sum by (stack, le) (http_requests_duration_seconds_bucket{service=\"pushnotifs\", "
            "env!~\"dev|test\", debug_id=\"\"}[2m])'\n"
            "as = \"pushnotifs_http_requests_duration:2m\"\n")
    base = {"service": "pushnotifs", "stack": "s1", "le": "0.5", "pod": "p"}
    pts = [
        Point("http", base, {"requests_duration_seconds_bucket": 3, "other": 1}, T0),  # selected
        Point("http_requests", base, {"duration_seconds_bucket": 4}, T0),  # the other split: selected
        Point("http", base, {"requests_duration_seconds_count": 3}, T0),  # another metric
        Point("http", {**base, "service": "x"}, {"requests_duration_seconds_bucket": 3}, T0),
        Point("http", {**base, "env": "dev"}, {"requests_duration_seconds_bucket": 3}, T0),
        Point("http", {**base, "env": "prod"}, {"requests_duration_seconds_bucket": 3}, T0),  # selected
        Point("http", {**base, "debug_id": "1"}, {"requests_duration_seconds_bucket": 3}, T0),
    ]
    batches = feed(text, pts)
    assert sorted(b.points.arr[0].name for b in batches) == ["http", "http", "http_requests"]
    b = batches[0]
    pt = b.points.arr[0]
    # the sample travels under the output name; only the grouping tags follow it
    assert [(f.key, f.is_tag) for f in pt.fields] == [("pushnotifs_http_requests_duration:2m", False),
                                                     ("le", True), ("stack", True)]
    algo = b.aggregation_opts["pushnotifs_http_requests_duration:2m"]
    assert (algo.method, algo.source_field, algo.window) == ("sum", "pushnotifs_http_requests_duration:2m",
                                                             120_000_000_000)
    assert b.pick_key == hashing.pick_key("http", ["le", "stack"])


def test_name_regex_and_without():
    text = ("[[promql_rules]]\n"
            "promql = 'max without (pod) ({__name__=~\"cpu_(user|system)\"}[10s])'\n"
            "as = \"cpu_max\"\n")
    pts = [Point("cpu", {"host": "h", "pod": "p1"}, {"user": 1.0, "system": 2.0, "idle": 3.0}, T0)]
    batches = feed(text, pts)
    assert len(batches) == 2
    for b in batches:
        assert [f.key for f in b.points.arr[0].fields] == ["cpu_max", "host"]  # pod dropped, host kept
        assert b.pick_key == hashing.pick_key("cpu", ["host"])
    # both fields land in the same series: they aggregate together
    assert batches[0].routing_key == batches[1].routing_key


def test_yaml_form_compiles_like_toml():
    yaml_text = ("- promql: 'sum by (stack, le) (h_bucket{service=\"p\"}[2m])'\n"
                 "  as: p_h:2m\n")
    toml_text = "[[promql_rules]]\npromql = 'sum by (stack, le) (h_bucket{service=\"p\"}[2m])'\nas = \"p_h:2m\"\n"
    y, diags = parse_rules(yaml_text, "rules.yaml")
    assert y is not None, diags
    t, _ = parse_rules(toml_text, "rules.toml")
    assert y.rules[0].identity == t.rules[0].identity and y.config_hash == t.config_hash
    bad, diags = parse_rules("- promql: sum(rate(x[1m]))\n  as: o\n", "rules.yml")
    assert bad is None and (diags[0].line, diags[0].column) == (1, 15)
