"""Unit tests of the built-ins through a fake run context (tests/receiver/pipeline/builtin_harness.py)."""

from __future__ import annotations

import pytest
from builtin_harness import CompileFailed, FakeCC, FakeCtx, Key, call

from offload.point import UInt


def test_cast_e14():
    ctx = FakeCtx({"a": "3.9", "b": "2.5e1", "c": "t", "d": 12, "e": "abc", "f": True})
    for k, t in (("a", "int"), ("b", "float"), ("c", "bool"), ("d", "str"), ("e", "int"), ("f", "int")):
        call(ctx, "cast", Key(k), t)
    f = ctx.point.fields
    assert (f["a"], f["b"], f["c"], f["d"], f["e"], f["f"]) == (3, 25.0, True, "12", 0, 1)
    assert type(f["b"]) is float and type(f["f"]) is int
    with pytest.raises(CompileFailed):
        call(ctx, "cast", Key("a"), "uint")


def test_set_tag_rename_drop_key_set_measurement_e15():
    ctx = FakeCtx({"message": "m", "svc": "pay", "old_name": "v", "junk": 1, "src": "payments"},
                  variables={"r": 1.5})
    call(ctx, "set_tag", Key("svc"))
    call(ctx, "set_tag", Key("ratio"), Key("r"))
    call(ctx, "set_tag", Key("missing_one"))
    call(ctx, "rename", "new_name", Key("old_name"))
    call(ctx, "drop_key", Key("junk"))
    call(ctx, "set_measurement", Key("src"), True)
    p = ctx.point
    assert p.name == "payments"
    assert p.tags == {"svc": "pay", "ratio": "1.5", "missing_one": ""}
    assert p.fields == {"message": "m", "new_name": "v"}


def test_set_tag_number_literal_is_compile_error():
    with pytest.raises(CompileFailed):
        call(FakeCtx(), "set_tag", Key("flag"), True)


def test_nullif_type_exact_e30():
    ctx = FakeCtx({"a": 1, "b": 1, "c": "", "d": 1.0})
    call(ctx, "nullif", Key("a"), 1)
    call(ctx, "nullif", Key("b"), "1")
    call(ctx, "nullif", Key("c"), "")
    call(ctx, "nullif", Key("d"), 1)
    assert ctx.point.fields == {"b": 1, "d": 1.0}


def test_group_between_and_group_in_e31():
    ctx = FakeCtx({"code": 204, "latency": 100.0, "level": "error", "n": 2.0})
    call(ctx, "group_between", Key("code"), [200, 299], "OK", Key("code_class"))
    call(ctx, "group_between", Key("latency"), [0, 100], "fast")
    call(ctx, "group_in", Key("level"), ["warn", "error"], "bad", Key("level_class"))
    call(ctx, "group_in", Key("n"), [1, 2, 3], "small")
    f = ctx.point.fields
    assert f["code_class"] == "OK" and f["latency"] == "fast" and f["level_class"] == "bad" and f["n"] == 2.0
    with pytest.raises(CompileFailed):
        call(ctx, "group_between", Key("code"), [300, 200], "x")


def test_strings_e27_e28_e29():
    ctx = FakeCtx({"phone": "13789123014", "name": "张三丰", "card": "6222020200112233", "a": 1.5, "b": "x",
                   "c": 42, "f": 3.14159, "flag": True})
    call(ctx, "cover", Key("phone"), [4, 7])
    call(ctx, "cover", Key("name"), [2, -1])
    call(ctx, "replace", Key("card"), r"(\d{4})\d{8}(\d{4})", "$1********$2")
    call(ctx, "strfmt", Key("s1"), "%v-%s-%d", 1.5, "x", 42)
    call(ctx, "strfmt", Key("s2"), "%.2f|%5d|%t", 3.14159, 42, True)
    call(ctx, "strfmt", Key("s3"), "%d", "x")
    f = ctx.point.fields
    assert (f["phone"], f["name"], f["card"]) == ("137****3014", "张＊＊", "6222********2233")
    assert (f["s1"], f["s2"], f["s3"]) == ("1.5-x-42", "3.14|   42|true", "%!d(string=x)")
    assert call(ctx, "len", "héllo") == 6 and call(ctx, "strlen", "héllo") == 5
    assert call(ctx, "slice_string", "héllo", 1, 3) == "él"
    assert call(ctx, "len", 5) == 0


