"""PromQL-form rules (Levitate's streaming aggregation), compiled into the same `Rule` objects.

    [[promql_rules]]
    promql = 'sum by (stack, le) (http_requests_duration_seconds_bucket{service="pushnotifs"}[2m])'
    as = "pushnotifs_http_requests_duration:2m"
    # optional: category = "metric", resolutions = ["2m", "10m"], series_limit = 100000,
    #           add_tags = { team = "push" }

Accepted expression (one aggregation over one selector; the range is the tumbling window):

    <function> [by|without (l1, l2, ...)] ( <selector> )  [by|without (...)]
    <function> ::= sum | count | min | max | avg | last | sum2 | increase | stddev
                 | quantile(<φ in [0,1]>, <selector>)
    <selector> ::= <metric name> [ { label op "value", ... } ] [ [<range>] ]
    op ::= =  !=  =~  !~        (regexes are RE2 and fully anchored, as in PromQL)

Mapping onto points and the server:
* Metric names follow Guance's PromQL naming: a point `<measurement>` with field `<field>`
  is the series `<measurement>_<field>`; labels are the point's tags; a missing tag
  reads as "" (so `debug_id=""` rejects every point that has the dimension at all).
* The forked point carries the sample under the field name given by `as`, so series
  picked by a name regex aggregate together; the output is written by the server as
  field `<as>` (plus `<as>_count`) of the input measurement, with the grouping tags.
* Functions: sum, count, min, max, avg, last map onto the server methods of that
  name, stddev onto `stdev`, quantile onto `quantiles`; `increase` and `sum2` are
  counter-reset aware: the agent turns each sample into its increase since the
  previous sample of the same raw series (a drop means a reset: the increase is
  the new value) and the server sums them per group and window.
* `by (...)` groups by those tags; `without (...)` by every tag except those; no
  clause aggregates each measurement into one series. A `_bucket` metric must keep
  `le` in its grouping so `histogram_quantile` works on the output.
* No range: the file's `default_window`.

Errors carry the offset inside the expression; the front end turns it into a
file line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from offload.aggregate import rollup
from offload.aggregate.condition import compile_re2
from offload.aggregate.diagnostics import Context
from offload.aggregate.durations import SECOND, DurationError, parse_prom_duration
from offload.aggregate.rules import CATEGORIES, Algorithm, LabelMatcher, Rule, Selector

__all__ = ["PromQLError", "Aggregation", "parse", "compile_rule", "FUNCTIONS"]

# function -> (server method, transform)
FUNCTIONS = {
    "sum": ("sum", "raw"),
    "count": ("count", "raw"),
    "min": ("min", "raw"),
    "max": ("max", "raw"),
    "avg": ("avg", "raw"),
    "last": ("last", "raw"),
    "stddev": ("stdev", "raw"),
    "quantile": ("quantiles", "raw"),
    "sum2": ("sum", "delta"),
    "increase": ("sum", "delta"),
}
_RULE_KEYS = {"promql", "as", "category", "resolutions", "series_limit", "add_tags"}
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")


class PromQLError(ValueError):
    """A PromQL rule that does not parse or is not supported; `offset` is 0-based in the expression."""

    def __init__(self, message: str, offset: int) -> None:
        self.reason = message
        self.offset = offset
        super().__init__(f"{message} (at column {offset + 1})")


@dataclass(frozen=True)
class Aggregation:
    """The parsed expression."""

    function: str
    param: float | None  # quantile's φ
    metric: str  # "" when only __name__ matchers select
    matchers: tuple[LabelMatcher, ...]  # label matchers (PromQL ops), __name__ included
    by: tuple[str, ...] | None
    without: tuple[str, ...] | None
    range_ns: int  # 0 = not given


# -- lexer --------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<dur>\d[\d.]*[a-df-z][0-9a-z.]*)
  | (?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![a-zA-Z_0-9.]))
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|=|[(){}\[\],@+\-*/%^<>])
    """,
    re.VERBOSE,
)
_ESC = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(raw: str) -> str:
    if raw[0] == "`":
        return raw[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESC.get(m.group(1), "\\" + m.group(1)), raw[1:-1])


