"""Compile and runtime errors carry the script position, the source line and a caret."""

from __future__ import annotations

import pytest
from core_support import point, t_builtins  # noqa: F401  (fixture)

from receiver.pipeline import CompileError, ScriptError, compile_script


def test_compile_error_fields_and_rendering():
    src = 'x = 1\nif x > 0 {\n  grok(_, "%{WORD:w}"\n}\n'
    with pytest.raises(CompileError) as info:
        compile_script(src, "nginx.p")
    err = info.value
    assert (err.line, err.column) == (4, 1)
    assert err.script == "nginx.p"
    assert err.reason == "expected ',' or ')' to close the call to grok at line 3, found '}'"
    assert err.source_line == "}"
    lines = str(err).split("\n")
    assert lines[0] == "nginx.p:4:1: " + err.reason
    assert lines[1].endswith("| }")
    assert lines[2].endswith("| ^")


def test_caret_points_at_the_column():
    with pytest.raises(CompileError) as info:
        compile_script("a = 1\nb = a +* 2\n", "s.p")
    err = info.value
    assert (err.line, err.column) == (2, 8)
    src_line, caret = str(err).split("\n")[1:3]
    assert src_line.index("*") == caret.index("^")


def test_lexer_error_position_counts_characters_not_bytes():
    with pytest.raises(CompileError) as info:
        compile_script('变量 = "é" @', "s.p")
    assert (info.value.line, info.value.column) == (1, 10)


@pytest.mark.parametrize("src, line, col, text", [
    ("x = 1 + \"a\"", 1, 7, "unsupported operand type(s) for +: int and str"),
    ("a = 1\nb = [a,\n  a / z]", 3, 5, "integer division by zero"),
    ("m = {}\nm[\"a\"][\"b\"] = 1", 2, 1, "key not found: 'a'"),
    ("l = [1]\nfor i = 0; i < 3; i += 1 {\n  x = l[i]\n}", 3, 8, "list index out of range: 1 (length 1)"),
    ("if true {\n  if s < 1 { }\n}", 2, 8, "not comparable: str < int"),
    ("if false {\n} elif s > 2 {\n}", 2, 10, "not comparable: str > int"),
    ("for i = 0; s >= i; i += 1 {\n}", 1, 14, "not comparable: str >= int"),
    ("for x in z {\n}", 1, 1, "unsupported type: int, not iterable"),
    ("x = {\"a\": 1,\n  z: 2}", 2, 3, "map keys must be str, not int"),
])
def test_runtime_error_positions(src, line, col, text):
    pt = point(z=0, s="x")
    r = compile_script(src, "r.p").run(pt)
    assert r.error == f"r.p:{line}:{col}: {text}"
    assert r.dropped is False


def test_builtin_error_is_positioned_at_the_call(t_builtins):
    src = 'x = 1\nif x == 1 {\n  add_key(a, 1)\n  _t_fail("bad input")\n}'
    pt = point()
    r = compile_script(src, "b.p").run(pt)
    assert r.error == "b.p:4:3: bad input"
    assert pt.fields["a"] == 1  # changes before the error stay
    assert "status" not in pt.fields  # no post-processing


def test_unexpected_builtin_exception_is_an_internal_runtime_error(t_builtins):
    r = compile_script("add_key(a, 1)\n_t_boom()", "b.p").run(point())
    assert r.error == "b.p:2:1: internal error: ValueError: boom"


def test_error_in_a_later_argument_line():
    src = 'add_key(r,\n  1 +\n  [2])'
    r = compile_script(src, "m.p").run(point())
    assert r.error == "m.p:2:5: unsupported operand type(s) for +: int and list"


def test_script_error_object_renders_caret():
    script = compile_script("a = 1\nb = a + nil", "e.p")
    try:
        script.main.__globals__  # the compiled function exists
        from receiver.pipeline.runtime import Context
        script.main(Context(point()), {}, {"message": "m"})
    except Exception as exc:  # noqa: BLE001
        err = script.error_of(exc)
    assert isinstance(err, ScriptError)
    assert (err.line, err.column) == (2, 7)
    assert err.render().split("\n")[1].endswith("| b = a + nil")


def test_check_hook_error_and_failure_are_compile_errors(t_builtins):
    with pytest.raises(CompileError) as info:
        compile_script("x = 1\n_t_bad(-1)", "c.p")
    assert str(info.value).startswith("c.p:2:8: _t_bad(): must not be negative")
    with pytest.raises(CompileError) as info:
        compile_script("_t_bad(1)", "c.p")
    assert "c.p:1:1: _t_bad(): 'unexpected'" in str(info.value)


def test_first_error_wins_and_later_lines_are_not_reported():
    with pytest.raises(CompileError) as info:
        compile_script("x = (\ny = ]\n", "f.p")
    assert info.value.line == 2


def test_error_in_a_used_script_names_that_script(t_builtins):
    child = compile_script('x = 1\ny = x + "a"', "child.p")
    parent = compile_script('a = 1\n_t_use("child")', "parent.p")
    parent.resolver = {"child": child}.get
    r = parent.run(point())
    assert r.error == "child.p:2:7: unsupported operand type(s) for +: int and str"
