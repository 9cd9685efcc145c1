"""`run_batch`: run the right script over each point of a batch (what receiver workers call).

The script of a point is `source` when given, else the point's name. Points with no script
pass through unchanged (counted as `unprocessed`); dropped points are counted and left out;
runtime errors are counted, a few messages sampled, and the point is kept as the failed run
left it (platypus.md §1.5). Extra points made by create_point follow their parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from offload.point import Point

from .store import ScriptStore

__all__ = ["BatchResult", "run_batch", "MAX_ERROR_SAMPLES"]

MAX_ERROR_SAMPLES = 10


@dataclass
class BatchResult:
    points: list[Point] = field(default_factory=list)
    dropped: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    unprocessed: int = 0


def run_batch(store: ScriptStore, category: str, points: list[Point], source: str | None = None) -> BatchResult:
    """Process `points` in order with the store's scripts; see the module docstring."""
    out = BatchResult()
    kept = out.points
    scripts: dict = {}  # one store lookup per distinct script name per batch
    for pt in points:
        name = source if source is not None else pt.name
        script = scripts.get(name, False)
        if script is False:
            script = scripts[name] = store.get(category, name)
        if script is None:
            kept.append(pt)
            out.unprocessed += 1
            continue
        r = script.run(pt, category)
        if r.error is not None:
            out.errors += 1
            if len(out.error_samples) < MAX_ERROR_SAMPLES:
                out.error_samples.append(r.error)
        if r.dropped:
            out.dropped += 1
        else:
            kept.append(pt)
        if r.extra:
            kept.extend(r.extra)
    return out
