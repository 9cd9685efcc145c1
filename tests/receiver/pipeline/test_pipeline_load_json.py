"""load_json's two decoders agree: the typed msgspec decode (every number a float, in C) gives
exactly what orjson plus the Python walk gives, for any JSON text, valid or not, nested deeper
than the typed depth or not. Also the run-time fast paths added for speed: the grok call
compiled inline, default_time's per-zone cache, the spare contexts of Script.run."""

from __future__ import annotations

import json
import math

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from offload.point import Point
from receiver.pipeline import compile_script
from receiver.pipeline.builtins import jsonfns


def reference(text: str):
    """load_json as it was before the typed decode: orjson (or the json module for what orjson
    refuses) and the walk that makes every number a float."""
    obj = jsonfns._parse(text)
    return None if obj is jsonfns._BAD else jsonfns.floats(obj)


def same(a, b) -> bool:
    """Equal with types, float signs and map key order."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return a == b and math.copysign(1, a) == math.copysign(1, b) or (math.isnan(a) and math.isnan(b))
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is dict:
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


NUMBER_TEXTS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["-0", "0", "-0.0", "0e0", "1E+2", "1e-2", "2.5E-3", "18446744073709551615",
                     "18446744073709551616", "-9223372036854775808", "-9223372036854775809", "9007199254740993",
                     "4.9e-324", "1e308", "1e400", "-1e400", "1" + "0" * 400, "0.1e-99999"]),
)
STRING_TEXTS = st.text(alphabet=st.sampled_from(list("aé\u2028\\\"\x01😀 \t中")), max_size=6).map(json.dumps)
SCALAR_TEXTS = st.one_of(NUMBER_TEXTS, STRING_TEXTS, st.sampled_from(["true", "false", "null"]))
JSON_TEXTS = st.recursive(
    SCALAR_TEXTS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(STRING_TEXTS, inner), max_size=4).map(
            lambda kv: "{" + ",".join(f"{k}:{v}" for k, v in kv) + "}"),
    ),
    max_leaves=40,
)
MUTATIONS = st.sampled_from(["", ",", "]", "}", " ", "x", "\ud800", "-", "0", "e", "NaN", "Infinity", "\\u00", '"'])


@settings(max_examples=400, deadline=None)
@given(JSON_TEXTS, st.integers(min_value=0, max_value=10**6), MUTATIONS, st.booleans())
def test_typed_decode_agrees_with_the_walk(text, where, junk, mutate):
    if mutate:
        k = where % (len(text) + 1)
        text = text[:k] + junk + text[k + 1:]
    assert same(jsonfns.load_json(None, text), reference(text))


def test_nesting_beyond_the_typed_depth_still_gives_floats():
    deep = "[" * (jsonfns._TYPED_DEPTH + 3) + "1" + "]" * (jsonfns._TYPED_DEPTH + 3)
    v = jsonfns.load_json(None, deep)
    for _ in range(jsonfns._TYPED_DEPTH + 3):
        v = v[0]
    assert v == 1.0 and type(v) is float
    nested = '{"a":' * 12 + '{"n": 7, "l": [1, 2.5]}' + "}" * 12
    v = jsonfns.load_json(None, nested)
    for _ in range(12):
        v = v["a"]
    assert v == {"n": 7.0, "l": [1.0, 2.5]} and type(v["n"]) is float


def test_number_forms():
    v = jsonfns.load_json(None, '[17, -5, -0, 1e3, 2.5E-2, 123456789012345678901234567890, 18446744073709551615, '
                                '9007199254740993, -9223372036854775809]')
    assert v == [17.0, -5.0, 0.0, 1000.0, 0.025, 1.2345678901234568e29, 1.8446744073709552e19, 9007199254740992.0,
                 -9.223372036854776e18]
    assert all(type(x) is float for x in v)
    assert jsonfns.load_json(None, "3") == 3.0 and type(jsonfns.load_json(None, "3")) is float
    assert jsonfns.load_json(None, '{"a":1,"b":2,"a":3}') == {"a": 3.0, "b": 2.0}  # the last duplicate wins


def test_not_json_is_nil():
    for text in ("", " ", "{", "[1,]", "01", "1.", ".5", "tru", "[1] x", "\ufeff[1]", '"a\tb"', '{"a":"\\x"}',
                 "NaN", "Infinity", "-Infinity", "[1, NaN]", '{"a": Infinity}'):
        assert jsonfns.load_json(None, text) is None, text


def test_a_loaded_map_is_the_scripts_own():
    # the typed decode builds a new value per call: changing one result never shows in the next
    a = jsonfns.load_json(None, '{"a": [1]}')
    a["a"].append(2.0)
    assert jsonfns.load_json(None, '{"a": [1]}') == {"a": [1.0]}


def test_orjson_and_the_typed_decode_read_the_same_floats():
    for text in ("0.1", "1.7976931348623157e308", "2.2250738585072011e-308", "123456789.123456789e-5"):
        assert jsonfns.load_json(None, text) == orjson.loads(text)


# ---- run-time fast paths

def point(tags: dict | None = None, **fields) -> Point:
    return Point("app", dict(tags or {}), {"message": "m", **fields}, 1700000000000000000)


def test_inline_grok_falls_back_to_the_builtin_for_tags_variables_and_non_strings():
    src = 'grok(msg, "%{INT:n:int} %{WORD:w}")'
    s = compile_script(src, "g.p")
    pt = point(msg="5 abc")
    assert s.run(pt).error is None and pt.fields["n"] == 5 and pt.fields["w"] == "abc"
    pt = point(tags={"msg": "6 tagged"})  # a tag is read too (§7.1)
    assert s.run(pt).error is None and pt.fields["n"] == 6 and pt.fields["w"] == "tagged"
    pt = point(msg=7)  # a non-str value is matched as its text
    assert s.run(pt).error is None and "w" not in pt.fields
    s = compile_script('msg = "8 var"\n' + src, "v.p")  # a variable shadows the point key
    pt = point(msg="5 abc")
    assert s.run(pt).error is None and pt.fields["n"] == 8 and pt.fields["w"] == "var"
    s = compile_script('if grok(msg, "%{INT:n:int}") { add_key(ok, true) } else { add_key(ok, false) }', "b.p")
    pt = point(msg="x")
    assert s.run(pt).error is None and pt.fields["ok"] is False
    pt = point(msg="12")
    assert s.run(pt).error is None and pt.fields["ok"] is True and pt.fields["n"] == 12


def test_default_time_cache_is_per_zone():
    s_utc = compile_script('default_time(t, "UTC")', "u.p")
    s_sh = compile_script('default_time(t, "Asia/Shanghai")', "s.p")
    for _ in range(2):  # the second round comes from the caches
        a, b = point(t="2026-11-01 08:00:00"), point(t="2026-11-01 08:00:00")
        assert s_utc.run(a).error is None and s_sh.run(b).error is None
        assert a.fields["t"] - b.fields["t"] == 8 * 3600 * 1_000_000_000
    for _ in range(2):  # a tag stays a tag (§7.2), from the cache too
        pt = point(tags={"t": "2026-11-01 08:00:00"})
        assert s_utc.run(pt).error is None and pt.tags["t"] == str(a.fields["t"]) and "t" not in pt.fields


def test_spare_contexts_follow_budget_and_resolver_changes():
    s = compile_script("for ;; {}", "loop.p", budget=0.5)
    s.budget = 0.02  # the spare context must not keep the old budget
    r = s.run(point())
    assert r.error is not None and "20 ms" in r.error
    r = s.run(point(), budget=0.01)
    assert "10 ms" in r.error
    assert "20 ms" in s.run(point()).error  # an override is not kept for the next run
    used = compile_script('add_key(from_used, true)', "used.p")
    main = compile_script('use("used.p")', "main.p")
    assert main.run(point()).error is None
    main.resolver = lambda name: used if name == "used.p" else None
    pt = point()
    assert main.run(pt).error is None and pt.fields["from_used"] is True


def test_dropped_flag_does_not_leak_into_the_next_run():
    s = compile_script('if _ == "x" { drop() }', "d.p")
    assert s.run(point(message="x")).dropped is True
    assert s.run(point(message="y")).dropped is False


def test_a_used_script_does_not_see_the_callers_variables():
    used = compile_script('grok(_, "%{INT:n:int} %{WORD:w}")\nadd_key(seen, get_key("w"))', "b.p")
    main = compile_script('message = "5 var"\ngrok(message, "%{INT:a:int}")\nuse("b.p")', "a.p")
    main.resolver = lambda name: used if name == "b.p" else None
    pt = point(message="1 point")
    assert main.run(pt).error is None
    assert pt.fields["a"] == 5 and pt.fields["n"] == 1 and pt.fields["w"] == "point"
