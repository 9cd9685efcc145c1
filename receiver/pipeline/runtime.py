"""Running compiled scripts: the per-point Context that built-ins use, Script.run, RunResult.

A run (platypus.md §1.4-1.5): call the compiled function once for the point; on success
apply post-processing (§8: status, `time` promotion, drop); on a runtime error keep the
point as modified so far, skip post-processing and report the positioned message. The
Context is the built-ins' whole view of the run (registry.py documents the contract);
it stores values following §7.2 and reads them following §7.1.
"""

from __future__ import annotations

import time
from operator import itemgetter as _itemgetter
from typing import Any, Callable

from offload.point import Point

from .budget import DEFAULT_BUDGET, over_budget
from .compiler import CompiledCode, compile_tree
from .convert import point_value, to_field_value, to_tag_string
from .errors import CompileError, ScriptError, ScriptExit
from .parser import parse
from .postprocess import (
    _STATUS_CACHE,
    _normalized,
    _status_of,
    postprocess,
    promote_time,
)
from .registry import MISSING, ScriptRuntimeError
from .ptwindow import WINDOW_OPTION, Windows

AGG_OPTION = "\x00agg"  # ctx.options key of agg_create/agg_metric operations (builtins/aggfns.py)

__all__ = ["Context", "DEFAULT_BUDGET", "RunResult", "Script", "compile_script"]

_NO_VARS: dict = {}
_tuple_new = tuple.__new__
# field values a script reads as they are (§7.1), and MISSING itself
_STR_OR_INT = frozenset((str, int))
_PLAIN_READ = frozenset((str, int, float, bool, type(None), type(MISSING)))
_monotonic = time.monotonic


class Context:
    """The run-time context of one run on one point (the `ctx` of built-ins).

    A Script reuses one Context for consecutive runs (allocating one per point costs
    more than a short script), so built-ins must not keep a reference to it after
    returning. `options` and `new_points` are created on first use.
    """

    __slots__ = ("point", "category", "vars", "dropped", "deadline", "budget", "resolver", "_using",
                 "_options", "_new_points", "_new_point_categories")

    def __init__(self, point: Point, category: str = "logging", budget: float = DEFAULT_BUDGET,
                 resolver: Callable[[str], "Script | None"] | None = None) -> None:
        self.point = point
        self.category = category
        self.vars = _NO_VARS
        self.dropped = False
        self.budget = budget
        self.deadline = _monotonic() + budget
        self.resolver = resolver
        self._using: tuple = ()
        self._options: dict | None = None
        self._new_points: list | None = None
        self._new_point_categories: list | None = None

    @property
    def options(self) -> dict:
        """Options set by setopt() for this run (e.g. {"status_mapping": False})."""
        if self._options is None:
            self._options = {}
        return self._options

    @property
    def new_points(self) -> list:
        """Extra points to emit after the run (create_point)."""
        if self._new_points is None:
            self._new_points = []
        return self._new_points

    @property
    def new_point_categories(self) -> list:
        if self._new_point_categories is None:
            self._new_point_categories = []
            if self._new_points is None:  # Script.run's fast path relies on: no new_points, no categories
                self._new_points = []
        return self._new_point_categories

    # -- reading -------------------------------------------------------------------------
    def read(self, key: str) -> Any:
        """Variable `key` if the script has one in scope, else the point key (§5.1); MISSING if neither."""
        vars_ = self.vars
        if vars_:
            v = vars_.get(key, MISSING)
            if v is not MISSING:
                return v
        pt = self.point
        tags = pt.tags
        if not tags or key not in tags:  # inline point_value() for a plain field or no such key
            v = pt.fields.get(key, MISSING)
            if v.__class__ in _PLAIN_READ:
                return v
        return point_value(tags, pt.fields, key)

    def read_point(self, key: str) -> Any:
        """Point key `key` converted for the script (§7.1); MISSING when absent."""
        pt = self.point
        return point_value(pt.tags, pt.fields, key)

    # -- writing (§7.2) ------------------------------------------------------------------
    def set_field(self, key: str, value: Any) -> None:
        """Store a field; an existing tag stays a tag; list/map become JSON; nil a no-value field."""
        pt = self.point
        tags = pt.tags
        if key in tags:
            tags[key] = to_tag_string(value)
            return
        t = type(value)
        pt.fields[key] = to_field_value(value) if (t is list or t is dict) else value

    def set_tag(self, key: str, value: Any) -> None:
        """Store a tag (string-converted); an existing field of that name becomes the tag."""
        pt = self.point
        pt.fields.pop(key, None)
        pt.tags[key] = value if type(value) is str else to_tag_string(value)

    def delete_key(self, key: str) -> None:
        pt = self.point
        if pt.tags.pop(key, MISSING) is MISSING:
            pt.fields.pop(key, None)

    def rename_key(self, old: str, new: str) -> None:
        """Rename a key in place, keeping its kind; an existing `new` is removed first. No-op if `old` is absent."""
        if old == new:
            return
        pt = self.point
        if old in pt.tags:
            d, other = pt.tags, pt.fields
        elif old in pt.fields:
            d, other = pt.fields, pt.tags
        else:
            return
        other.pop(new, None)
        d.pop(new, None)
        items = list(d.items())
        d.clear()
        for k, v in items:
            d[new if k == old else k] = v

    def set_name(self, name: str) -> None:
        self.point.name = name

    def drop(self) -> None:
        self.dropped = True

    def exit(self) -> None:
        """Stop the script now; the run counts as successful."""
        raise ScriptExit()

    # -- engine extensions ----------------------------------------------------------------
    def check_deadline(self) -> None:
        """Raise BudgetExceeded if the run is past its time budget (for long built-in loops)."""
        if _monotonic() > self.deadline:
            raise over_budget(self)

    def add_point(self, point: Point, category: str | None = None) -> None:
        """Emit an extra point after the run (create_point)."""
        self.new_points.append(point)
        self.new_point_categories.append(category or self.category)

    def run_script(self, name: str) -> None:
        """Run script `name` (same category) on this point with fresh variables (`use`)."""
        script = self.resolver(name) if self.resolver is not None else None
        if script is None:
            return
        if name in self._using or script.name in self._using:
            raise ScriptRuntimeError(f"cyclic use of script {name!r}")
        saved_vars, saved_using = self.vars, self._using
        self._using = saved_using + (name,)
        self.vars = _NO_VARS  # a fresh scope: the used script's built-ins never see this one's variables
        pt = self.point
        try:
            script.main(self, pt.tags, pt.fields)
        except ScriptExit:
            pass
        finally:
            self.vars, self._using = saved_vars, saved_using


