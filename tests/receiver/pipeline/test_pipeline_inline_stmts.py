"""The statement-level inline forms (codegen_stmt.py) give exactly what the built-in calls give.

Each script runs twice: as written (json/default_time/set_tag statements compiled inline) and
with every call wrapped in an assignment `_r = f(...)` (an expression: the built-in call
itself). Both must leave identical points (tags, fields, their order, types, time) and errors.
"""

from __future__ import annotations

import re

import pytest

from offload.point import Point
from receiver.pipeline import compile_script

_CALL = re.compile(r"^(\s*)((?:json|default_time|set_tag)\(.*\))\s*$", re.MULTILINE)


def _reference(source: str) -> str:
    return _CALL.sub(lambda m: f"{m.group(1)}_r = {m.group(2)}", source)


def _snapshot(pt: Point, res) -> tuple:
    def typed(d: dict) -> list:
        return [(k, type(v).__name__, v) for k, v in d.items()]
    return typed(pt.tags), typed(pt.fields), pt.time, res.dropped, res.error is not None


def _both(source: str, tags: dict, fields: dict) -> tuple[tuple, tuple]:
    fast, ref = compile_script(source, "fast"), compile_script(_reference(source), "ref")
    assert fast.python_source != ref.python_source
    out = []
    for script in (fast, ref):
        for _ in range(2):  # the second run hits the parse / time caches
            pt = Point("m", dict(tags), dict(fields), 1700000000000000000)
            res = script.run(pt, "logging")
        out.append(_snapshot(pt, res))
    return out[0], out[1]


JSON_TEXT = ('{"a": " x ", "n": 3, "f": 1.5, "b": true, "z": null, "o": {"p": {"q": "deep"}, "l": [1, 2]}, '
             '"s": "{\\"inner\\": 1}"}')

JSON_SCRIPTS = [
    "json(_, a)\njson(_, n)\njson(_, f)\njson(_, b)\njson(_, z)\njson(_, missing)",
    "json(_, a, a2, false)\njson(_, o.p.q, deep)\njson(_, o.l, lst)\njson(_, o.p, pmap)\njson(_, o.x.y, none)",
    "json(_, a)\njson(_, s, message)\njson(_, inner)",  # the text itself replaced: the next call sees the new one
    "json(_, a)\njson(_, `o`, whole)\njson(_, o.l[0], first)\njson(_, n, nn, true, true)\njson(_, f)",
    "json(_, a, tagged)\njson(_, n, tagged)",
    "json(message, a)\nmessage = 1\njson(message, n)",  # a variable named like the key: not inlined
    "if true {\n  json(_, a)\n  json(_, n)\n} else {\n  json(_, f)\n}",
    "json(other, a)\njson(_, a, b2)",
]


@pytest.mark.parametrize("source", JSON_SCRIPTS)
@pytest.mark.parametrize("tags,fields", [
    ({}, {"message": JSON_TEXT}),
    ({"tagged": "t"}, {"message": JSON_TEXT, "other": '{"a": 7}'}),
    ({"message": JSON_TEXT}, {}),  # the key is a tag
    ({}, {"message": 12}),  # not a str
    ({}, {"message": "[1, 2]"}),  # not an object
    ({}, {"message": "{not json"}),
    ({}, {}),
])
def test_json_inline_matches_builtin(source, tags, fields):
    fast, ref = _both(source, tags, fields)
    assert fast == ref


@pytest.mark.parametrize("source", [
    "default_time(time)", "default_time(time, \"Asia/Shanghai\")", "default_time(time, \"Nowhere/Zone\")",
])
@pytest.mark.parametrize("tags,fields", [
    ({}, {"time": "10/Oct/2023:13:55:36 +0800"}),
    ({}, {"time": "not a date"}),
    ({"time": "2023-10-10 13:55:36"}, {}),
    ({}, {"time": 1700000000}),
    ({}, {}),
])
def test_default_time_inline_matches_builtin(source, tags, fields):
    fast, ref = _both(source, tags, fields)
    assert fast == ref


@pytest.mark.parametrize("source", ["set_tag(k)", "set_tag(k)\nset_tag(k)", "k = \"v\"\nset_tag(k)",
                                    "set_tag(k, \"lit\")"])
@pytest.mark.parametrize("tags,fields", [
    ({}, {"k": "v", "x": 1}), ({"k": "t"}, {"k": "f"}), ({}, {"k": 5}), ({}, {"k": None}), ({}, {}),
])
def test_set_tag_inline_matches_builtin(source, tags, fields):
    fast, ref = _both(source, tags, fields)
    assert fast == ref


def test_json_run_reads_and_parses_once():
    src = compile_script("json(_, a)\njson(_, n)\njson(_, f)", "x").python_source
    assert src.count("F.get('message'") == 1 and "B_json" in src  # the fallback keeps the built-in


def test_json_runtime_error_position_kept():
    # a json() call whose value goes to a tag through the fallback store still reports positions
    script = compile_script('json(_, a)\nx = 1 / y', "pos")
    res = script.run(Point("m", {}, {"message": JSON_TEXT, "y": 0}, 1), "logging")
    assert res.error is not None and "2:" in res.error, res.error
