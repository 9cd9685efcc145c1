"""Grok: expansion, typed captures, library, add_pattern scoping, RE2 translation, backtracking guard."""

from __future__ import annotations

import time

import pytest
from builtin_harness import CompileFailed, FakeCC, FakeCtx, Key, call

from receiver.pipeline.grok import DEFAULT_PATTERNS, GrokError, compile_grok, compile_regex
from receiver.pipeline.grok.compiler import to_int
from receiver.pipeline.grok.regex import EXP, Regex, translate


def test_library_has_the_78_names_and_all_compile():
    assert len(DEFAULT_PATTERNS) == 78
    for name in DEFAULT_PATTERNS:
        compile_grok("%{" + name + "}")


def test_typed_captures_e01():
    ctx = FakeCtx({"message": "10.0.0.1 GET /api/v1 404 0.25 W"})
    ok = call(ctx, "grok", Key("message"), "%{IPORHOST:client_ip} %{WORD:method} %{NOTSPACE:path} "
              "%{INT:code:int} %{NUMBER:cost:float} %{WORD:status}")
    assert ok is True
    assert ctx.point.fields == {"message": "10.0.0.1 GET /api/v1 404 0.25 W", "client_ip": "10.0.0.1",
                                "method": "GET", "path": "/api/v1", "code": 404, "cost": 0.25, "status": "W"}


def test_add_pattern_inner_captures_untrimmed_unmatched_optional_e02():
    cc = FakeCC()
    call(FakeCtx(), "add_pattern", "kv", "%{WORD:k}=%{WORD:v}", cc=cc)
    ctx = FakeCtx({"message": "[ info ]  user=alice"})
    assert call(ctx, "grok", Key("message"), r"^\[%{DATA:lvl}\]%{SPACE}%{kv}(,%{INT:extra})?", False, cc=cc)
    f = ctx.point.fields
    assert (f["lvl"], f["k"], f["v"], f["extra"]) == (" info ", "user", "alice", "")


def test_no_match_sets_nothing_e03():
    ctx = FakeCtx({"message": "abc"})
    assert call(ctx, "grok", Key("message"), "^%{INT:num}$") is False
    assert "num" not in ctx.point.fields
    assert call(ctx, "grok", Key("missing"), "%{INT:num}") is False


def test_compile_errors():
    for bad in ("%{NOPE}", "%{INT:x:uint}", "(a", r"(a)\1", "a++"):
        with pytest.raises(CompileFailed):
            call(FakeCtx(), "grok", Key("message"), bad)
    cc = FakeCC({"A": "%{B}", "B": "%{A}"})
    with pytest.raises(CompileFailed, match="cyclic"):
        call(FakeCtx(), "grok", Key("message"), "%{A}", cc=cc)


def test_user_pattern_shadows_library_and_duplicates_report_last():
    g = compile_grok("%{INT:x}", lambda n: "[a-z]+" if n == "INT" else None)
    assert g.match("12 ab") == [("x", "ab")]
    g = compile_grok("%{WORD:a} %{WORD:a}")
    assert g.match("one two") == [("a", "two")]
    g = compile_grok("%{DATA:}x")  # not a reference: literal text
    assert g.regex.search("%{DATA:}x")


def test_alias_sanitised_and_typed_zero_values():
    g = compile_grok("%{WORD:a.b}(?: %{INT:n:int})?(?: %{NUMBER:f:float})?(?: %{WORD:t:bool})?")
    assert g.match("x") == [("a_b", "x"), ("n", 0), ("f", 0.0), ("t", False)]


@pytest.mark.parametrize("s,want", [("12.0", 12), ("010", 8), ("08", 0), ("0x1A", 26), ("abc", 0), ("-7", -7),
                                    ("1.5", 0), ("99999999999999999999", 0)])
def test_int_conversion(s, want):
    assert to_int(s) == want


def test_translation_of_re2_syntax():
    assert translate(r"a$") == r"a\Z"
    assert translate(r"(?m)a$") == r"(?m:a$)"
    assert translate(r"x\z") == r"x\Z"
    assert translate(r"(?i)ab|c") == r"(?i:ab)|(?i:c)"
    assert translate(r"[[:digit:]]+") == r"[0-9]+"
    assert translate(r"a{,2}") == r"a\{,2}"
    assert translate(r"(?<n>a)") == r"(?P<n>a)"
    assert compile_regex(r"a$").search("a\n") is None  # RE2: $ is the end of the text
    assert compile_regex(r"\pL+").search("héllo").group(0) == "héllo"  # RE2 only


def test_backtracking_analysis():
    assert Regex(r"(a+)+$").degree == EXP
    assert Regex(r"(.*,)*x").degree == EXP
    assert Regex(r"(?:\d\d){1,2}").degree < EXP
    assert Regex(r"(?:[0-9A-F]{1,4}:){7}").degree < EXP
    g = compile_grok("%{COMBINEDAPACHELOG}")
    assert g.regex.engine == "re"


def test_pathological_regex_is_linear_and_next_point_runs():
    ctx = FakeCtx({"message": "a" * 10000 + "b"})
    t0 = time.perf_counter()
    assert call(ctx, "grok", Key("message"), "(a+)+$") is False
    assert time.perf_counter() - t0 < 1.0
    ctx2 = FakeCtx({"message": "aaa"})
    assert call(ctx2, "grok", Key("message"), "^%{WORD:w}$") and ctx2.point.fields["w"] == "aaa"


def test_polynomial_pattern_on_long_input_is_bounded():
    r = Regex(r"\d+\d+x")
    t0 = time.perf_counter()
    assert r.search("1" * 20000) is None
    assert time.perf_counter() - t0 < 3.0
    assert r.search("123x").group(0) == "123x"


def test_grok_error_type():
    with pytest.raises(GrokError):
        compile_grok("%{NOPE}")
