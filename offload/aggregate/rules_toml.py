"""The TOML rules file: DataKit's AggregatorConfigure keys (spec/aggregate.md §1) plus our extensions.

    default_window = "1m"          # Go duration or integer ns
    action = "passthrough"         # "", "passthrough", "drop" (validated; see RuleSet.action)
    delete_rules_point = false
    series_limit = 1000000         # extension: default per-rule output series per hour

    [[aggregate_rules]]
    name = "nginx_latency"
    group_by = ["host", "service"]   # or group_without = ["pod"]: every tag except these
    series_limit = 50000             # extension
      [aggregate_rules.select]
      category = "logging"
      measurements = ["nginx", "reg:^gw_"]
      metric_name = ["latency"]
      condition = '{ status >= 200 and method in ["GET", "POST"] }'
      require = { service = ["a", "b"] }     # Monasca-style: tag must have one of these values
      reject = { env = ["dev"] }             # ... must not have any of these values
      reject_dimension = ["debug_id"]        # ... must not be set at all
      [aggregate_rules.algorithms.latency]
      method = "rollup"                      # spec methods, rollup, increase / sum2
      source_field = "latency"
      resolutions = ["1m", "5m", "1h"]       # extension: rollup.py

    [[promql_rules]]                         # promql.py
    promql = 'sum by (stack, le) (http_requests_duration_seconds_bucket{service="pushnotifs"}[2m])'
    as = "pushnotifs_http_requests_duration:2m"

`compile_document` does the work on already-parsed data, so the YAML front end shares it.
Unknown keys are errors: in a file checked by CI a misspelt key is a bug, not an extension.
"""

from __future__ import annotations

import math
import re
import tomllib

from offload.aggregate import rollup
from offload.aggregate.condition import ConditionError, compile_condition, compile_re2
from offload.aggregate.diagnostics import Context, Diagnostics
from offload.aggregate.durations import SECOND, DurationError, format_duration, parse_window
from offload.aggregate.rules import (
    CATEGORIES,
    CLIENT_METHODS,
    DEFAULT_SERIES_LIMIT,
    METHOD_ALIASES,
    SERVER_METHODS,
    Algorithm,
    LabelMatcher,
    Rule,
    RuleSet,
    Selector,
)
from offload.aggregate.tomlpos import TomlPositions

__all__ = ["parse", "compile_document"]