def _lex(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos] in "\"'`":
                raise PromQLError("unterminated string", pos)
            raise PromQLError(f"unexpected character {text[pos]!r}", pos)
        if m.lastgroup != "ws":
            out.append((m.lastgroup or "", m.group(), pos))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


# -- parser -------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _lex(text)
        self.i = 0

    def peek(self, k: int = 0) -> tuple[str, str, int]:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> tuple[str, str, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, value: str, why: str) -> tuple[str, str, int]:
        tok = self.next()
        if tok[1] != value or tok[0] not in ("op",):
            raise PromQLError(f"expected '{value}' {why}, found {_show(tok)}", tok[2])
        return tok

    def aggregation(self) -> Aggregation:
        tok = self.next()
        if tok[0] != "ident":
            raise PromQLError(f"expected an aggregation such as sum by (...) (metric[1m]), found {_show(tok)}", tok[2])
        fname = tok[1].lower()
        nxt = self.peek()
        if nxt[1] not in ("(",) and nxt[1].lower() not in ("by", "without"):
            raise PromQLError(
                f"expected an aggregation around the selector, such as sum by (...) ({tok[1]}[1m])", tok[2]
            )
        if fname not in FUNCTIONS:
            raise PromQLError(f"unknown function {tok[1]!r} (streaming aggregation supports: "
                              f"{', '.join(sorted(FUNCTIONS))})", tok[2])
        by = without = None
        grouping_pos = -1
        if self.peek()[1].lower() in ("by", "without"):
            grouping_pos = self.peek()[2]
            kind, labels = self.grouping()
            by, without = (labels, None) if kind == "by" else (None, labels)
        self.expect("(", f"to open the arguments of {fname}")
        param = None
        if fname == "quantile":
            ptok = self.next()
            if ptok[0] != "num":
                raise PromQLError(f"quantile needs a number φ in [0, 1] as first argument, found {_show(ptok)}",
                                  ptok[2])
            param = float(ptok[1])
            if not 0.0 <= param <= 1.0:
                raise PromQLError(f"quantile φ {ptok[1]} is out of range [0, 1]", ptok[2])
            self.expect(",", "after the quantile φ")
        metric, matchers, range_ns = self.selector()
        self.expect(")", f"to close the arguments of {fname}")
        if self.peek()[1].lower() in ("by", "without"):
            tok2 = self.peek()
            if by is not None or without is not None:
                raise PromQLError("by/without conflict: the grouping is given twice", tok2[2])
            kind, labels = self.grouping()
            by, without = (labels, None) if kind == "by" else (None, labels)
            grouping_pos = tok2[2]
        end = self.next()
        if end[0] != "end":
            raise PromQLError(f"unexpected {_show(end)} after the aggregation (one aggregation per rule)", end[2])
        agg = Aggregation(fname, param, metric, matchers, by, without, range_ns)
        _check_histogram(agg, grouping_pos)
        return agg

    def grouping(self) -> tuple[str, tuple[str, ...]]:
        kw = self.next()
        kind = kw[1].lower()
        self.expect("(", f"after {kind}")
        labels: list[str] = []
        while self.peek()[1] != ")":
            tok = self.next()
            if tok[0] != "ident" or ":" in tok[1]:
                raise PromQLError(f"expected a label name in {kind} (...), found {_show(tok)}", tok[2])
            if tok[1] in labels:
                raise PromQLError(f"label {tok[1]!r} is listed twice in {kind} (...)", tok[2])
            labels.append(tok[1])
            if self.peek()[1] == ",":
                self.next()
            elif self.peek()[1] != ")":
                t = self.peek()
                raise PromQLError(f"expected ',' or ')' in {kind} (...), found {_show(t)}", t[2])
        self.next()
        return kind, tuple(labels)

    def selector(self) -> tuple[str, tuple[LabelMatcher, ...], int]:
        metric = ""
        tok = self.peek()
        if tok[0] == "ident":
            if self.peek(1)[1] == "(":
                name = tok[1]
                if name.lower() in FUNCTIONS:
                    raise PromQLError(f"nested aggregation {name}(...) is not supported: one aggregation per rule",
                                      tok[2])
                raise PromQLError(f"unknown function {name!r}: a rule aggregates raw samples, "
                                  f"write the selector directly (e.g. sum(metric[1m]))", tok[2])
            metric = tok[1]
            self.next()
        matchers: list[LabelMatcher] = []
        if self.peek()[1] == "{":
            self.next()
            while self.peek()[1] != "}":
                matchers.append(self.matcher())
                if self.peek()[1] == ",":
                    self.next()
                elif self.peek()[1] != "}":
                    t = self.peek()
                    raise PromQLError(f"expected ',' or '}}' in the label matchers, found {_show(t)}", t[2])
            self.next()
        if not metric and not any(m.label == "__name__" for m in matchers):
            raise PromQLError("a selector needs a metric name (or a __name__ matcher)", tok[2])
        range_ns = 0
        if self.peek()[1] == "[":
            self.next()
            dtok = self.next()
            if dtok[0] not in ("dur", "num"):
                raise PromQLError(f"expected a range such as [2m], found {_show(dtok)}", dtok[2])
            try:
                range_ns = parse_prom_duration(dtok[1])
            except DurationError as exc:
                raise PromQLError(str(exc), dtok[2]) from None
            if range_ns <= 0 or range_ns % SECOND:
                raise PromQLError(f"range {dtok[1]} must be a positive whole number of seconds", dtok[2])
            close = self.next()
            if close[1] == ":":
                raise PromQLError("subqueries are not supported", close[2])
            if close[1] != "]":
                raise PromQLError(f"expected ']' to close the range, found {_show(close)}", close[2])
        if self.peek()[0] == "ident" and self.peek()[1].lower() == "offset" or self.peek()[1] == "@":
            t = self.peek()
            raise PromQLError(f"{t[1]!r} modifiers are not supported in streaming aggregation", t[2])
        return metric, tuple(matchers), range_ns

    def matcher(self) -> LabelMatcher:
        tok = self.next()
        if tok[0] != "ident" or ":" in tok[1]:
            raise PromQLError(f"expected a label name, found {_show(tok)}", tok[2])
        op = self.next()
        if op[0] != "op" or op[1] not in ("=", "!=", "=~", "!~"):
            raise PromQLError(f"expected one of = != =~ !~ after {tok[1]!r}, found {_show(op)}", op[2])
        val = self.next()
        if val[0] != "str":
            raise PromQLError(f"expected a quoted string after {tok[1]}{op[1]}, found {_show(val)}", val[2])
        value = _unquote(val[1])
        if op[1] in ("=~", "!~"):
            try:
                compile_re2(value)
                compile_re2(f"^(?:{value})$")
            except ValueError as exc:
                raise PromQLError(str(exc), val[2]) from None
        return LabelMatcher(tok[1], op[1], (value,))


