"""The run-time Context built-ins use (registry.py contract, platypus.md §5.1, §7)."""

from __future__ import annotations

import pytest
from core_support import point, t_builtins  # noqa: F401  (fixture)

from offload.point import Point, UInt
from receiver.pipeline import Context, ScriptRuntimeError, compile_script
from receiver.pipeline.errors import ScriptExit
from receiver.pipeline.registry import MISSING


def ctx_for(tags=None, fields=None) -> Context:
    return Context(Point("app", dict(tags or {}), dict(fields or {}), 1))


def test_read_point_conversions():
    ctx = ctx_for({"t": "v"}, {"i": 1, "u": UInt(2**64 - 1), "b": b"x", "l": [1], "d": {"a": 1}, "n": None})
    assert ctx.read_point("t") == "v"
    assert ctx.read_point("i") == 1
    assert ctx.read_point("u") == -1 and type(ctx.read_point("u")) is int
    assert ctx.read_point("b") == "x"
    assert ctx.read_point("l") is None and ctx.read_point("d") is None
    assert ctx.read_point("n") is None
    assert ctx.read_point("absent") is MISSING


def test_set_field_rules():
    ctx = ctx_for({"tag": "old"}, {"a": 1, "b": 2})
    ctx.set_field("tag", 1.5)
    ctx.set_field("a", {"z": [1, 2.0], "a": "<"})
    ctx.set_field("c", None)
    ctx.set_field("d", True)
    pt = ctx.point
    assert pt.tags == {"tag": "1.5"}
    assert pt.fields == {"a": '{"a":"\\u003c","z":[1,2]}', "b": 2, "c": None, "d": True}
    assert list(pt.fields) == ["a", "b", "c", "d"]  # replaced in place, new keys appended


def test_set_tag_moves_a_field():
    ctx = ctx_for({}, {"level": "warn", "n": 3})
    ctx.set_tag("level", "warn")
    ctx.set_tag("n", 3)
    ctx.set_tag("f", 0.25)
    ctx.set_tag("none", None)
    assert ctx.point.fields == {}
    assert ctx.point.tags == {"level": "warn", "n": "3", "f": "0.25", "none": ""}


def test_delete_and_rename_keep_kind_and_order():
    ctx = ctx_for({"h": "x", "t2": "y"}, {"a": 1, "old": 2, "c": 3, "new": 9})
    ctx.rename_key("old", "new")
    assert list(ctx.point.fields.items()) == [("a", 1), ("new", 2), ("c", 3)]
    ctx.rename_key("h", "host")
    assert list(ctx.point.tags) == ["host", "t2"]
    ctx.rename_key("missing", "x")
    ctx.rename_key("a", "t2")  # an existing key of the other kind is removed first
    assert ctx.point.tags == {"host": "x"} and list(ctx.point.fields) == ["t2", "new", "c"]
    ctx.delete_key("host")
    ctx.delete_key("c")
    ctx.delete_key("nothing")
    assert ctx.point.tags == {} and list(ctx.point.fields) == ["t2", "new"]


def test_name_drop_exit_options_points():
    ctx = ctx_for()
    ctx.set_name("renamed")
    ctx.drop()
    assert ctx.point.name == "renamed" and ctx.dropped
    with pytest.raises(ScriptExit):
        ctx.exit()
    ctx.options["status_mapping"] = False
    assert ctx.options == {"status_mapping": False}
    extra = Point("m", {}, {"v": 1}, 0)
    ctx.new_points.append(extra)
    assert ctx.new_points == [extra]


def test_read_sees_variables_in_scope_only(t_builtins):
    src = """
add_key(a, _t_read(x))
x = "var"
add_key(b, _t_read(x))
if true {
  y = "inner"
  add_key(c, _t_read(y))
}
add_key(d, _t_read(y))
add_key(e, _t_read(nothing))
for i in [1] {
  tmp = "loop"
}
add_key(f, _t_read(tmp))
"""
    pt = point(x="point-x")
    assert compile_script(src).run(pt).error is None
    f = pt.fields
    assert (f["a"], f["b"], f["c"], f["d"], f["e"], f["f"]) == ("point-x", "var", "inner", "<missing>", "<missing>",
                                                                "<missing>")


def test_read_through_message_alias(t_builtins):
    pt = point()
    compile_script('_ = "var-msg"\nadd_key(r, _t_read(_))').run(pt)
    assert pt.fields["r"] == "var-msg"


def test_run_script_fresh_scope_and_cycles(t_builtins):
    scripts = {}
    scripts["child"] = compile_script('add_key(child_saw, _t_read(v))\nv = "child"\nexit()\nadd_key(never, 1)', "child")
    scripts["loop"] = compile_script('_t_use("loop")', "loop")
    parent = compile_script('v = "parent"\n_t_use("child")\n_t_use("unknown")\nadd_key(after, _t_read(v))', "parent")
    for s in (*scripts.values(), parent):
        s.resolver = scripts.get
    pt = point()
    r = parent.run(pt)
    assert r.error is None
    assert pt.fields["child_saw"] == "<missing>"  # fresh variables in the used script
    assert pt.fields["after"] == "parent"  # and the caller's variables are back afterwards
    assert "never" not in pt.fields  # exit() in the used script stops only that script
    r = scripts["loop"].run(point())
    assert "cyclic use of script 'loop'" in r.error


def test_add_point_categories(t_builtins):
    r = compile_script('_t_emit("x")').run(point())
    assert [p.name for p in r.extra] == ["x"] and r.extra_categories == ["metric"]


def test_context_is_reused_but_state_does_not_leak(t_builtins):
    script = compile_script('if _ == "a" {\n  setopt(status_mapping=false)\n  drop()\n  _t_emit("e")\n}')
    first, second = point(), point()
    first.fields["message"] = "a"
    r1 = script.run(first)
    r2 = script.run(second)
    assert r1.dropped and len(r1.extra) == 1 and "status" not in first.fields
    assert not r2.dropped and r2.extra == [] and second.fields["status"] == "info"


def test_runtime_error_type_is_exported():
    assert issubclass(ScriptRuntimeError, Exception)
