"""Duration spellings used by rules: Go (TOML windows), PromQL (ranges), and output-name formatting."""

from __future__ import annotations

import pytest

from offload.aggregate.durations import (
    DurationError, format_duration, parse_go_duration, parse_prom_duration, parse_window,
)
from offload.aggregate.rollup import output_name, parse_resolution

S = 1_000_000_000


@pytest.mark.parametrize("text, ns", [("10s", 10 * S), ("1m30s", 90 * S), ("1.5h", 5400 * S), ("250ms", S // 4),
                                      ("0", 0), ("-2s", -2 * S), ("1h0m0.5s", 3600 * S + S // 2), ("3us", 3000)])
def test_go_durations(text, ns):
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize("text", ["", "10", "1d", "s", "1.5.h", "1 m"])
def test_bad_go_durations(text):
    with pytest.raises(DurationError):
        parse_go_duration(text)


@pytest.mark.parametrize("text, ns", [("2m", 120 * S), ("1h30m", 5400 * S), ("1d", 86400 * S), ("1w", 604800 * S),
                                      ("500ms", S // 2)])
def test_prom_durations(text, ns):
    assert parse_prom_duration(text) == ns


@pytest.mark.parametrize("text", ["1.5m", "30m1h", "2", "", "1x"])
def test_bad_prom_durations(text):
    with pytest.raises(DurationError):
        parse_prom_duration(text)


def test_windows_and_names():
    assert parse_window(60 * S) == 60 * S and parse_window("1m") == 60 * S
    with pytest.raises(DurationError):
        parse_window(True)
    assert [format_duration(n * S) for n in (60, 90, 300, 3600, 14400, 86400, 1)] == [
        "1m", "90s", "5m", "1h", "4h", "1d", "1s"]
    assert output_name("lat", 300 * S) == "lat_5m"
    assert parse_resolution("1d") == 86400 * S and parse_resolution("90s") == 90 * S