def _show(tok: tuple[str, str, int]) -> str:
    return "end of expression" if tok[0] == "end" else repr(tok[1])


def _check_histogram(agg: Aggregation, pos: int) -> None:
    bucket = agg.metric.endswith("_bucket") or any(
        m.label == "__name__" and m.op in ("=", "=~") and m.values[0].endswith("_bucket") for m in agg.matchers
    )
    if not bucket:
        return
    if agg.by is not None and "le" not in agg.by:
        raise PromQLError("histogram buckets must keep 'le' in by (...) so histogram_quantile works on the output",
                          max(pos, 0))
    if agg.without is not None and "le" in agg.without:
        raise PromQLError("histogram buckets cannot drop 'le' with without (...): histogram_quantile needs it",
                          max(pos, 0))
    if agg.by is None and agg.without is None:
        raise PromQLError("histogram buckets need by (..., le): without grouping 'le' would be summed away", 0)


def parse(text: str) -> Aggregation:
    """Parse one rule expression; raises PromQLError with the offset of the problem."""
    if not text.strip():
        raise PromQLError("empty expression", 0)
    return _Parser(text).aggregation()


# -- compile into a Rule --------------------------------------------------------------------


def compile_rule(ctx: Context, path: tuple, table: dict, index: int) -> Rule | None:
    """Compile one `[[promql_rules]]` table (or YAML item) into a Rule; problems go to ctx."""
    from offload.aggregate.rules_toml import series_limit  # shared validation helper

    errors_before = len(ctx.diags)
    for key in table:
        if key not in _RULE_KEYS:
            ctx.at_key(path + (key,), f"unknown key {key!r} in promql_rules (expected one of: "
                                      f"{', '.join(sorted(_RULE_KEYS))})")
    expr = table.get("promql")
    if not isinstance(expr, str):
        ctx.at_key(path + ("promql",) if "promql" in table else path, "promql rule needs promql = '<expression>'")
        return None
    out = table.get("as")
    if not isinstance(out, str) or not _NAME.match(out):
        ctx.at_key(path + ("as",) if "as" in table else path,
                   "promql rule needs as = '<output name>' (letters, digits, '_' and ':')")
        out = None
    category = table.get("category", "metric")
    if not isinstance(category, str) or category not in CATEGORIES:
        ctx.at_value(path + ("category",), f"category must be one of: {', '.join(sorted(CATEGORIES))}")
    try:
        agg = parse(expr)
    except PromQLError as exc:
        ctx.inside(path + ("promql",), exc.offset, exc.reason)
        return None
    window = agg.range_ns or ctx.default_window
    if window <= 0:
        ctx.at_value(path + ("promql",), "the expression needs a range such as [2m] (or set default_window)")
    add_tags = table.get("add_tags", {})
    if not isinstance(add_tags, dict) or not all(isinstance(v, str) for v in add_tags.values()):
        ctx.at_value(path + ("add_tags",), "add_tags must be a table of string values")
        add_tags = {}
    limit = series_limit(ctx, path + ("series_limit",), table.get("series_limit"), ctx.series_limit)
    if out is None or len(ctx.diags) > errors_before:
        return None

    method, transform = FUNCTIONS[agg.function]
    percentiles = (agg.param,) if agg.param is not None else None
    tags = tuple(sorted(add_tags.items()))
    if "resolutions" in table:
        outputs = rollup.expand(ctx, path + ("resolutions",), out, window, table["resolutions"])
        if len(ctx.diags) > errors_before:
            return None
    else:
        outputs = [(out, window)]
    algorithms = tuple(
        Algorithm(name, method, out, w, tags, None, None, percentiles, transform, agg.function, w)
        for name, w in outputs
    )
    label_matchers = tuple(m for m in agg.matchers if m.label != "__name__")
    name_matchers = tuple(LabelMatcher("__name__", m.op, m.values) for m in agg.matchers if m.label == "__name__")
    if agg.metric:
        name_matchers = (LabelMatcher("__name__", "=", (agg.metric,)),) + name_matchers
    selector = Selector(category, (), (), "", label_matchers, name_matchers)
    return Rule(
        name=out,
        selector=selector,
        group_by=tuple(sorted(agg.by or ())),
        algorithms=algorithms,
        group_without=tuple(sorted(agg.without)) if agg.without is not None else None,
        series_limit=limit,
        origin="promql",
        promql=expr.strip(),
        rename_field=out,
        position=ctx.locator.key(path),
    )
