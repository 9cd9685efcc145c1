"""The rule model every rule front end compiles into, loading a rules file, and `rules check`.

A rules file is TOML (DataKit's AggregatorConfigure keys plus `[[promql_rules]]`,
see rules_toml.py and promql.py) or, when PyYAML is installed and the file ends in
`.yaml`/`.yml`, YAML (rules_yaml.py). Whatever the spelling, the result is a
`RuleSet` of `Rule`s whose `Algorithm`s name methods the server knows
(spec/aggregate.md §1 plus `rollup`), so the engine (engine.py) has one thing to run.

Rule identity: `Rule.identity` is the xxhash64 of the rule's normalized definition
(name, selection, grouping, algorithms with their windows resolved, series limit),
as canonical JSON. Two loads of a rule that means the same thing have the same
identity even if the file was reformatted, commented or reordered around it; this
is what lets `RulesEngine.reload()` keep the state of unchanged rules.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property

import xxhash

from offload.aggregate.diagnostics import Diagnostic, Diagnostics, RulesError

__all__ = [
    "CATEGORIES",
    "SERVER_METHODS",
    "CLIENT_METHODS",
    "DEFAULT_SERIES_LIMIT",
    "Algorithm",
    "LabelMatcher",
    "Selector",
    "Rule",
    "RuleSet",
    "parse_rules",
    "load_rules",
    "check_command",
]

# select.category values accepted (spec/aggregate.md §1).
CATEGORIES = frozenset({
    "metric", "network", "keyevent", "object", "object_change", "custom_object", "logging", "tracing",
    "rum", "security", "profiling", "dialtesting", "agent_llm",
})

# Methods the server computes; `merge_histogram` is an alias of `histogram`. Beyond
# Dataway's list our receiver has `rollup` (sum/count/min/max/first/first_ts/last/increase
# in one output row), `delta` and `rate` (per calculator, i.e. per group).
SERVER_METHODS = frozenset({
    "sum", "avg", "count", "min", "max", "histogram", "stdev", "quantiles", "count_distinct", "last",
    "first", "rollup", "delta", "rate",
})
METHOD_ALIASES = {"merge_histogram": "histogram"}

# Methods computed partly on the agent: the agent turns each counter sample into its
# reset-aware increase since the previous sample of the same raw series, and the
# server sums those increases (`sum`), so grouping many series stays correct.
CLIENT_METHODS = {"increase": "sum", "sum2": "sum"}

DEFAULT_SERIES_LIMIT = 1_000_000


@dataclass(frozen=True)
class Algorithm:
    """One output of a rule: `output` (the server's K) computed by `method` over `source_field`."""

    output: str
    method: str  # canonical wire method (SERVER_METHODS)
    source_field: str
    window: int  # ns, defaulted (what goes on the wire)
    add_tags: tuple[tuple[str, str], ...] = ()
    histogram_buckets: tuple[float, ...] | None = None
    expo_opts: tuple[int, int, bool] | None = None
    percentiles: tuple[float, ...] | None = None
    transform: str = "raw"  # "raw": the sample value; "delta": reset-aware counter increase
    function: str = ""  # what the user wrote (e.g. "increase"); documentation and identity only
    configured_window: int = 0  # as written in the file (part of the config hash)

    def definition(self) -> dict:
        d: dict = {
            "method": self.function or self.method,
            "source_field": self.source_field,
            "window": self.configured_window,
            "add_tags": dict(self.add_tags),
            "histogram_opts": {"buckets": list(self.histogram_buckets)} if self.histogram_buckets is not None else None,
            "expo_opts": (
                dict(zip(("max_scale", "max_buckets", "record_min_max"), self.expo_opts)) if self.expo_opts else None
            ),
            "quantile_opts": {"percentiles": list(self.percentiles)} if self.percentiles is not None else None,
        }
        return d


@dataclass(frozen=True)
class LabelMatcher:
    """A condition on one tag (dimension).

    ops with PromQL semantics (an absent tag reads as ""): `=`, `!=`, `=~`, `!~`
    (regexes fully anchored, RE2). Monasca-style ops: `in` (tag present with one of
    `values`), `not_in` (tag absent or none of `values`), `absent` (tag must not be
    set: every value of that dimension is rejected). In `in`/`not_in`, a value
    starting with `reg:` is an unanchored RE2 search, as in DataKit whitelists.
    """

    label: str
    op: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Selector:
    """Which points a rule consumes and which of their fields it forks."""

    category: str
    measurements: tuple[str, ...] = ()  # whitelist (exact or `reg:`); empty = all
    metric_names: tuple[str, ...] = ()  # field whitelist (exact or `reg:`); empty = none
    condition: str = ""  # DataKit filter expression (condition.py)
    matchers: tuple[LabelMatcher, ...] = ()
    # PromQL metric names `<measurement>_<field>`: when set, a (measurement, field)
    # pair is selected only if its joined name passes these (ops as LabelMatcher)
    series_name: tuple[LabelMatcher, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One aggregation rule, whatever front end wrote it."""

    name: str
    selector: Selector
    group_by: tuple[str, ...]  # sorted ascending (spec §1)
    algorithms: tuple[Algorithm, ...]
    group_without: tuple[str, ...] | None = None  # set: group by every tag except these
    series_limit: int = DEFAULT_SERIES_LIMIT
    origin: str = "datakit"  # "datakit" (AggregatorConfigure form) or "promql"
    promql: str = ""
    # PromQL rules: the forked point carries the sample under this key instead of
    # the original field name, so series selected by a name regex aggregate together
    rename_field: str = ""
    position: tuple[int, int] = field(default=(0, 0), compare=False)

    def definition(self) -> dict:
        """The DataKit-shaped JSON of this rule (extension keys only when used)."""
        d: dict = {
            "name": self.name,
            "select": {
                "category": self.selector.category,
                "measurements": list(self.selector.measurements),
                "metric_name": list(self.selector.metric_names),
                "condition": self.selector.condition,
            },
            "group_by": list(self.group_by),
            "algorithms": {a.output: a.definition() for a in self.algorithms},
        }
        if self.selector.matchers:
            d["select"]["matchers"] = [[m.label, m.op, list(m.values)] for m in self.selector.matchers]
        if self.selector.series_name:
            d["select"]["series_name"] = [[m.label, m.op, list(m.values)] for m in self.selector.series_name]
        if self.group_without is not None:
            d["group_without"] = list(self.group_without)
        if self.series_limit != DEFAULT_SERIES_LIMIT:
            d["series_limit"] = self.series_limit
        if self.promql:
            d["promql"] = self.promql
        if self.rename_field:
            d["rename_field"] = self.rename_field
        return d

    @cached_property
    def identity(self) -> int:
        """xxhash64 of the normalized definition, with windows as sent (defaults applied)."""
        d = self.definition()
        for a in self.algorithms:
            d["algorithms"][a.output]["window"] = a.window
            d["algorithms"][a.output]["transform"] = a.transform
        return xxhash.xxh64_intdigest(json.dumps(d, sort_keys=True, separators=(",", ":")).encode())

    @property
    def label(self) -> str:
        """The name used in metrics and logs."""
        return self.name


@dataclass(frozen=True)
class RuleSet:
    """A loaded rules file."""

    rules: tuple[Rule, ...] = ()
    default_window: int = 0
    action: str = ""
    delete_rules_point: bool = False

    @cached_property
    def config_hash(self) -> int:
        """xxhash64 of the config's JSON (spec §1); opaque to the server, one value per file."""
        d = {
            "default_window": self.default_window,
            "aggregate_rules": [r.definition() for r in self.rules],
            "action": self.action,
            "delete_rules_point": self.delete_rules_point,
        }
        return xxhash.xxh64_intdigest(json.dumps(d, separators=(",", ":")).encode())

    def summary(self) -> str:
        by_origin: dict[str, int] = {}
        for r in self.rules:
            by_origin[r.origin] = by_origin.get(r.origin, 0) + 1
        kinds = ", ".join(f"{n} {o}" for o, n in sorted(by_origin.items())) or "none"
        outputs = sum(len(r.algorithms) for r in self.rules)
        return f"{len(self.rules)} rules ({kinds}), {outputs} outputs, config_hash {self.config_hash:#018x}"


def parse_rules(text: str, filename: str = "<rules>") -> tuple[RuleSet | None, list[Diagnostic]]:
    """Compile rules text; returns (ruleset or None, every problem found, sorted by position)."""
    diags = Diagnostics()
    if filename.endswith((".yaml", ".yml")):
        from offload.aggregate import rules_yaml

        ruleset = rules_yaml.parse(text, diags)
    else:
        from offload.aggregate import rules_toml

        ruleset = rules_toml.parse(text, diags)
    if diags:
        return None, diags.sorted()
    return ruleset, []


def load_rules(path: str | os.PathLike) -> RuleSet:
    """Read and compile a rules file; raises RulesError listing every problem."""
    filename = os.fspath(path)
    try:
        with open(filename, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise RulesError(filename, [Diagnostic(1, 1, f"cannot read rules file: {exc.strerror or exc}")]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise RulesError(filename, [Diagnostic(line, col, "invalid UTF-8")]) from exc
    ruleset, diags = parse_rules(text, filename)
    if ruleset is None:
        raise RulesError(filename, diags)
    return ruleset


def check_command(args: argparse.Namespace) -> int:
    """`rules check FILE`: exit 0 with a one-line summary, or 1 with every `FILE:LINE:COL: message`."""
    try:
        ruleset = load_rules(args.file)
    except RulesError as exc:
        print(exc.render(), file=sys.stderr)
        n = len(exc.diagnostics)
        print(f"{args.file}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK: {ruleset.summary()}")
    return 0
