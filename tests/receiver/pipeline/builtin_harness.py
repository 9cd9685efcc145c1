"""A minimal fake run context and compile context for unit-testing built-ins without the core."""

from __future__ import annotations

from offload.point import Point
from receiver.pipeline import builtins  # noqa: F401  (registers everything)
from receiver.pipeline.builtins._values import format_float, to_json
from receiver.pipeline.registry import BUILTINS, MISSING, ArgInfo, ArgKind


class CompileFailed(Exception):
    pass


class FakeCC:
    def __init__(self, patterns=None):
        self.scopes = [dict(patterns or {})]

    def error(self, message, arg=None):
        raise CompileFailed(message)

    def lookup_pattern(self, name):
        for s in reversed(self.scopes):
            if name in s:
                return s[name]
        return None

    def define_pattern(self, name, pattern):
        self.scopes[-1][name] = pattern


class FakeCtx:
    def __init__(self, fields=None, tags=None, name="app", time=1700000000000000000, variables=None):
        self.point = Point(name, dict(tags or {}), dict(fields or {}), time)
        self.vars = dict(variables or {})
        self.options = {}
        self.new_points = []
        self.dropped = False
        self.category = "logging"

    def read(self, key):
        if key in self.vars:
            return self.vars[key]
        return self.read_point(key)

    def read_point(self, key):
        if key in self.point.tags:
            return self.point.tags[key]
        if key in self.point.fields:
            v = self.point.fields[key]
            return int(v) if isinstance(v, int) and type(v) not in (int, bool) else v
        return MISSING

    def set_field(self, key, v):
        if key in self.point.tags:
            return self.set_tag(key, v)
        if type(v) in (list, dict):
            v = to_json(v)
        self.point.fields[key] = v

    def set_tag(self, key, v):
        self.point.fields.pop(key, None)
        t = type(v)
        self.point.tags[key] = (v if t is str else "" if v is None else ("true" if v else "false") if t is bool
                                else format_float(v) if t is float else to_json(v) if t in (list, dict) else str(v))

    def delete_key(self, key):
        self.point.tags.pop(key, None)
        self.point.fields.pop(key, None)

    def rename_key(self, old, new):
        self.delete_key(new)
        if old in self.point.tags:
            self.point.tags[new] = self.point.tags.pop(old)
        elif old in self.point.fields:
            self.point.fields[new] = self.point.fields.pop(old)

    def set_name(self, name):
        self.point.name = name

    def drop(self):
        self.dropped = True

    def exit(self):
        raise SystemExit


class Key(str):
    """Marks a KEY argument given as an identifier (not a string literal)."""


def prepare(name, *args, cc=None, **named):
    """Bind args like the compiler: returns (builtin, values). Key('x') = identifier x."""
    b = BUILTINS[name]
    cc = cc or FakeCC()
    params = b.params
    values, infos = [], []
    given = list(args)
    for i, p in enumerate(params):
        if p.variadic:
            rest = given[i:]
            values.extend(rest)
            break
        if i < len(given):
            a = given[i]
        elif p.name in named:
            a = named[p.name]
        else:
            values.append(p.default)
            infos.append(None)
            continue
        if p.kind is ArgKind.KEY:
            ident = isinstance(a, Key)
            info = ArgInfo(p, not ident, None if ident else str(a), str(a))
            info.node_kind = "ident" if ident else "str"
            info.path = None
            values.append(str(a))
        else:
            ident = isinstance(a, Key)
            info = ArgInfo(p, not ident, None if ident else a, str(a) if ident else None)
            info.node_kind = "ident" if ident else "lit"
            values.append(a)
        infos.append(info)
    if b.check is not None:
        repl = b.check(cc, infos) or {}
        for k, v in repl.items():
            idx = [p.name for p in params].index(k)
            values[idx] = v
    return b, values


def call(ctx, name, *args, cc=None, **named):
    b, values = prepare(name, *args, cc=cc, **named)
    for i, p in enumerate(b.params):  # an identifier given for a VALUE parameter is evaluated
        if i < len(values) and p.kind is ArgKind.VALUE and isinstance(values[i], Key):
            v = ctx.read(str(values[i]))
            values[i] = None if v is MISSING else v
    return b.func(ctx, *values)
