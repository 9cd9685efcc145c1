"""Compiler internals: inline fast paths agree with the generic semantics, the check-hook
contract (ArgInfo, binding, pattern scopes), scoping corner cases and the public API."""

from __future__ import annotations

import copy
import math

import pytest
from core_support import point, t_builtins  # noqa: F401  (fixture)
from hypothesis import given, settings
from hypothesis import strategies as st

import receiver.pipeline as pipeline
from receiver.pipeline import CompileError, compile_script, ops
from receiver.pipeline.convert import go_json

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SMALL = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)
SCALARS = st.one_of(INT64, FLOATS, st.booleans(), st.sampled_from(["", "a", "b"]))
OPS = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||"]


def lit(v) -> str:
    if type(v) is bool:
        return "true" if v else "false"
    if type(v) is str:
        return f'"{v}"'
    if type(v) is float:
        return repr(v) if "e" in repr(v) or "." in repr(v) else repr(v) + ".0"
    if v == -(2**63):
        return "(-9223372036854775807 - 1)"  # 9223372036854775808 alone lexes as a float (§2)
    return str(v)


def outcome(src: str, fields: dict):
    pt = point(**fields)
    r = compile_script(src, "h.p").run(pt)
    if r.error:
        return ("error",)
    v = pt.fields.get("r")
    if isinstance(v, float) and math.isnan(v):
        return ("nan",)
    return (type(v), v)


@settings(max_examples=150, deadline=None)
@given(a=SCALARS, b=SCALARS, op=st.sampled_from(OPS))
def test_static_and_dynamic_paths_agree(a, b, op):
    if op in ("/", "%") and b in (0, 0.0, False) and not isinstance(b, str):
        b = 3  # a literal zero divisor is a compile error by design
    dynamic = outcome(f"add_key(r, a {op} b)", {"a": a, "b": b})
    typed = outcome(f"x = {lit(a)}\ny = {lit(b)}\nadd_key(r, x {op} y)", {})
    folded = outcome(f"add_key(r, {lit(a)} {op} {lit(b)})", {})
    right_lit = outcome(f"add_key(r, a {op} {lit(b)})", {"a": a})
    assert dynamic == typed == folded == right_lit


@settings(max_examples=200, deadline=None)
@given(a=INT64, d=st.integers(min_value=1, max_value=2**63 - 1))
def test_inline_division_by_constant(a, d):
    q = abs(a) // d * (1 if a >= 0 else -1)
    r = abs(a) % d * (1 if a >= 0 else -1)
    got_q = outcome(f"x = {lit(a)}\nadd_key(r, x / {d})", {})
    got_r = outcome(f"x = {lit(a)}\nadd_key(r, x % {d})", {})
    assert got_q == (int, q if -(2**63) <= q < 2**63 else q - 2**64)
    assert got_r == (int, r)


VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), SMALL, FLOATS, st.text(max_size=5)),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=3), c, max_size=3)),
    max_leaves=8)


def _floatify(v):
    """The same structure with every int turned into a float (equal in Python, not in Platypus)."""
    if type(v) is int:
        return float(v)
    if type(v) is list:
        return [_floatify(x) for x in v]
    if type(v) is dict:
        return {k: _floatify(x) for k, x in v.items()}
    return v


def _has_int(v) -> bool:
    if type(v) is int:
        return True
    if type(v) in (list, dict):
        return any(_has_int(x) for x in (v.values() if type(v) is dict else v))
    return False


@settings(max_examples=200, deadline=None)
@given(v=VALUES)
def test_deep_equality_and_in_are_type_exact(v):
    assert ops.deep_eq(v, copy.deepcopy(v))
    assert ops.in_(v, [0, copy.deepcopy(v)])
    if _has_int(v):
        assert not ops.deep_eq(v, _floatify(v))
        assert not ops.in_(v, [_floatify(v)])
    go_json([v])  # every script value can be stored as JSON text


