"""Conformance cases as data (jmespath-style): every *.json / *.toml file under cases/.

Case format (cases/README.md): {"name", "script", "input" | "message", "category",
"expect": {"fields", "tags", "absent", "name", "time", "dropped", "error_contains",
"error_line", "fields_exact"}} or {"compile_error_contains", "compile_error_line"}.
Typed values: JSON/TOML ints are int, floats float; {"$uint": n}, {"$bytes": s} and
{"$nil": true} spell UInt, bytes and None. Keys not mentioned are not checked.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest

from offload.point import Point, UInt
from receiver.pipeline import CompileError, compile_script

CASES = Path(__file__).parent / "cases"
DEFAULT_TIME = 1700000000000000000
_ABSENT = object()


def _load(path: Path) -> list[dict]:
    if path.suffix == ".toml":
        data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
    return data["cases"] if isinstance(data, dict) else data


def _params() -> list:
    out = []
    for path in sorted(CASES.rglob("*")):
        if path.suffix not in (".json", ".toml") or not path.is_file():
            continue
        stem = path.relative_to(CASES).with_suffix("").as_posix()
        for i, case in enumerate(_load(path)):
            out.append(pytest.param(case, id=f"{stem}:{case.get('name', i)}"))
    return out


def decode(v: Any) -> Any:
    """Case-file spelling -> Python point value."""
    if isinstance(v, dict):
        if set(v) == {"$uint"}:
            return UInt(v["$uint"])
        if set(v) == {"$bytes"}:
            return v["$bytes"].encode("utf-8")
        if set(v) == {"$nil"}:
            return None
        return {k: decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [decode(x) for x in v]
    return v


def typed(v: Any) -> Any:
    """A comparison key that tells int, float, bool, UInt and str apart (NaN equal to NaN)."""
    if isinstance(v, float) and math.isnan(v):
        return (float, "nan")
    if isinstance(v, list):
        return (list, tuple(typed(x) for x in v))
    if isinstance(v, dict):
        return (dict, tuple(sorted((k, typed(x)) for k, x in v.items())))
    return (type(v), v)


def show(v: Any) -> str:
    return "<absent>" if v is _ABSENT else f"{type(v).__name__} {v!r}"


def script_of(case: dict) -> str:
    s = case["script"]
    return "\n".join(s) if isinstance(s, list) else s


def point_of(case: dict) -> Point:
    inp = case.get("input", {})
    fields = decode(inp.get("fields", {"message": "m"}))
    if "message" in case:
        fields = {"message": case["message"], **decode(inp.get("fields", {}))}
    return Point(inp.get("name", "app"), decode(inp.get("tags", {})), fields, inp.get("time", DEFAULT_TIME))


@pytest.mark.parametrize("case", _params())
def test_case(case: dict) -> None:
    source = script_of(case)
    if "compile_error_contains" in case:
        with pytest.raises(CompileError) as info:
            compile_script(source, "case.p")
        err = info.value
        assert case["compile_error_contains"].lower() in str(err).lower(), str(err)
        if "compile_error_line" in case:
            assert err.line == case["compile_error_line"], str(err)
        return
    script = compile_script(source, "case.p")
    pt = point_of(case)
    result = script.run(pt, case.get("category", "logging"))
    exp = case.get("expect", {})
    if "error_contains" in exp:
        assert result.error is not None, f"expected a runtime error, got none; point {pt}"
        assert exp["error_contains"].lower() in result.error.lower(), result.error
        if "error_line" in exp:
            assert f"case.p:{exp['error_line']}:" in result.error, result.error
    else:
        assert result.error is None, result.error
    assert result.dropped is exp.get("dropped", False)
    for key, want in exp.get("fields", {}).items():
        got = pt.fields.get(key, _ABSENT)
        assert key not in pt.tags, f"{key} is a tag ({pt.tags[key]!r}), expected a field"
        assert typed(got) == typed(decode(want)), f"field {key}: got {show(got)}, want {show(decode(want))}"
    for key, want in exp.get("tags", {}).items():
        got = pt.tags.get(key, _ABSENT)
        assert key not in pt.fields, f"{key} is a field ({pt.fields[key]!r}), expected a tag"
        assert typed(got) == typed(decode(want)), f"tag {key}: got {show(got)}, want {show(decode(want))}"
    for key in exp.get("absent", []):
        assert key not in pt.fields and key not in pt.tags, f"{key} should be absent: {pt}"
    if "fields_exact" in exp:
        assert typed(pt.fields) == typed(decode(exp["fields_exact"])), pt.fields
    if "name" in exp:
        assert pt.name == exp["name"]
    if "time" in exp:
        assert pt.time == exp["time"]