@pytest.mark.parametrize("fmt,args,want", [
    ("%v", [[1, "a"]], "[1 a]"), ("%v", [{"b": 1, "a": 2.5}], "map[a:2.5 b:1]"), ("%05d", [42], "00042"),
    ("%-5s|", ["ab"], "ab   |"), ("%+d", [3], "+3"), ("%x", [255], "ff"), ("%X", ["hi"], "6869"),
    ("%q", ["a\"b"], '"a\\"b"'), ("%d", [], "%!d(MISSING)"), ("%d", [1, "x"], "1%!(EXTRA string=x)"),
    ("%v", [None], "<nil>"), ("%v", [1e6], "1e+06"), ("%e", [1234.5], "1.234500e+03"), ("%g", [0.00001], "1e-05"),
    ("100%%", [], "100%"), ("%o", [8], "10"), ("%t", [1], "%!t(int64=1)"),
])
def test_strfmt_go_verbs(fmt, args, want):
    from receiver.pipeline.builtins._gofmt import sprintf
    assert sprintf(fmt, args) == want


def test_kv_split_e25():
    ctx = FakeCtx({"message": 'user="bob", ip=1.2.3.4, other=x, =empty'})
    assert call(ctx, "kv_split", Key("message"), field_split_pattern=r",\s*", trim_value='"',
                include_keys=["user", "ip"], prefix="kv_") is True
    assert call(ctx, "kv_split", Key("message")) is False
    f = ctx.point.fields
    assert f["kv_user"] == "bob" and f["kv_ip"] == "1.2.3.4" and "kv_other" not in f


def test_url_decode_and_parse_e26():
    ctx = FakeCtx({"u": "https%3A%2F%2Fexample.com%3A8443%2Fa%2Fb%3Fq%3Dhello%2Bworld%26t%3D1%26t%3D2"})
    call(ctx, "url_decode", Key("u"))
    assert ctx.point.fields["u"] == "https://example.com:8443/a/b?q=hello+world&t=1&t=2"
    m = call(ctx, "url_parse", Key("u"))
    assert m == {"scheme": "https", "host": "example.com:8443", "port": "8443", "path": "/a/b",
                 "params": {"q": "hello world", "t": "1,2"}}
    ctx.point.fields["bad"] = "%zz"
    from receiver.pipeline.registry import ScriptRuntimeError
    with pytest.raises(ScriptRuntimeError):
        call(ctx, "url_decode", Key("bad"))


def test_encodings_e32():
    ctx = FakeCtx({"tid": "18962fdd9eea517f2ae0771ea69d6e16", "plain": "hello, world", "enc": "aGk="})
    call(ctx, "conv_traceid_w3c_to_dd", Key("tid"))
    call(ctx, "b64enc", Key("plain"))
    call(ctx, "b64dec", Key("enc"))
    f = ctx.point.fields
    assert (f["tid"], f["plain"], f["enc"]) == ("3089600317904219670", "aGVsbG8sIHdvcmxk", "hi")
    assert call(ctx, "format_int", 255, 16) == "ff"
    assert call(ctx, "parse_int", "ff", 16) == 255 and call(ctx, "parse_int", "0x1f", 0) == 31
    assert call(ctx, "parse_int", "zz", 10) == 0 and call(ctx, "parse_int", "99999999999999999999", 10) == 2**63 - 1
    assert call(ctx, "hash", "abc", "md5") == "900150983cd24fb0d6963f7d28e17f72"
    assert call(ctx, "hash", "abc", "crc32") == ""


def test_cidr_match_e34():
    ctx = FakeCtx()
    assert call(ctx, "cidr", "10.1.2.3", "10.0.0.0/8") is True
    assert call(ctx, "cidr", "192.168.1.1", "10.0.0.0/8") is False
    assert call(ctx, "cidr", "nope", "10.0.0.0/8") is False
    assert call(ctx, "cidr", "::1", "0.0.0.0/0") is False
    assert call(ctx, "match", r"^\d{3}-\d{4}$", "555-1234") is True
    assert call(ctx, "match", "abc", None) is False
    with pytest.raises(CompileFailed):
        call(ctx, "match", "(a", "x")
    with pytest.raises(CompileFailed):
        call(ctx, "match", r"(a)\1", "x")  # back-references are not RE2


