"""The DataKit filter subset accepted in select.condition."""

from __future__ import annotations

import pytest

from offload.aggregate.condition import ConditionError, compile_condition
from offload.point import Point

P = Point("nginx", {"host": "web-1", "env": "prod"}, {"status": 404, "lat": 1.5, "ok": False, "msg": "GET /x",
                                                     "nothing": None})


@pytest.mark.parametrize(
    "cond, expected",
    [
        ('{ host = "web-1" }', True),
        ("{ host = 'web-1' and status > 3 }", True),
        ("{ host == 'web-2' or status >= 404 }", True),
        ("{ status < 404 }", False),
        ("{ status <= 404 && lat > 1 }", True),
        ("{ lat != 1.5 }", False),
        ("{ env != 'dev' }", True),
        ("{ missing != 'x' }", False),
        ("{ missing = nil }", True),
        ("{ nothing = nil }", True),
        ("{ host != nil }", True),
        ("{ status in [200, 404] }", True),
        ("{ env IN ['dev', 'test'] }", False),
        ("{ env notin ['dev', 'test'] }", True),
        ("{ env not in ['prod'] }", False),
        ("{ host match ['^web-\\d+$'] }", True),
        ("{ msg match 'GET' }", True),
        ("{ host notmatch ['^db'] }", True),
        ("{ ok = false }", True),
        ("{ ok = 0 }", False),
        ("{ status = '404' }", False),
        ("{ not (status = 404) }", False),
        ("{ source = 'nginx' }", True),
        ("{ status > 500 } { env = 'prod' }", True),
        ("{ status > 500 }, { env = 'dev' }", False),
        ("{ (host = 'x' or env = 'prod') and status = 404 }", True),
        ("{ `host` = 'web-1' }", True),
    ],
)
def test_condition(cond, expected):
    assert compile_condition(cond)(P) is expected


@pytest.mark.parametrize(
    "cond, offset, fragment",
    [
        ("{ a = }", 6, "expected a value"),
        ("{ a = 1", 7, "'}'"),
        ("a = 1", 0, "'{'"),
        ("{ a match ['(x'] }", 11, "invalid regular expression"),
        ("{ a ~ 1 }", 4, "unexpected character"),
        ("{ a in [1 2] }", 10, "expected ',' or ']'"),
        ("", 0, "empty condition"),
    ],
)
def test_condition_errors(cond, offset, fragment):
    with pytest.raises(ConditionError) as info:
        compile_condition(cond)
    assert fragment in info.value.reason and info.value.offset == offset
