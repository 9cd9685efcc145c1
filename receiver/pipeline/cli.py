"""`offload-receiver pipeline run SCRIPT --source NAME (--input FILE | --message TEXT)`.

One logging point per input line (name = NAME, field `message` = the line, time = now),
one JSON object per point on stdout: {"name", "tags", "fields", "time", "dropped", "error"}.
Extra points made by create_point follow their parent as objects of their own. A script
that does not compile exits 2 with the positioned error on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from offload.point import Point

from .aggbuckets import AggBuckets

from .errors import CompileError
from .runtime import compile_script
from .store import ScriptStore

__all__ = ["run_command"]


def _jsonable(v: Any) -> Any:
    t = type(v)
    if t is bytes:
        return v.decode("utf-8", "replace")
    if t is float and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, int) and t is not bool:
        return int(v)
    if t is list:
        return [_jsonable(x) for x in v]
    if t is dict:
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def _render(pt: Point, dropped: bool, error: str | None) -> str:
    obj = {
        "name": pt.name,
        "tags": dict(pt.tags),
        "fields": {k: _jsonable(v) for k, v in pt.fields.items()},
        "time": pt.time,
        "dropped": dropped,
        "error": error,
    }
    return json.dumps(obj, ensure_ascii=False)


def _lines(args: argparse.Namespace) -> Iterator[str]:
    if args.message is not None:
        yield args.message
        return
    stream = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8", errors="replace")
    try:
        for line in stream:
            yield line[:-1] if line.endswith("\n") else line
    finally:
        if stream is not sys.stdin:
            stream.close()


def run_command(args: argparse.Namespace) -> int:
    """Run a script over raw lines and print the resulting points as JSON lines."""
    path = Path(args.script)
    try:
        source = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        print(f"error: cannot read script {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        script = compile_script(source, path.name)
    except CompileError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    category = getattr(args, "category", None) or "logging"
    # `use("other")` finds sibling scripts the way the receiver's store would.
    store = ScriptStore(path.parent if category == "logging" else path.parent.parent)
    script.resolver = lambda name: store.get(category, name)
    out = sys.stdout
    buckets = AggBuckets()  # agg_create: emitted on on_count, and whatever they hold at the end of the input
    try:
        for line in _lines(args):
            pt = Point(args.source, {}, {"message": line}, time.time_ns())
            r = script.run(pt, category)
            out.write(_render(pt, r.dropped, r.error) + "\n")
            for extra in r.extra:
                out.write(_render(extra, False, None) + "\n")
            if script.agg_pending:
                emitted = buckets.apply(script.agg_pending, None)
                script.agg_pending.clear()
                for _, points in emitted:
                    for p in points:
                        out.write(_render(p, False, None) + "\n")
    except OSError as exc:
        print(f"error: cannot read input: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for _, points in buckets.flush_all():
        for p in points:
            out.write(_render(p, False, None) + "\n")
    out.flush()
    return 0
