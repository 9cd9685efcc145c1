"""The receiver daemon's Prometheus metrics (the Dataway writer and the aggregate endpoint export their own).

All live in the default registry, which `/metrics` serves. Label values are
bounded: `category` is one of DataKit's categories, `script` is the name of a
script that exists in the scripts directory (points that ran no script are
labelled `-`), so hostile point names cannot grow the series set.

    offload_build_info{version}                                  1
    offload_receiver_points_received_total{category,script}     points decoded from accepted batches
    offload_receiver_points_processed_total{category,script}    points handed to the writer (after the pipeline)
    offload_receiver_points_failed_total{category,script}       points whose script run ended in an error
    offload_receiver_points_dropped_total{category,script}      points the script dropped
    offload_receiver_script_errors_total{category,script}       script run errors (one per failed run)
    offload_receiver_pipeline_seconds{category}                 worker time per batch (histogram)
    offload_receiver_batch_seconds{transport}                   receive-to-durable time per batch (histogram)
    offload_receiver_requests_total{transport,category,code}    requests by outcome (code "ok" or the error name)
    offload_receiver_duplicate_batches_total                    gRPC resends answered DUPLICATE
    offload_receiver_worker_restarts_total{reason}              worker processes restarted (crash, timeout)
    offload_receiver_batch_retries_total                        batches re-run after their worker died
    offload_receiver_queue_batches                              batches waiting for a worker
    offload_receiver_inflight_batches                           batches admitted and not yet answered
    offload_receiver_inflight_bytes                             request bytes admitted and not yet answered
    offload_receiver_workers                                    live worker processes
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BATCH_RETRIES",
    "BATCH_SECONDS",
    "BUILD_INFO",
    "DUPLICATES",
    "PIPELINE_SECONDS",
    "POINTS_DROPPED",
    "POINTS_FAILED",
    "POINTS_PROCESSED",
    "POINTS_RECEIVED",
    "REQUESTS",
    "SCRIPT_ERRORS",
    "WORKER_RESTARTS",
    "bind_gauges",
    "record_batch",
]

BUILD_INFO = Gauge("offload_build_info", "Build information of pipeline-offload", ["version"])

_CS = ["category", "script"]
POINTS_RECEIVED = Counter("offload_receiver_points_received", "Points decoded from accepted batches", _CS)
POINTS_PROCESSED = Counter("offload_receiver_points_processed", "Points handed to the Dataway writer", _CS)
POINTS_FAILED = Counter("offload_receiver_points_failed", "Points whose script run ended in an error", _CS)
POINTS_DROPPED = Counter("offload_receiver_points_dropped", "Points dropped by their script", _CS)
SCRIPT_ERRORS = Counter("offload_receiver_script_errors", "Pipeline script run errors", _CS)

PIPELINE_SECONDS = Histogram(
    "offload_receiver_pipeline_seconds", "Worker time spent on one batch (decode, scripts, encode)", ["category"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
BATCH_SECONDS = Histogram(
    "offload_receiver_batch_seconds", "Time from receiving a batch to its durable ack", ["transport"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
REQUESTS = Counter("offload_receiver_requests", "Write requests by outcome", ["transport", "category", "code"])
DUPLICATES = Counter("offload_receiver_duplicate_batches", "Batches answered as duplicates (gRPC DUPLICATE, HTTP X-Offload-Duplicate: 1)")
WORKER_RESTARTS = Counter("offload_receiver_worker_restarts", "Worker processes restarted", ["reason"])
BATCH_RETRIES = Counter("offload_receiver_batch_retries", "Batches re-run after their worker died or timed out")

QUEUE_BATCHES = Gauge("offload_receiver_queue_batches", "Batches waiting for a worker")
INFLIGHT_BATCHES = Gauge("offload_receiver_inflight_batches", "Batches admitted and not yet answered")
INFLIGHT_BYTES = Gauge("offload_receiver_inflight_bytes", "Request bytes admitted and not yet answered")
WORKERS = Gauge("offload_receiver_workers", "Live worker processes")


def bind_gauges(queued: Callable[[], float], inflight: Callable[[], float], inflight_bytes: Callable[[], float],
                workers: Callable[[], float]) -> None:
    """Make the depth gauges read live values at scrape time."""
    QUEUE_BATCHES.set_function(queued)
    INFLIGHT_BATCHES.set_function(inflight)
    INFLIGHT_BYTES.set_function(inflight_bytes)
    WORKERS.set_function(workers)


def record_batch(category: str, stats: list[tuple[str, int, int, int, int]], cost_s: float) -> None:
    """Count one processed batch: stats rows are (script, received, written, failed, dropped)."""
    for script, received, written, failed, dropped in stats:
        if received:
            POINTS_RECEIVED.labels(category, script).inc(received)
        if written:
            POINTS_PROCESSED.labels(category, script).inc(written)
        if failed:
            POINTS_FAILED.labels(category, script).inc(failed)
            SCRIPT_ERRORS.labels(category, script).inc(failed)
        if dropped:
            POINTS_DROPPED.labels(category, script).inc(dropped)
    PIPELINE_SECONDS.labels(category).observe(cost_s)
