"""Running compiled scripts: the per-point Context that built-ins use, Script.run, RunResult.

A run (platypus.md §1.4-1.5): call the compiled function once for the point; on success
apply post-processing (§8: status, `time` promotion, drop); on a runtime error keep the
point as modified so far, skip post-processing and report the positioned message. The
Context is the built-ins' whole view of the run (registry.py documents the contract);
it stores values following §7.2 and reads them following §7.1.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from offload.point import Point

from .budget import DEFAULT_BUDGET, over_budget
from .compiler import CompiledCode, compile_tree
from .convert import point_value, to_field_value, to_tag_string
from .errors import CompileError, ScriptError, ScriptExit
from .parser import parse
from .postprocess import postprocess, promote_time
from .registry import MISSING, ScriptRuntimeError

__all__ = ["Context", "DEFAULT_BUDGET", "RunResult", "Script", "compile_script"]

_NO_VARS: dict = {}
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
        return self._new_point_categories

    # -- reading -------------------------------------------------------------------------
    def read(self, key: str) -> Any:
        """Variable `key` if the script has one in scope, else the point key (§5.1); MISSING if neither."""
        v = self.vars.get(key, MISSING)
        if v is not MISSING:
            return v
        pt = self.point
        return point_value(pt.tags, pt.fields, key)

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
        pt = self.point
        try:
            script.main(self, pt.tags, pt.fields)
        except ScriptExit:
            pass
        finally:
            self.vars, self._using = saved_vars, saved_using


class RunResult:
    """The outcome of one run: the (modified) point, whether it is dropped, the error, extra points."""

    __slots__ = ("point", "dropped", "error", "extra", "extra_categories")

    def __init__(self, point: Point, dropped: bool, error: str | None, extra: list | None = None,
                 extra_categories: list | None = None) -> None:
        self.point = point
        self.dropped = dropped
        self.error = error
        self.extra = extra if extra is not None else []
        self.extra_categories = extra_categories if extra_categories is not None else []

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
        self.budget = budget
        self.resolver: Callable[[str], Script | None] | None = None
        self._lines = source.split("\n")
        self._spare: Context | None = None
        code.namespace["__pl_script__"] = self

    def __repr__(self) -> str:
        return f"<Script {self.name}>"

    def run(self, point: Point, category: str = "logging", *, budget: float | None = None,
            ignore_status: frozenset | tuple = (), disable_status: bool = False) -> RunResult:
        """Run the script on `point` (modified in place) and apply post-processing (§8)."""
        dropped, error, extra, cats = self.execute(point, category, budget, ignore_status, disable_status)
        if extra is None:
            return RunResult(point, dropped, error)
        return RunResult(point, dropped, error, extra, _categories(cats, len(extra), category))

    def execute(self, point: Point, category: str = "logging", budget: float | None = None,
                ignore_status: frozenset | tuple = (), disable_status: bool = False) -> tuple:
        """`run` without the RunResult: (dropped, error or None, extra points or None, their categories)."""
        # Take the spare Context (dict.pop is atomic, so two threads never share one).
        ctx = self.__dict__.pop("_spare", None)
        budget = self.budget if budget is None else budget
        if ctx is None:
            ctx = Context(point, category, budget, self.resolver)
        else:
            ctx.point = point
            ctx.category = category
            ctx.vars = _NO_VARS
            ctx.dropped = False
            ctx.budget = budget
            ctx.deadline = _monotonic() + budget
            ctx.resolver = self.resolver
            ctx._options = ctx._new_points = ctx._new_point_categories = None
        error = None
        try:
            self.main(ctx, point.tags, point.fields)
        except ScriptExit:
            pass
        except ScriptRuntimeError as exc:
            error = self.describe_error(exc)
        except RecursionError as exc:
            error = self.describe_error(exc, "recursion too deep")
        except Exception as exc:  # a failing built-in must not take the worker down
            error = self.describe_error(exc, f"internal error: {exc.__class__.__name__}: {exc}")
        extra, cats = ctx._new_points, ctx._new_point_categories
        if error is None:
            dropped = postprocess(ctx, point, category, ignore_status, disable_status) or ctx.dropped
            if extra:
                for pt in extra:
                    promote_time(pt)
        else:
            dropped = False
        ctx.point = ctx.vars = None  # do not keep the point alive through the spare context
        self._spare = ctx
        return dropped, error, extra, cats

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