class RunResult(tuple):
    """The outcome of one run: the (modified) point, whether it is dropped, the error, extra points.

    A tuple underneath (made in one C call: this is per point); `extra` and `extra_categories`
    are [] when the run made no extra point."""

    __slots__ = ()

    def __new__(cls, point: Point, dropped: bool, error: str | None, extra: list | None = None,  # noqa: PYI034
                extra_categories: list | None = None) -> RunResult:
        return _tuple_new(cls, (point, dropped, error, extra, extra_categories))

    point = property(_itemgetter(0), doc="the point, modified in place")
    dropped = property(_itemgetter(1), doc="dropped by the script or by the status ignore list")
    error = property(_itemgetter(2), doc="the positioned runtime error message, or None")

    @property
    def extra(self) -> list:
        v = self[3]
        return v if v is not None else []

    @property
    def extra_categories(self) -> list:
        v = self[4]
        return v if v is not None else []

    def __repr__(self) -> str:
        return f"RunResult(point={self.point!r}, dropped={self.dropped}, error={self.error!r}, extra={self.extra!r})"


class Script:
    """A compiled script. `run(point)` processes one point in place."""

    def __init__(self, name: str, source: str, code: CompiledCode, budget: float = DEFAULT_BUDGET) -> None:
        self.name = name
        self.source = source
        self.main = code.main
        self.python_source = code.python_source
        self.line_pos = code.line_pos
        self.refs = code.refs
        self._budget = budget
        self._resolver: Callable[[str], Script | None] | None = None
        self._lines = source.split("\n")
        # idle Contexts for the next runs: list.pop() and append() are atomic, so two threads
        # running the same script never share one
        self._spares: list[Context] = []
        self._windows: Windows | None = None  # point_window() state (ptwindow.py), made on first use
        self.agg_pending: list[tuple] = []  # agg_create/agg_metric operations not yet taken by run_batch
        code.namespace["__pl_script__"] = self

    def __repr__(self) -> str:
        return f"<Script {self.name}>"

    # The spare Context carries the script's budget and resolver from run to run (fewer stores
    # per run), so changing either discards it.
    @property
    def budget(self) -> float:
        return self._budget

    @budget.setter
    def budget(self, value: float) -> None:
        self._budget = value
        self._spares = []

    @property
    def resolver(self) -> Callable[[str], Script | None] | None:
        return self._resolver

    @resolver.setter
    def resolver(self, value: Callable[[str], Script | None] | None) -> None:
        self._resolver = value
        self._spares = []

    def run(self, point: Point, category: str = "logging", *, budget: float | None = None,
            ignore_status: frozenset | tuple = (), disable_status: bool = False) -> RunResult:
        """Run the script on `point` (modified in place) and apply post-processing (§8)."""
        # A spare Context has this script's budget and resolver, dropped False, no options and
        # no new points (allocating one per point costs more than a short script).
        spares = self._spares
        if spares and budget is None:
            try:
                ctx = spares.pop()
            except IndexError:  # another thread took the last one
                ctx = Context(point, category, self._budget, self._resolver)
            ctx.point = point
            ctx.category = category
            ctx.deadline = _monotonic() + ctx.budget
        else:
            ctx = Context(point, category, self._budget if budget is None else budget, self._resolver)
        tags = point.tags
        fields = point.fields
        try:
            self.main(ctx, tags, fields)
        except ScriptExit:
            pass
        except ScriptRuntimeError as exc:
            return self._failed(ctx, point, category, self.describe_error(exc), budget)
        except RecursionError as exc:
            return self._failed(ctx, point, category, self.describe_error(exc, "recursion too deep"), budget)
        except Exception as exc:  # a failing built-in must not take the worker down
            return self._failed(ctx, point, category,
                                self.describe_error(exc, f"internal error: {exc.__class__.__name__}: {exc}"),
                                budget)
        extra = ctx._new_points
        if (extra is None and ctx._options is None and category == "logging" and not ignore_status
                and not disable_status and budget is None and "status" not in tags):
            # the common case of §8, inline: status normalised in the fields, then `time` promoted
            raw = fields.get("status")
            if raw is None:
                fields["status"] = "info"
            else:
                fields["status"] = (_STATUS_CACHE.get(raw) or _normalized(raw)) if raw.__class__ is str \
                    else _status_of(raw)
            if "time" in fields:
                if "time" not in tags and (t := fields["time"]).__class__ in _STR_OR_INT:
                    del fields["time"]  # promote_time() for its two common cases, inline
                    if t.__class__ is int and t:
                        point.time = t
                else:
                    promote_time(point)
            elif "time" in tags:
                promote_time(point)
            ctx.point = None  # do not keep the point alive through the spare context
            ctx.vars = _NO_VARS
            if ctx.dropped:
                ctx.dropped = False
                spares.append(ctx)
                return _tuple_new(RunResult, (point, True, None, None, None))
            spares.append(ctx)
            return _tuple_new(RunResult, (point, False, None, None, None))
        dropped = postprocess(ctx, point, category, ignore_status, disable_status) or ctx.dropped
        cats = None
        if extra:
            for pt in extra:
                promote_time(pt)
            cats = _categories(ctx._new_point_categories, len(extra), category)
        opts = ctx._options
        if opts:
            ops = opts.get(AGG_OPTION)
            if ops:  # agg_create/agg_metric: handed to the bucket owner with the batch (aggbuckets.py)
                self.agg_pending.extend(ops)
        reg = opts.get(WINDOW_OPTION) if opts else None
        if reg is not None:  # point_window() ran: settle the point in its stream's window
            windows = self._windows
            if windows is None:
                windows = self._windows = Windows()
            dropped, held = windows.settle(reg, point, dropped)
            if held:
                extra = (extra or []) + held
                cats = (cats or []) + [category] * len(held)
        self._release(ctx, budget)
        return _tuple_new(RunResult, (point, dropped, None, extra, cats))

    def execute(self, point: Point, category: str = "logging", budget: float | None = None,
                ignore_status: frozenset | tuple = (), disable_status: bool = False) -> tuple:
        """`run` as a tuple: (dropped, error or None, extra points or None, their categories)."""
        r = self.run(point, category, budget=budget, ignore_status=ignore_status, disable_status=disable_status)
        return r[1], r[2], r[3], r[4]

    def _failed(self, ctx: Context, point: Point, category: str, error: str, budget: float | None) -> RunResult:
        extra = ctx._new_points
        ops = ctx._options.get(AGG_OPTION) if ctx._options else None
        if ops:  # what ran before the error counts, as the point keeps its changes
            self.agg_pending.extend(ops)
        cats = _categories(ctx._new_point_categories, len(extra), category) if extra else None
        self._release(ctx, budget)
        return _tuple_new(RunResult, (point, False, error, extra, cats))

    def _release(self, ctx: Context, budget: float | None) -> None:
        """Clean the context and keep it as the spare one (not one made for a budget override)."""
        ctx.point = None
        ctx.vars = _NO_VARS
        ctx.dropped = False
        ctx._options = ctx._new_points = ctx._new_point_categories = None
        if budget is None:
            self._spares.append(ctx)

    def error_of(self, exc: BaseException, message: str | None = None) -> ScriptError:
        """A positioned ScriptError for an exception raised while running compiled code."""
        script, line, col = self, 0, 0
        tb = exc.__traceback__
        while tb is not None:  # the innermost frame of compiled code (a `use`d script's, if any)
            owner = tb.tb_frame.f_globals.get("__pl_script__")
            if isinstance(owner, Script):
                pos = owner.line_pos[tb.tb_lineno] if tb.tb_lineno < len(owner.line_pos) else (0, 0)
                if pos[0]:
                    script, (line, col) = owner, pos
            tb = tb.tb_next
        src = script._lines[line - 1] if 0 < line <= len(script._lines) else None
        return ScriptError(message or str(exc) or exc.__class__.__name__, line, col, src, script.name)

    def describe_error(self, exc: BaseException, message: str | None = None) -> str:
        return str(self.error_of(exc, message))


def _categories(cats: list | None, n: int, default: str) -> list:
    cats = list(cats or ())
    return cats + [default] * (n - len(cats))


def compile_script(source: str, name: str = "<script>", budget: float = DEFAULT_BUDGET) -> Script:
    """Compile Platypus `source` into a Script; raises CompileError with the position."""
    try:
        tree = parse(source, name)
        return Script(name, source, compile_tree(tree), budget)
    except RecursionError as exc:
        raise CompileError("script nests too deeply", script=name) from exc