def test_check_hook_sees_bound_arguments(t_builtins):
    compile_script('x = 1\n_t_args(a.b[0], "lit", x + 1, 4, "five")\n_t_args(k, b = "n")', "c.p")
    first, second = t_builtins.checks
    a, b, c, r1, r2 = first
    assert (a.key_name, a.path, a.node_kind, a.line, a.column) == ("a.b[0]", ["a", "b", 0], "index", 2, 9)
    assert (b.is_literal, b.value, b.node_kind) == (True, "lit", "str")
    assert (c.is_literal, c.node_kind) == (False, "expr")
    assert (r1.value, r2.value, r1.param.name) == (4, "five", "rest")
    assert second[2] is None  # omitted optional
    assert second[0].key_name == "k" and second[1].value == "n"


def test_variadic_arguments_are_spread_and_defaults_filled(t_builtins):
    pt = point()
    compile_script('_t_args(_, "b")\n_t_args("quoted", "b", 1, 2, [3])').run(pt)
    assert t_builtins.calls == [("message", "b", 3, ()), ("quoted", "b", 1, (2, [3]))]


def test_lit_type_is_checked(t_builtins):
    with pytest.raises(CompileError, match="argument 'b' of _t_args must be a string literal"):
        compile_script("_t_args(a, 1)")


def test_pattern_scopes(t_builtins):
    src = """
_t_def("p", "top")
add_key(a, _t_get("p"))
if true {
  add_key(b, _t_get("p"))
  _t_def("p", "inner")
  add_key(c, _t_get("p"))
  _t_def("q", "only-inner")
}
add_key(d, _t_get("p"))
add_key(e, _t_get("q"))
_t_def("p", "redefined")
add_key(f, _t_get("p"))
for i in [1] {
  _t_def("p", "loop")
}
add_key(g, _t_get("p"))
"""
    pt = point()
    compile_script(src).run(pt)
    f = pt.fields
    assert [f[k] for k in "abcdfg"] == ["top", "top", "inner", "top", "redefined", "redefined"]
    assert f["e"] is None  # not visible outside its block


def test_tracked_variables_follow_scopes():
    # `cnt += 1` creates a variable only while the point has `cnt`; the variable must vanish
    # at the end of each iteration, so the second iteration (point key deleted) sees nil.
    src = """
seen = ""
for x in [1, 2] {
  cnt += 1
  seen = seen + value_type(cnt) + ","
  drop_key(cnt)
}
add_key(seen)
add_key(after, cnt == nil)
"""
    pt = point(cnt=10)
    r = compile_script(src).run(pt)
    assert r.error is None
    assert pt.fields["seen"] == "int,,"
    assert pt.fields["after"] is True and "cnt" not in pt.fields


def test_block_variables_vanish_even_when_tracked():
    src = """
total = 0
for x in [1, 2, 3] {
  if x == 2 {
    cnt += 1
    total = total + cnt
  }
  total = total + cnt
}
add_key(total)
"""
    pt = point(cnt=10)
    compile_script(src).run(pt)
    assert pt.fields["total"] == 10 + 11 + 10 + 10 and pt.fields["cnt"] == 10


def test_c_for_step_variable_with_continue():
    src = """
seen = ""
for i = 0; i < 4; j = i {
  i = i + 1
  if j == nil { seen = seen + "n"; continue }
  seen = seen + "d"
}
add_key(seen)
add_key(j_after, j == nil)
"""
    pt = point()
    assert compile_script(src).run(pt).error is None
    assert pt.fields["seen"] == "nddd" and pt.fields["j_after"] is True


def test_generated_code_is_one_function():
    script = compile_script("x = 1\nif x > 0 { add_key(y, x) }", "g.p")
    assert script.python_source.startswith("def __pl_main(ctx, T, F):")
    assert script.python_source.count("def ") == 1
    # add_key(k, value) compiles to an inline store (set_field for tags and list/map values)
    assert "F['y'] = " in script.python_source and "_set_field(ctx, 'y'," in script.python_source


def test_deep_nesting_is_a_compile_error_not_a_crash():
    with pytest.raises(CompileError):
        compile_script("x = " + "(" * 400 + "1" + ")" * 400)


def test_public_api_is_pinned():
    assert sorted(pipeline.__all__) == sorted([
        "BatchResult", "BudgetExceeded", "CompileError", "Context", "DEFAULT_BUDGET", "PipelineError", "RunResult",
        "Script", "ScriptError", "ScriptRuntimeError", "ScriptStore", "compile_script", "run_batch",
    ])
    for name in pipeline.__all__:
        assert hasattr(pipeline, name)
