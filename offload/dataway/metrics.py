"""Prometheus metrics of the Dataway writer, in the default registry, created once per process.

    dataway_send_total{category,status}             HTTP attempts by answer: "200", "503", ...,
                                                    "error" (transport failure), "file" (file sink)
    dataway_send_latency_seconds                    duration of each HTTP attempt
    dataway_points_dropped_total{category,reason}   reason: 4xx | full | expired | oversize | unencodable
    dataway_wal_bytes                               WAL bytes on disk, summed over live writers
    dataway_retries_total                           attempts that will be made again (5xx, transport)

Points are counted per endpoint: a body fanned out to two URLs and refused by
both counts its points twice.
"""

from __future__ import annotations

import weakref

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["SEND", "LATENCY", "DROPPED", "WAL_BYTES", "RETRIES", "track_writer"]

SEND = Counter("dataway_send", "Requests to Dataway by category and answer.", ["category", "status"])
LATENCY = Histogram(
    "dataway_send_latency_seconds",
    "Duration of each request to Dataway.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
DROPPED = Counter("dataway_points_dropped", "Points never delivered, by reason.", ["category", "reason"])
WAL_BYTES = Gauge("dataway_wal_bytes", "Bytes in the Dataway writers' WAL segments.")
RETRIES = Counter("dataway_retries", "Dataway requests that will be sent again.")

_writers: "weakref.WeakSet" = weakref.WeakSet()
WAL_BYTES.set_function(lambda: sum(w.wal_bytes for w in list(_writers)))


def track_writer(writer) -> None:
    """Count `writer.wal_bytes` in dataway_wal_bytes while the writer lives."""
    _writers.add(writer)
