"""The aggregate endpoint's built-in metrics and their minutely self-report as `dataway_aggregate` points.

Prometheus counters (default registry, shown on the daemon's /metrics) can never go
down, so every reported metric also keeps a resettable tally per label set in a
`Tallies` object (one per service). `Tallies.snapshot()` -> `to_points()` turns the
tallies into points of measurement `dataway_aggregate`: a counter's sample name is the
field, its labels the tags; a summary gives `<name>_sum`, `<name>_count` and
`<name>_quantile_<q>`. After the write succeeds, `Tallies.settle(snapshot)` subtracts
exactly what was reported, so increments that raced with the write are kept.
"""

from __future__ import annotations

import threading
from typing import Iterable

from prometheus_client import Counter, Gauge

from offload.point import Point

__all__ = [
    "BODY_SIZE", "AGGR_POINTS", "DROPPED_LATE", "PROXY_ERRORS", "FLUSH_ERRORS", "OPEN_CALCULATORS",
    "WINDOWS_FLUSHED", "Tallies", "to_points", "SELF_MEASUREMENT",
]

SELF_MEASUREMENT = "dataway_aggregate"
API = "/v1/aggregate"

BODY_SIZE = Counter("dataway_http_api_body_size_bytes_total",
                    "Bytes of request bodies received by the API", ["api", "token"])
AGGR_POINTS = Counter("dataway_http_aggr_point_total",
                      "Aggregate samples accepted into the window cache (calculators added or merged)",
                      ["api", "token"])
DROPPED_LATE = Counter("dataway_aggr_dropped_late_total",
                       "Aggregate samples dropped because their window was already flushed", ["api", "token"])
PROXY_ERRORS = Counter("dataway_aggr_proxy_backend_errors_total",
                       "Proxied aggregate requests whose backend could not be reached", ["endpoint", "reason"])
FLUSH_ERRORS = Counter("dataway_aggr_flush_write_errors_total",
                       "Writes of flushed aggregate windows the Dataway writer refused", ["reason"])
WINDOWS_FLUSHED = Counter("dataway_aggr_windows_flushed_total",
                          "Aggregate windows handed to the Dataway writer", ["token"])
OPEN_CALCULATORS = Gauge("dataway_aggr_open_calculators", "Calculators in open aggregate windows")

# Sample name of the counters as Prometheus exposes them (the field names of the self-report).
_SAMPLE_NAME = {BODY_SIZE: "dataway_http_api_body_size_bytes_total",
                AGGR_POINTS: "dataway_http_aggr_point_total"}

Sample = tuple[str, tuple[tuple[str, str], ...], float]  # (sample name, sorted labels, value)


class Tallies:
    """Resettable mirrors of the reported counters: (sample name, labels) -> value."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._lock = threading.Lock()

    def inc(self, counter: Counter, amount: float, **labels: str) -> None:
        """Increment the Prometheus counter and, for the reported ones, the tally."""
        if amount <= 0:
            return
        counter.labels(**labels).inc(amount)
        name = _SAMPLE_NAME.get(counter)
        if name is not None:
            key = (name, tuple(sorted(labels.items())))
            with self._lock:
                self._values[key] = self._values.get(key, 0.0) + amount

    def observe_summary(self, name: str, value: float, **labels: str) -> None:
        """A summary without quantiles: `<name>_sum` and `<name>_count` tallies."""
        key_labels = tuple(sorted(labels.items()))
        with self._lock:
            for suffix, amount in (("_sum", value), ("_count", 1.0)):
                k = (name + suffix, key_labels)
                self._values[k] = self._values.get(k, 0.0) + amount

    def snapshot(self) -> list[Sample]:
        with self._lock:
            return [(name, labels, value) for (name, labels), value in self._values.items() if value]

    def settle(self, snapshot: Iterable[Sample]) -> None:
        """Subtract what a successful report carried (reset only after the write succeeded)."""
        with self._lock:
            for name, labels, value in snapshot:
                key = (name, labels)
                left = self._values.get(key, 0.0) - value
                if left > 1e-9:
                    self._values[key] = left
                else:
                    self._values.pop(key, None)


def to_points(samples: Iterable[Sample], time_ns: int) -> list[Point]:
    """One `dataway_aggregate` point per label set; a `quantile` label moves into the field name."""
    by_tags: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
    for name, labels, value in samples:
        tags = []
        field_name = name
        for k, v in labels:
            if k == "quantile":
                field_name = f"{name}_quantile_{v}"
            else:
                tags.append((k, v))
        by_tags.setdefault(tuple(tags), {})[field_name] = float(value)
    return [Point(SELF_MEASUREMENT, dict(tags), fields, time_ns) for tags, fields in by_tags.items()]
