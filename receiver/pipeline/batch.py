"""`run_batch`: run the right script over each point of a batch (what receiver workers call).

The script of a point is `source` when given, else the default name of platypus.md §1.1
(`script_name()`: the measurement for logging and most categories, `<service>` for tracing
and profiling, `<app_id>_<measurement>` for RUM, `<category>` for security, `<df_source>`
for keyevent). Points with no script
pass through unchanged (counted as `unprocessed`); dropped points are counted and left out;
runtime errors are counted, a few messages sampled, and the point is kept as the failed run
left it (platypus.md §1.5). Extra points made by create_point follow their parent; those of another category are
set aside in `side`, by category.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from offload.point import Point

from .store import ScriptStore

__all__ = ["BatchResult", "MAX_ERROR_SAMPLES", "run_batch", "script_name"]

MAX_ERROR_SAMPLES = 10


@dataclass
class BatchResult:
    points: list[Point] = field(default_factory=list)
    dropped: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    unprocessed: int = 0
    # extra points (create_point) of other categories than the batch's, by category
    side: dict[str, list[Point]] = field(default_factory=dict)
    # agg_create/agg_metric operations for the owner of the buckets (aggbuckets.py), in order
    agg: list[tuple] = field(default_factory=list)


def _key(pt: Point, key: str) -> str | None:
    v = pt.tags.get(key)
    if v is None:
        v = pt.fields.get(key)
    return v if type(v) is str and v else None


def script_name(category: str, pt: Point) -> str | None:
    """The default script name of a point (§1.1); None when the point lacks the key it needs."""
    if category in ("tracing", "profiling"):
        return _key(pt, "service")
    if category == "rum":
        app_id = _key(pt, "app_id")
        return f"{app_id}_{pt.name}" if app_id else None
    if category == "security":
        return _key(pt, "category")
    if category == "keyevent":
        return _key(pt, "df_source")
    return pt.name


def run_batch(store: ScriptStore, category: str, points: list[Point], source: str | None = None) -> BatchResult:
    """Process `points` in order with the store's scripts; see the module docstring."""
    out = BatchResult()
    kept = out.points
    scripts: dict = {}  # one store lookup per distinct script name per batch
    created: set = set()  # agg_create buckets already in out.agg: one create each is enough
    for pt in points:
        name = source if source is not None else (pt.name if category == "logging" else script_name(category, pt))
        script = scripts.get(name, False)
        if script is False:
            script = scripts[name] = store.get(category, name) if name else None
        if script is None:
            kept.append(pt)
            out.unprocessed += 1
            continue
        _, dropped, error, extra, cats = script.run(pt, category)
        if error is not None:
            out.errors += 1
            if len(out.error_samples) < MAX_ERROR_SAMPLES:
                out.error_samples.append(error)
        if dropped:
            out.dropped += 1
        else:
            kept.append(pt)
        if script.agg_pending:  # agg_create/agg_metric operations, in order (aggbuckets.py)
            _take_agg(out.agg, script.agg_pending, created)
        if extra:
            for p, c in zip(extra, cats or ()):
                if c == category:
                    kept.append(p)
                else:  # create_point(category=...) of another category: written there
                    out.side.setdefault(c, []).append(p)
    return out


def _take_agg(out: list, pending: list, created: set) -> None:
    for op in pending:
        if op[0] == "c":
            key = (op[1], op[2])
            if key in created:
                continue
            created.add(key)
        out.append(op)
    pending.clear()