def test_xml_sql_duration_e35_e36():
    ctx = FakeCtx({"message": '<order id="A1"><item>pen</item><item>ink</item></order>',
                   "q": "SELECT a FROM t WHERE id = 42 AND name = 'bob'", "d": "1m30.5s", "ms": 1500,
                   "ns2": 2999999999})
    call(ctx, "xml", Key("message"), "/order/@id", Key("order_id"))
    call(ctx, "xml", Key("message"), "/order/item[2]/text()", Key("second_item"))
    call(ctx, "xml", Key("message"), "/order/none/text()", Key("nothing"))
    call(ctx, "sql_cover", Key("q"))
    call(ctx, "parse_duration", Key("d"))
    call(ctx, "duration_precision", Key("ms"), "ms", "ns")
    call(ctx, "duration_precision", Key("ns2"), "ns", "s")
    f = ctx.point.fields
    assert f["order_id"] == "A1" and f["second_item"] == "ink" and "nothing" not in f
    assert f["q"] == "SELECT a FROM t WHERE id = ? AND name = ?"
    assert (f["d"], f["ms"], f["ns2"]) == (90500000000, 1500000000, 2)
    from receiver.pipeline.builtins.sqlcover import obfuscate_sql
    assert obfuscate_sql("select * from t where x in (1, 2, 3) -- c") == "select * from t where x in ( ? )"


def test_user_agent_e37():
    ctx = FakeCtx({"agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                            "Chrome/120.0.0.0 Safari/537.36"})
    call(ctx, "user_agent", Key("agent"))
    f = ctx.point.fields
    assert {k: f[k] for k in ("browser", "browserVer", "engine", "engineVer", "os", "ua", "isBot", "isMobile")} == {
        "browser": "Chrome", "browserVer": "120.0.0.0", "engine": "AppleWebKit", "engineVer": "537.36",
        "os": "Windows 10", "ua": "Windows", "isBot": False, "isMobile": False}


def test_json_e04_e05():
    msg = '{"a":{"b":"  x  "},"n":17,"arr":["p","q"],"s":" pad ","flag":true,"obj":{"z":1,"a":[1,2]}}'
    ctx = FakeCtx({"message": msg})
    call(ctx, "json", Key("message"), Key("a.b"), Key("ab"))
    call(ctx, "json", Key("message"), Key("n"))
    call(ctx, "json", Key("message"), "arr[1]", Key("second"))
    call(ctx, "json", Key("message"), Key("s"))
    call(ctx, "json", Key("message"), Key("flag"))
    call(ctx, "json", Key("message"), Key("obj"))
    f = ctx.point.fields
    assert (f["ab"], f["n"], f["second"], f["s"], f["flag"], f["obj"]) == ("x", 17.0, "q", "pad", True,
                                                                          '{"a":[1,2],"z":1}')
    assert type(f["n"]) is float
    ctx = FakeCtx({"message": '{"item": " not_space ", "item2":{"item3": [123], "keep": 1}}'})
    call(ctx, "json", Key("message"), Key("item2.item3"), Key("item"), delete_after_extract=True)
    assert ctx.point.fields == {"item": "[123]", "message": '{"item":" not_space ","item2":{"keep":1}}'}
    with pytest.raises(CompileFailed):
        call(ctx, "json", Key("message"), "a[0]", Key("x"), delete_after_extract=True)


def test_load_json_value_type_e06():
    ctx = FakeCtx()
    m = call(ctx, "load_json", '{"a":{"first":[2.2,1.1],"ff":"x","second":2},"age":47}')
    assert call(ctx, "value_type", m["a"]) == "map" and call(ctx, "value_type", m["age"]) == "float"
    call(ctx, "delete", m["a"], "ff")
    assert m["a"] == {"first": [2.2, 1.1], "second": 2.0}
    assert call(ctx, "load_json", "nope") is None
    assert call(ctx, "valid_json", "null") is True and call(ctx, "vaild_json", "{") is False
    ctx.vars.update(arr=["a"], nothing=None)
    assert call(ctx, "append", Key("arr"), [3]) == ["a", [3]] and ctx.vars["arr"] == ["a"]
    assert call(ctx, "append", Key("nothing"), 1) is None
    with pytest.raises(CompileFailed):
        call(ctx, "append", ["a"], 1)


def test_pt_functions_e33():
    ctx = FakeCtx({"message": "m", "junk": "x", "cnt": UInt(7)})
    assert call(ctx, "pt_name") == "app"
    call(ctx, "pt_name", "renamed")
    assert call(ctx, "pt_kvs_set", "t1", "v1", as_tag=True) is True
    call(ctx, "pt_kvs_set", "f1", 3)
    call(ctx, "pt_kvs_del", "junk")
    assert ctx.point.name == "renamed" and ctx.point.tags == {"t1": "v1"}
    assert call(ctx, "pt_kvs_keys", fields=False) == ["t1"]
    assert call(ctx, "pt_kvs_get", "cnt") == 7 and type(ctx.point.fields["cnt"]) is UInt


def test_setopt_and_drop():
    ctx = FakeCtx()
    call(ctx, "setopt", status_mapping=False)
    call(ctx, "drop")
    assert ctx.options == {"status_mapping": False} and ctx.dropped