_TOP_KEYS = {"default_window", "action", "delete_rules_point", "series_limit", "aggregate_rules", "promql_rules"}
_RULE_KEYS = {"name", "group_by", "group_without", "select", "algorithms", "series_limit"}
_SELECT_KEYS = {"category", "measurements", "metric_name", "condition", "require", "reject", "reject_dimension"}
_ALGO_KEYS = {
    "method", "source_field", "window", "add_tags", "histogram_opts", "expo_opts", "quantile_opts", "resolutions",
}
_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def parse(text: str, diags: Diagnostics) -> RuleSet | None:
    """Parse TOML rules text; every problem is added to diags."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        if m:
            diags.add((int(m.group(1)), int(m.group(2))), "TOML syntax error: " + msg[: m.start()])
        else:
            end = text.count("\n") + 1
            diags.add((end, 1), "TOML syntax error: " + msg.replace(" (at end of document)", " at end of document"))
        return None
    return compile_document(data, Context(TomlPositions(text), diags))


def compile_document(data: object, ctx: Context) -> RuleSet | None:
    """Compile a parsed rules document (dict; a bare list means PromQL rules) into a RuleSet."""
    from offload.aggregate import promql  # promql imports this module's helpers

    if isinstance(data, list):
        data = {"promql_rules": data}
    if not isinstance(data, dict):
        ctx.at_value((), "a rules file must be a table of keys")
        return None
    for key in data:
        if key not in _TOP_KEYS:
            ctx.at_key((key,), f"unknown key {key!r} (expected one of: {', '.join(sorted(_TOP_KEYS))})")

    default_window = 0
    if "default_window" in data:
        try:
            default_window = parse_window(data["default_window"])
            _check_window(default_window)
        except DurationError as exc:
            ctx.at_value(("default_window",), f"default_window: {exc}")
            default_window = 0
    ctx.default_window = default_window

    action = data.get("action", "")
    if not isinstance(action, str) or action.strip().lower() not in ("", "passthrough", "drop"):
        ctx.at_value(("action",), f"action must be \"\", \"passthrough\" or \"drop\", not {action!r}")
        action = ""
    drp = data.get("delete_rules_point", False)
    if not isinstance(drp, bool):
        ctx.at_value(("delete_rules_point",), "delete_rules_point must be true or false")
        drp = False
    ctx.series_limit = series_limit(ctx, ("series_limit",), data.get("series_limit"), DEFAULT_SERIES_LIMIT)

    rules: list[Rule] = []
    for key, compile_one in (("aggregate_rules", _rule), ("promql_rules", promql.compile_rule)):
        tables = data.get(key, [])
        if not isinstance(tables, list):
            ctx.at_value((key,), f"{key} must be an array of tables ([[{key}]])")
            continue
        for i, table in enumerate(tables):
            if not isinstance(table, dict):
                ctx.at_value((key, i), f"{key}[{i}] must be a table")
                continue
            rule = compile_one(ctx, (key, i), table, i)
            if rule is not None:
                rules.append(rule)
    if not rules and not ctx.diags:
        ctx.at_key((), "the file defines no rules (expected [[aggregate_rules]] or [[promql_rules]])")
    return RuleSet(tuple(rules), default_window, action.strip().lower(), drp)


# -- shared helpers (promql.py and rules_yaml.py use them too) -----------------------------


def series_limit(ctx: Context, path: tuple, value: object, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        ctx.at_value(path, "series_limit must be a positive integer (output series per hour)")
        return default
    return value


def _check_window(ns: int) -> None:
    if ns < 0:
        raise DurationError("a window cannot be negative")
    if ns % SECOND:
        # the server aligns windows to whole seconds (spec §4.1): a 1.5 s window drifts
        raise DurationError(f"window {format_duration(ns)} is not a whole number of seconds")


def string_list(ctx: Context, path: tuple, value: object, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        ctx.at_value(path, f"{what} must be a list of strings")
        return []
    return [v.strip() for v in value]


def whitelist(ctx: Context, path: tuple, value: object, what: str) -> tuple[str, ...]:
    """A measurements / metric_name list: exact names or `reg:` RE2 patterns (checked here)."""
    entries = string_list(ctx, path, value, what)
    for i, entry in enumerate(entries):
        if entry.startswith("reg:"):
            try:
                compile_re2(entry[4:])
            except ValueError as exc:
                ctx.at_value(path + (i,), f"{what}: {exc}")
    return tuple(entries)


def label_names(ctx: Context, path: tuple, value: object, what: str) -> tuple[str, ...]:
    names = string_list(ctx, path, value, what)
    seen: set[str] = set()
    for i, n in enumerate(names):
        if not n:
            ctx.at_value(path + (i,), f"{what}: empty label name")
        elif n in seen:
            ctx.at_value(path + (i,), f"{what}: label {n!r} is listed twice")
        seen.add(n)
    return tuple(names)


def whitelist_accepts(entries: tuple[str, ...], name: str) -> bool:
    for e in entries:
        if e.startswith("reg:"):
            try:
                if compile_re2(e[4:]).search(name) is not None:
                    return True
            except ValueError:
                continue
        elif e == name:
            return True
    return False


def _monasca(ctx: Context, path: tuple, select: dict) -> tuple[LabelMatcher, ...]:
    out: list[LabelMatcher] = []
    for key, op in (("require", "in"), ("reject", "not_in")):
        table = select.get(key)
        if table is None:
            continue
        if not isinstance(table, dict):
            ctx.at_value(path + (key,), f"select.{key} must be a table of tag = [values]")
            continue
        for label, values in table.items():
            vals = [values] if isinstance(values, str) else values
            vpath = path + (key, label)
            if not isinstance(vals, list) or not vals or not all(isinstance(v, str) for v in vals):
                ctx.at_value(vpath, f"select.{key}.{label} must be a string or a non-empty list of strings")
                continue
            for i, v in enumerate(vals):
                if v.startswith("reg:"):
                    try:
                        compile_re2(v[4:])
                    except ValueError as exc:
                        ctx.at_value(vpath + (i,) if isinstance(values, list) else vpath, str(exc))
            out.append(LabelMatcher(label, op, tuple(vals)))
    for i, label in enumerate(label_names(ctx, path + ("reject_dimension",), select.get("reject_dimension"),
                                          "select.reject_dimension")):
        if any(m.label == label and m.op == "in" for m in out):
            ctx.at_value(path + ("reject_dimension", i),
                         f"tag {label!r} is both required (select.require) and rejected (select.reject_dimension)")
        out.append(LabelMatcher(label, "absent", ()))
    return tuple(out)


def method_of(ctx: Context, path: tuple, raw: object) -> tuple[str, str, str] | None:
    """(wire method, transform, user function) for a method name, or None after an error."""
    if not isinstance(raw, str) or not raw.strip():
        ctx.at_value(path, "method is required (one of: " + ", ".join(_known_methods()) + ")")
        return None
    m = raw.strip().lower()
    m = METHOD_ALIASES.get(m, m)
    if m in SERVER_METHODS:
        return m, "raw", m
    if m in CLIENT_METHODS:
        return CLIENT_METHODS[m], "delta", m
    if m == "expo_histogram":
        ctx.at_value(path, "method 'expo_histogram' is not supported by the aggregation server")
        return None
    ctx.at_value(path, f"unknown method {raw!r} (expected one of: {', '.join(_known_methods())})")
    return None


def _known_methods() -> list[str]:
    return sorted(SERVER_METHODS | set(CLIENT_METHODS) | set(METHOD_ALIASES))


# -- one [[aggregate_rules]] table ----------------------------------------------------------


def _rule(ctx: Context, path: tuple, table: dict, index: int) -> Rule | None:
    errors_before = len(ctx.diags)
    for key in table:
        if key not in _RULE_KEYS:
            ctx.at_key(path + (key,), f"unknown key {key!r} in aggregate_rules (expected one of: "
                                      f"{', '.join(sorted(_RULE_KEYS))})")
    name = table.get("name", "")
    if not isinstance(name, str):
        ctx.at_value(path + ("name",), "name must be a string")
        name = ""
    name = name or f"aggregate_rules[{index}]"

    group_by = label_names(ctx, path + ("group_by",), table.get("group_by"), "group_by")
    group_without = None
    if "group_without" in table:
        group_without = label_names(ctx, path + ("group_without",), table.get("group_without"), "group_without")
        if group_by:
            ctx.at_key(path + ("group_without",), "by/without conflict: a rule sets either group_by or group_without")

    select = table.get("select")
    if not isinstance(select, dict):
        ctx.at_key(path, "aggregate_rules needs a [aggregate_rules.select] table with at least category")
        return None
    sp = path + ("select",)
    for key in select:
        if key not in _SELECT_KEYS:
            ctx.at_key(sp + (key,), f"unknown key {key!r} in select (expected one of: {', '.join(sorted(_SELECT_KEYS))})")
    category = select.get("category")
    if not isinstance(category, str) or category.strip() not in CATEGORIES:
        where = sp + ("category",) if "category" in select else sp
        ctx.at_value(where, f"select.category must be one of: {', '.join(sorted(CATEGORIES))}; got {category!r}")
        category = ""
    measurements = whitelist(ctx, sp + ("measurements",), select.get("measurements"), "select.measurements")
    metric_names = whitelist(ctx, sp + ("metric_name",), select.get("metric_name"), "select.metric_name")
    if not metric_names:
        ctx.at_key(sp + ("metric_name",) if "metric_name" in select else sp,
                   "select.metric_name is empty: the rule forks no fields (list the fields its algorithms read)")
    condition = select.get("condition", "")
    if not isinstance(condition, str):
        ctx.at_value(sp + ("condition",), "select.condition must be a string")
        condition = ""
    elif condition.strip():
        try:
            compile_condition(condition)
        except ConditionError as exc:
            ctx.inside(sp + ("condition",), exc.offset, f"condition: {exc.reason}")
    matchers = _monasca(ctx, sp, select)

    algos_table = table.get("algorithms")
    if not isinstance(algos_table, dict) or not algos_table:
        ctx.at_key(path + ("algorithms",) if "algorithms" in table else path,
                   "the rule has no algorithms ([aggregate_rules.algorithms.<output>] tables)")
        return None
    algorithms: list[Algorithm] = []
    for out_name, spec in algos_table.items():
        algorithms.extend(_algorithm(ctx, path + ("algorithms", out_name), out_name, spec, metric_names, group_by))
    _check_collisions(ctx, path + ("algorithms",), algorithms)
    limit = series_limit(ctx, path + ("series_limit",), table.get("series_limit"), ctx.series_limit)
    if len(ctx.diags) > errors_before:
        return None
    selector = Selector(category.strip(), measurements, metric_names, condition.strip(), matchers)
    return Rule(name, selector, tuple(sorted(group_by)), tuple(algorithms),
                group_without=tuple(sorted(group_without)) if group_without is not None else None,
                series_limit=limit, origin="datakit", position=ctx.locator.key(path))


def _algorithm(ctx: Context, path: tuple, out: str, spec: object, metric_names: tuple[str, ...],
               group_by: tuple[str, ...]) -> list[Algorithm]:
    if not isinstance(spec, dict):
        ctx.at_value(path, f"algorithms.{out} must be a table")
        return []
    for key in spec:
        if key not in _ALGO_KEYS:
            ctx.at_key(path + (key,), f"unknown key {key!r} in algorithms.{out} (expected one of: "
                                      f"{', '.join(sorted(_ALGO_KEYS))})")
    if not out.strip():
        ctx.at_key(path, "an algorithm needs a non-empty output name")
    method = method_of(ctx, path + ("method",), spec.get("method"))
    source = spec.get("source_field", "")
    if not isinstance(source, str):
        ctx.at_value(path + ("source_field",), "source_field must be a string")
        source = ""
    source = source.strip()
    reads = source or out
    if metric_names and reads not in group_by and not whitelist_accepts(metric_names, reads):
        ctx.at_value(path + ("source_field",) if source else path,
                     f"algorithm {out!r} reads field {reads!r}, which select.metric_name does not fork")

    configured = 0
    window = ctx.default_window
    if "window" in spec:
        w = spec["window"]
        if isinstance(w, bool) or not isinstance(w, int):
            ctx.at_value(path + ("window",), "window must be integer nanoseconds (e.g. 60000000000 for 1m); "
                                             "use default_window for a duration string")
        else:
            configured = w
            if w > 10:  # spec §1: values <= 10 fall back to default_window
                window = w
                try:
                    _check_window(w)
                except DurationError as exc:
                    ctx.at_value(path + ("window",), str(exc))

    add_tags: tuple[tuple[str, str], ...] = ()
    tags = spec.get("add_tags", {})
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        ctx.at_value(path + ("add_tags",), "add_tags must be a table of string values")
    else:
        add_tags = tuple(sorted(tags.items()))

    buckets = None
    if "histogram_opts" in spec:
        h = spec["histogram_opts"]
        b = h.get("buckets", []) if isinstance(h, dict) else None
        if not isinstance(b, list) or not all(_is_number(x) for x in b):
            ctx.at_value(path + ("histogram_opts",), "histogram_opts.buckets must be a list of numbers")
        else:
            buckets = tuple(float(x) for x in b)
    expo = None
    if "expo_opts" in spec:
        e = spec["expo_opts"]
        if not isinstance(e, dict):
            ctx.at_value(path + ("expo_opts",), "expo_opts must be a table")
        else:
            expo = (int(e.get("max_scale", 0)), int(e.get("max_buckets", 0)), bool(e.get("record_min_max", False)))
    percentiles = None
    if "quantile_opts" in spec:
        q = spec["quantile_opts"]
        ps = q.get("percentiles") if isinstance(q, dict) else None
        qpath = path + ("quantile_opts", "percentiles")
        if not isinstance(ps, list) or not all(_is_number(x) for x in ps):
            ctx.at_value(qpath, "quantile_opts.percentiles must be a list of numbers in [0, 1]")
        else:
            for i, x in enumerate(ps):
                if not (0.0 <= float(x) <= 1.0) or math.isnan(float(x)):
                    ctx.at_value(qpath + (i,), f"percentile {x} is out of range: percentiles are in [0, 1] "
                                               f"(0.99 means p99)")
            percentiles = tuple(float(x) for x in ps)
    if method is not None and method[0] == "quantiles" and not percentiles:
        ctx.at_key(path + ("method",), "method 'quantiles' needs quantile_opts.percentiles (e.g. [0.5, 0.99])")
    if method is None:
        return []
    wire, transform, function = method
    base = Algorithm(out, wire, source, window, add_tags, buckets, expo, percentiles, transform, function, configured)
    if "resolutions" not in spec:
        return [base]
    expanded = rollup.expand(ctx, path + ("resolutions",), out, window, spec["resolutions"])
    return [
        Algorithm(name, wire, source or out, w, add_tags, buckets, expo, percentiles, transform, function, w)
        for name, w in expanded
    ]


def _check_collisions(ctx: Context, path: tuple, algorithms: list[Algorithm]) -> None:
    seen: set[str] = set()
    for a in algorithms:
        if a.output in seen:
            ctx.at_key(path, f"two algorithms of this rule produce the output {a.output!r} "
                             f"(resolution names are <output>_<resolution>)")
        seen.add(a.output)


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
