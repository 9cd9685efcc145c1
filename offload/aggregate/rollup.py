"""Several resolutions from one rule: one algorithm per resolution, named `<output>_<resolution>`.

A rule algorithm (TOML) or a PromQL rule may carry `resolutions = ["1m", "5m", "1h", "4h"]`.
Each resolution becomes its own algorithm with `window` = that resolution and the
output name `<output>_<res>`, where `<res>` is the shortest exact single-unit spelling
(`format_duration`: 60 s -> `1m`, 90 s -> `90s`, 4 h -> `4h`, 1 d -> `1d`). Every
resolution must be a whole multiple of the rule's base window (the algorithm's
`window`, else `default_window`; for PromQL the `[range]`).

Naming scheme, why: the server keys a calculator by (series, method, output name,
measurement) and all windows that end at the same second share a bucket, so
resolutions must differ in the output name or a 5m and a 1m window ending at 10:05
would merge. An underscore suffix keeps every output a valid Prometheus/line-protocol
name, and the server's per-statistic suffixes follow it: with method `rollup`, output
`latency_5m` is written as fields `latency_5m_sum`, `latency_5m_count`, `latency_5m_min`,
`latency_5m_max`, `latency_5m_first`, `latency_5m_first_ts`, `latency_5m_last` (the counter
value accounting for resets: first + increase) and
`latency_5m_increase` (reset-aware). `rollup` is computed per calculator, i.e. per
group: for counters, group by the labels that identify a raw series (or use
`increase` / `sum2`, which the agent makes reset-aware per raw series).
"""

from __future__ import annotations

from offload.aggregate.diagnostics import Context
from offload.aggregate.durations import DurationError, format_duration, parse_go_duration, parse_prom_duration

__all__ = ["ROLLUP_FIELDS", "output_name", "parse_resolution", "expand"]

# Fields the server's `rollup` calculator writes for an output K: K_<suffix>.
ROLLUP_FIELDS = ("sum", "count", "min", "max", "first", "first_ts", "last", "increase")


def output_name(base: str, window: int) -> str:
    """The output name of `base` at one resolution: `latency` at 300 s -> `latency_5m`."""
    return f"{base}_{format_duration(window)}"


def parse_resolution(value: object) -> int:
    """A resolution as integer ns, a Go duration ("90s", "1h30m") or a PromQL one ("1d", "1w")."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise DurationError("a resolution must be a duration string such as \"5m\"")
    if isinstance(value, int):
        return value
    try:
        return parse_go_duration(value)
    except DurationError:
        try:
            return parse_prom_duration(value)
        except DurationError:
            raise DurationError(f"invalid resolution {value!r} (expected a duration such as \"5m\", \"4h\", \"1d\")")


def expand(ctx: Context, path: tuple, output: str, base_window: int, resolutions: object) -> list[tuple[str, int]]:
    """[(output name, window ns)] for the `resolutions` list at `path`; problems go to ctx."""
    if not isinstance(resolutions, list) or not resolutions:
        ctx.at_value(path, "resolutions must be a non-empty list of durations such as [\"1m\", \"5m\"]")
        return []
    if base_window <= 0:
        ctx.at_key(path, "resolutions need a base window: set default_window or the algorithm's window")
        return []
    out: list[tuple[str, int]] = []
    seen: set[int] = set()
    for i, raw in enumerate(resolutions):
        try:
            w = parse_resolution(raw)
        except DurationError as exc:
            ctx.at_value(path + (i,), str(exc))
            continue
        if w <= 0:
            ctx.at_value(path + (i,), f"resolution {raw!r} must be positive")
            continue
        if w % base_window:
            ctx.at_value(
                path + (i,),
                f"resolution {format_duration(w)} is not a whole multiple of the base window "
                f"{format_duration(base_window)}",
            )
            continue
        if w in seen:
            ctx.at_value(path + (i,), f"resolution {format_duration(w)} is listed twice")
            continue
        seen.add(w)
        out.append((output_name(output, w), w))
    return out
