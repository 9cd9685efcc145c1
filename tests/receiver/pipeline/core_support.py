"""Test-only built-ins for the language-core tests (names start with `_t_`; registered by the
`t_builtins` fixture and removed afterwards so nothing leaks into other tests)."""

from __future__ import annotations

import time

import pytest

from offload.point import Point
from receiver.pipeline.registry import BUILTINS, MISSING, ArgKind, Param, ScriptRuntimeError, builtin

KEY, VALUE, LIT = ArgKind.KEY, ArgKind.VALUE, ArgKind.LIT


class Recorder:
    """What the test built-ins saw: check-hook ArgInfos and run-time calls."""

    def __init__(self) -> None:
        self.checks: list = []
        self.calls: list = []


def _register(rec: Recorder) -> list[str]:
    names = []

    def reg(name, *params, check=None):
        def deco(fn):
            builtin(name, *params, check=check)(fn)
            names.append(name)
            return fn
        return deco

    @reg("_t_fail", Param("msg", VALUE))
    def _fail(ctx, msg):
        raise ScriptRuntimeError(str(msg))

    @reg("_t_boom")
    def _boom(ctx):
        raise ValueError("boom")

    @reg("_t_read", Param("key", KEY))
    def _read(ctx, key):
        v = ctx.read(key)
        return "<missing>" if v is MISSING else v

    @reg("_t_spin", Param("seconds", VALUE))
    def _spin(ctx, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ctx.check_deadline()
        return True

    def check_args(cc, args):
        rec.checks.append(args)
        return None

    @reg("_t_args", Param("a", KEY), Param("b", LIT, lit_types=(str,)), Param("c", VALUE, default=3),
         Param("rest", VALUE, variadic=True), check=check_args)
    def _args(ctx, a, b, c, *rest):
        rec.calls.append((a, b, c, rest))
        return None

    def check_def(cc, args):
        cc.define_pattern(args[0].value, args[1].value)
        return None

    @reg("_t_def", Param("name", LIT, lit_types=(str,)), Param("pattern", LIT, lit_types=(str,)), check=check_def)
    def _def(ctx, name, pattern):
        return None

    def check_get(cc, args):
        return {"name": cc.lookup_pattern(args[0].value)}

    @reg("_t_get", Param("name", LIT, lit_types=(str,)), check=check_get)
    def _get(ctx, name):
        return name

    def check_bad(cc, args):
        if args[0].value < 0:
            cc.error("must not be negative", args[0])
        raise KeyError("unexpected")

    @reg("_t_bad", Param("n", LIT, lit_types=(int,)), check=check_bad)
    def _bad(ctx, n):
        return None

    @reg("_t_use", Param("name", LIT, lit_types=(str,)))
    def _use(ctx, name):
        ctx.run_script(name)
        return None

    @reg("_t_emit", Param("name", VALUE))
    def _emit(ctx, name):
        ctx.add_point(Point(name, {}, {"v": 1, "time": 5}, ctx.point.time), "metric")
        return None

    return names


@pytest.fixture
def t_builtins():
    """Register the `_t_*` built-ins for one test; yields a Recorder."""
    rec = Recorder()
    names = _register(rec)
    try:
        yield rec
    finally:
        for n in names:
            BUILTINS.pop(n, None)


def point(**fields) -> Point:
    return Point("app", {}, {"message": "m", **fields}, 1700000000000000000)
