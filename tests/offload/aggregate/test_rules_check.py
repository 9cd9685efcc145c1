"""`rules check`: every problem of a rules file, positioned as FILE:LINE:COL (both console scripts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from offload.aggregate.rules import load_rules, parse_rules

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent

HEAD = 'default_window = "1m"\n'


def rule(select: str = "", algos: str = "", extra: str = "") -> str:
    return (
        HEAD
        + "[[aggregate_rules]]\nname = \"r\"\ngroup_by = [\"host\"]\n"
        + extra
        + "[aggregate_rules.select]\ncategory = \"metric\"\nmetric_name = [\"lat\"]\n"
        + select
        + (algos or "[aggregate_rules.algorithms.lat_sum]\nmethod = \"sum\"\nsource_field = \"lat\"\n")
    )


def errors(text: str, name: str = "rules.toml") -> list[tuple[int, int, str]]:
    ruleset, diags = parse_rules(text, name)
    assert (ruleset is None) == bool(diags)
    return [(d.line, d.column, d.message) for d in diags]


def test_example_rules_file_is_valid():
    ruleset = load_rules(REPO / "examples" / "rules.toml")
    assert [r.name for r in ruleset.rules] == ["nginx_bytes"]
    assert {a.output for a in ruleset.rules[0].algorithms} == {"bytes_sum", "bytes_max", "bytes_q"}


@pytest.mark.parametrize(
    "text, line, col, fragment",
    [
        pytest.param(HEAD + "[[aggregate_rules]\n", 2, 18, "TOML syntax error", id="toml-syntax"),
        pytest.param(rule(algos="[aggregate_rules.algorithms.x]\nmethod = \"median\"\nsource_field = \"lat\"\n"),
                     9, 10, "unknown method 'median'", id="unknown-method"),
        pytest.param(rule(algos="[aggregate_rules.algorithms.x]\nmethod = \"expo_histogram\"\nsource_field = \"lat\"\n"),
                     9, 10, "expo_histogram", id="expo-histogram"),
        pytest.param(rule(select="measurements = [\"ok\", \"reg:(a\"]\n"), 8, 23, "invalid regular expression",
                     id="bad-regex"),
        pytest.param(rule(select="condition = '{ a = 1 and }'\n"), 8, 26, "expected a tag or field name",
                     id="bad-condition"),
        pytest.param(rule(algos="[aggregate_rules.algorithms.q]\nmethod = \"quantiles\"\nsource_field = \"lat\"\n"
                                "quantile_opts = { percentiles = [0.5, 99] }\n"), 11, 39, "out of range",
                     id="percentile-range"),
        pytest.param(rule(algos="[aggregate_rules.algorithms.lat]\nmethod = \"rollup\"\nsource_field = \"lat\"\n"
                                "resolutions = [\"1m\", \"5m\", \"90s\"]\n"), 11, 28,
                     "not a whole multiple of the base window 1m", id="resolution-multiple"),
        pytest.param(rule(extra="group_without = [\"pod\"]\n"), 5, 1, "by/without conflict", id="by-without"),
        pytest.param(rule(algos="[aggregate_rules.algorithms.x]\nmethod = \"sum\"\nsource_field = \"lat\"\n"
                                "window = \"1m\"\n"), 11, 10, "integer nanoseconds", id="string-window"),
        pytest.param(rule().replace('category = "metric"', 'category = "metrics"'), 6, 12,
                     "select.category must be one of", id="bad-category"),
        pytest.param(rule(algos="[aggregate_rules.algorithms.x]\nmethod = \"sum\"\nsource_field = \"bytes\"\n"),
                     10, 16, "does not fork", id="unforked-source"),
        pytest.param(rule(select="colour = 1\n"), 8, 1, "unknown key 'colour'", id="unknown-key"),
        pytest.param(HEAD.replace("1m", "1.5s") + rule()[len(HEAD):], 1, 18, "not a whole number of seconds",
                     id="subsecond-window"),
        pytest.param(HEAD + "[[promql_rules]]\npromql = 'sum by (a) (rate(x_total[1m]))'\nas = \"y\"\n", 3, 23,
                     "unknown function 'rate'", id="promql-unknown-function"),
        pytest.param(HEAD + "[[promql_rules]]\npromql = 'sum by (a) (x_total[1m]) without (b)'\nas = \"y\"\n",
                     3, 36, "by/without conflict", id="promql-by-without"),
        pytest.param(HEAD + "[[promql_rules]]\npromql = 'sum by (a) (x_total{a=~\"(\"}[1m])'\nas = \"y\"\n",
                     3, 34, "invalid regular expression", id="promql-regex"),
        pytest.param(HEAD + "[[promql_rules]]\npromql = '''\nsum by (a)\n  (x_total[1m}'''\nas = \"y\"\n",
                     5, 14, "expected ']'", id="promql-multiline-position"),
    ],
)
def test_bad_file_reports_positioned_error(text, line, col, fragment):
    errs = errors(text)
    assert any(fragment in msg for _, _, msg in errs), errs
    hit = next(e for e in errs if fragment in e[2])
    assert hit[:2] == (line, col), errs


def test_every_error_is_reported_not_just_the_first():
    text = rule(
        select="measurements = [\"reg:(\"]\n",
        algos="[aggregate_rules.algorithms.a]\nmethod = \"nope\"\nsource_field = \"lat\"\n"
              "[aggregate_rules.algorithms.b]\nmethod = \"quantiles\"\nsource_field = \"lat\"\n",
    )
    msgs = [m for _, _, m in errors(text)]
    assert len(msgs) == 3, msgs


def run(script: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / script), "rules", "check", str(path)], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("script", ["offload-agent", "offload-receiver"])
def test_cli_rejects_bad_file_and_accepts_good_one(tmp_path, script):
    bad = tmp_path / "bad.toml"
    bad.write_text(HEAD + "[[promql_rules]]\npromql = 'sum by (stack) (http_requests_duration_seconds_bucket[2m])'\n"
                          "as = \"x\"\n\n[[promql_rules]]\npromql = 'avg(rate(x[1m]))'\nas = \"y\"\n")
    res = run(script, bad)
    assert res.returncode == 1, res
    lines = res.stderr.strip().splitlines()
    assert lines[0] == (f"{bad}:3:15: histogram buckets must keep 'le' in by (...) so histogram_quantile "
                        "works on the output"), res.stderr
    assert lines[1].startswith(f"{bad}:7:15: unknown function 'rate'"), res.stderr
    assert lines[-1] == f"{bad}: 2 errors"

    good = tmp_path / "good.toml"
    good.write_text(HEAD + "[[promql_rules]]\n"
                           "promql = 'sum by (stack, le) (http_requests_duration_seconds_bucket{service=\"pushnotifs\"}[2m])'\n"
                           "as = \"pushnotifs_http_requests_duration:2m\"\n")
    res = run(script, good)
    assert res.returncode == 0, res
    out = res.stdout.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"{good}: OK: 1 rules (1 promql), 1 outputs"), res.stdout


def test_toml_positions_follow_tables_arrays_and_inline_tables():
    from offload.aggregate.tomlpos import TomlPositions

    text = (
        'a = 1  # comment\n'                                   # 1
        '[[rules]]\n'                                          # 2
        'x.y = { "q k" = [1, 2], z = "s" }\n'                  # 3
        "m = '''\n"                                            # 4
        "line one\n"                                           # 5
        "  line two'''\n"                                      # 6
        '[[rules]]\n'                                          # 7
        'list = [\n'                                           # 8
        '  "a",  # one\n'                                      # 9
        '  "b",\n'                                             # 10
        ']\n'                                                  # 11
        '[rules.sub]\n'                                        # 12
        'k = "v"\n'                                            # 13
    )
    pos = TomlPositions(text)
    assert pos.key(("a",)) == (1, 1)
    assert pos.key(("rules", 0, "x", "y", "q k")) == (3, 9)
    assert pos.value(("rules", 0, "x", "y", "q k", 1)) == (3, 21)
    assert pos.value(("rules", 0, "x", "y", "z")) == (3, 29)
    assert pos.inside(("rules", 0, "m"), len("line one\n  line")) == (6, 7)
    assert pos.value(("rules", 1, "list", 1)) == (10, 3)
    assert pos.key(("rules", 1, "sub", "k")) == (13, 1)
    assert pos.key(("rules", 1, "sub", "missing")) == (12, 1)  # nearest ancestor
