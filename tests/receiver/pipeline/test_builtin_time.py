"""Time built-ins: default_time, default_time_with_fmt, parse_date, datetime, adjust_timezone."""

from __future__ import annotations

import time

import pytest
from builtin_harness import FakeCtx, Key, call

from receiver.pipeline.builtins._dateparse import parse_time
from receiver.pipeline.builtins._gotime import get_zone


def test_default_time_e16():
    ctx = FakeCtx({"time": "2023-11-14 22:13:20.5"}, time=1)
    call(ctx, "default_time", Key("time"), "Asia/Shanghai")
    assert ctx.point.fields["time"] == 1699971200500000000


def test_with_fmt_and_failure_e17():
    ctx = FakeCtx({"t": "2023-11-14 22:13:20.123 +0800", "t2": "14/Nov/2023:14:13:20", "bad": "not a time"})
    call(ctx, "default_time_with_fmt", Key("t"), "2006-01-02 15:04:05.000 -0700")
    call(ctx, "default_time_with_fmt", Key("t2"), "02/Jan/2006:15:04:05", "UTC")
    call(ctx, "default_time", Key("bad"), "UTC")
    f = ctx.point.fields
    assert f["t"] == 1699971200123000000 and f["t2"] == 1699971200000000000
    assert f["bad"] == 1700000000000000000 and f["pl_msg"].startswith("time convert failed: ")
    ctx = FakeCtx({"x": "2023-11-14"})
    call(ctx, "default_time", Key("x"), "CST")
    assert "unknown time zone CST" in ctx.point.fields["pl_msg"]


def test_parse_date_e18():
    ctx = FakeCtx()
    call(ctx, "parse_date", Key("ts"), "2021", "May", "12", "10", "10", "34", zone="Asia/Shanghai")
    call(ctx, "parse_date", Key("ts2"), "21", "12", "12", "10", "10", "34", "100", zone="+8")
    assert ctx.point.fields["ts"] == 1620785434000000000
    assert ctx.point.fields["ts2"] == 1639275034100000000


def test_datetime_e19():
    ctx = FakeCtx({"ts": 1700000000123, "ts2": 1700000000, "ts3": 1700000000000000000})
    call(ctx, "datetime", Key("ts"), "ms", "%Y-%m-%d %H:%M:%S", "UTC")
    call(ctx, "datetime", Key("ts2"), "s", "RFC3339", "Asia/Tokyo")
    call(ctx, "datetime", Key("ts3"), "ns", "%d/%b/%Y %I:%M:%S %p %z", "America/New_York")
    f = ctx.point.fields
    assert (f["ts"], f["ts2"], f["ts3"]) == ("2023-11-14 22:13:20", "2023-11-15T07:13:20+09:00",
                                              "14/Nov/2023 05:13:20 PM -0500")


UTC = get_zone("UTC")


@pytest.mark.parametrize("text,want", [
    ("14/Nov/2023:22:13:20 +0800", 1699971200_000000000),
    ("2023-11-14T14:13:20Z", 1699971200_000000000),
    ("2023-11-14T22:13:20.123456789+08:00", 1699971200_123456789),
    ("2023-11-14 14:13:20 +0000", 1699971200_000000000),
    ("2023-11-14 14:13:20 UTC", 1699971200_000000000),
    ("Tue, 14 Nov 2023 14:13:20 GMT", 1699971200_000000000),
    ("Tue Nov 14 14:13:20 2023", 1699971200_000000000),
    ("Tue Nov 14 14:13:20 UTC 2023", 1699971200_000000000),
    ("Nov 14, 2023 2:13:20 PM", 1699971200_000000000),
    ("2023-11-14", 1699920000_000000000),
    ("2023-11", 1698796800_000000000),
    ("20231114", 1699920000_000000000),
    ("20231114141320", 1699971200_000000000),
    ("2023:11:14", 1699920000_000000000),
    ("11.14.2023", 1699920000_000000000),
    ("2023 年 11 月 14 日", 1699920000_000000000),
    ("1699971200", 1699971200_000000000),
    ("1699971200123", 1699971200_123000000),
    ("1699971200123456", 1699971200_123456000),
    ("1699971200123456789", 1699971200_123456789),
])
def test_date_forms(text, want):
    assert parse_time(text, UTC) == want


def test_parse_duration_adjust_timezone_timestamp():
    ctx = FakeCtx({"d": "-1h2m3.5s", "bad": "5 minutes"})
    call(ctx, "parse_duration", Key("d"))
    call(ctx, "parse_duration", Key("bad"))
    assert ctx.point.fields["d"] == -3723500000000 and ctx.point.fields["bad"] == "5 minutes"
    now = time.time_ns()
    ctx = FakeCtx({"t": now - 8 * 3600 * 10**9})
    call(ctx, "adjust_timezone", Key("t"))
    assert abs(ctx.point.fields["t"] - now) < 3600 * 10**9
    assert abs(call(ctx, "timestamp", "s") - now // 10**9) <= 1
