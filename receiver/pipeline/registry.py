"""The built-in function registry: name, parameters (kind, default), compile-time check, implementation.

Built-ins register themselves with `@builtin(...)`; the compiler looks names up in
`BUILTINS`, binds positional and named arguments to `params`, rejects unknown
functions, wrong arity and wrong argument kinds with a positioned error, and calls
the optional `check` hook once at compile time.

Parameter kinds (platypus.md §9.1):

* `KEY`   a key-name argument: an identifier, a string literal or an attribute path
          (`a.b` -> "a.b"); `_` means `message`. The implementation receives the key
          NAME (str) and reads it with `ctx.read(name)`.
* `VALUE` any expression; the implementation receives the evaluated value
          (nil and void are `None`).
* `LIT`   must be a literal at compile time (`lit_types` restricts its Python type);
          the implementation receives the literal value, or what `check` put in its place.

The run-time contract of an implementation is `func(ctx, *args) -> value`, args in
`params` order, defaults filled in. A `variadic` parameter must be the last one; the
arguments it collects are passed spread as the trailing positional arguments
(`def strfmt(ctx, key, fmt, *args)`). `ctx` is the per-point run context
(`receiver.pipeline.runtime.Context`) and offers:

    ctx.point                 the Point being processed (name, tags, fields, time)
    ctx.category              "logging", "metric", ...
    ctx.read(key)             variable first, then point key (§5.1, §7.1); MISSING when absent
    ctx.read_point(key)       point key only; MISSING when absent
    ctx.set_field(key, v)     store per §7.2 (an existing tag stays a tag; list/map -> JSON)
    ctx.set_tag(key, v)       store as a tag (§7.2 rule 2 and 4)
    ctx.delete_key(key)       remove a tag or field
    ctx.rename_key(old, new)
    ctx.set_name(name)        change the measurement
    ctx.drop()                mark the point dropped
    ctx.exit()                stop the script now (not an error)
    ctx.options               dict set by setopt()
    ctx.new_points            list of extra points (create_point)

  and, added by the engine (compatible extensions):

    ctx.deadline              time.monotonic() value after which the run is over budget
    ctx.check_deadline()      raise BudgetExceeded (a ScriptRuntimeError) if past the deadline;
                              call it inside long loops of a built-in
    ctx.run_script(name)      run script `name` of the same category on this point with a
                              fresh variable scope (`use`); unknown script -> no-op
    ctx.add_point(pt, category=None)  append to new_points, remembering the category
    ctx.vars                  the script variables visible to `read` (do not mutate)

Built-ins must change the point only in place (never rebind `point.tags`/`point.fields`):
compiled scripts hold on to those two dicts for the whole run.

An implementation that must fail the run raises `ScriptRuntimeError(message)`.

The `check` hook, `check(cc, args) -> dict | None`, runs at compile time. `args`
is a list of `ArgInfo` in `params` order (None for an omitted optional). It may
raise via `cc.error(message, arg)` (a positioned `CompileError`), use
`cc.lookup_pattern(name)` / `cc.define_pattern(name, pattern)` for the grok
pattern scope (§10.3), and return `{param_name: replacement}` to substitute
prepared objects (a compiled grok, a compiled regex) for LIT arguments (a replacement
for a KEY or VALUE parameter is passed as a constant instead of the argument). The
arguments a variadic parameter collected appear as one ArgInfo each at the end of
`args`. `cc` also offers `cc.script_name`, `cc.call` (the Call node) and
`cc.add_script_ref(name)` (record a `use` dependency). `ArgInfo.node_kind` names the
argument's form ("ident", "str", "int", "float", "bool", "nil", "list", "map", "attr",
"index", "path", "call", "expr"); `ArgInfo.path` holds a key path's segments
(`a.b[0]` -> ["a", "b", 0]; `.[0]` -> [0]; a backquoted `` `a.b` `` -> ["a.b"]).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = [
    "ArgInfo", "ArgKind", "Builtin", "BUILTINS", "MISSING", "Param", "REQUIRED",
    "ScriptRuntimeError", "builtin",
]


class ArgKind(enum.Enum):
    KEY = "key"
    VALUE = "value"
    LIT = "lit"


class _Sentinel:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __bool__(self) -> bool:
        return False


REQUIRED = _Sentinel("REQUIRED")
MISSING = _Sentinel("MISSING")


class ScriptRuntimeError(Exception):
    """Raised by a built-in (or the runtime) to abort the run of one point."""


@dataclass(frozen=True)
class Param:
    name: str
    kind: ArgKind = ArgKind.VALUE
    default: Any = REQUIRED
    lit_types: tuple[type, ...] = ()
    variadic: bool = False  # collects every remaining positional argument (e.g. strfmt)


@dataclass
class ArgInfo:
    """What the compiler knows about one argument at compile time."""

    param: Param
    is_literal: bool
    value: Any = None  # the literal value when is_literal, else None
    key_name: str | None = None  # for KEY params: the resolved key name
    line: int = 0
    column: int = 0
    node: Any = None
    node_kind: str = ""  # the argument's syntactic form (see the module docstring)
    path: list | None = None  # for KEY params: the key path segments


@dataclass
class Builtin:
    name: str
    params: tuple[Param, ...]
    func: Callable[..., Any]
    tier: int = 1
    check: Callable[..., dict | None] | None = None
    doc: str = ""
    extra: dict = field(default_factory=dict)


BUILTINS: dict[str, Builtin] = {}


def builtin(name: str, *params: Param, tier: int = 1, check: Callable[..., dict | None] | None = None):
    """Register the decorated function as the built-in `name` with `params`."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in BUILTINS:
            raise RuntimeError(f"built-in {name!r} registered twice")
        BUILTINS[name] = Builtin(name, tuple(params), func, tier, check, (func.__doc__ or "").strip())
        return func

    return register
