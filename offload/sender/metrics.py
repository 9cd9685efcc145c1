"""Prometheus metrics of the offload sender (the agent serves them on `/metrics`).

    offload_sender_points_offloaded_total{receiver}   points acknowledged by that receiver
    offload_sender_points_failed_total{receiver}      points in attempts that failed there (retried
                                                      elsewhere unless the error was permanent)
    offload_sender_points_dropped_total{reason}       points never delivered: permanent / gave_up / error
    offload_sender_batches_total{receiver,result}     result: accepted | duplicate | failed
    offload_sender_retries_total{receiver,reason}     attempts that will be retried: error | busy
    offload_sender_ejections_total{receiver}          times a receiver was taken out of rotation
    offload_sender_receiver_up{receiver}              1 while in rotation
    offload_sender_queue_batches{where}               waiting batches: memory | spill
    offload_sender_inflight_batches                   batches being sent
    offload_sender_ack_latency_seconds{receiver}      send -> ack per successful attempt

Each sender gets its own registry by default so several can live in one process
(tests); the agent passes the registry it serves.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["SenderMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class SenderMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.points_offloaded = Counter("offload_sender_points_offloaded", "Points acknowledged by a receiver.",
                                        ["receiver"], registry=r)
        self.points_failed = Counter("offload_sender_points_failed", "Points in attempts that failed on a receiver.",
                                     ["receiver"], registry=r)
        self.points_dropped = Counter("offload_sender_points_dropped", "Points never delivered.", ["reason"],
                                      registry=r)
        self.batches = Counter("offload_sender_batches", "Batches by receiver and outcome.", ["receiver", "result"],
                               registry=r)
        self.retries = Counter("offload_sender_retries", "Attempts that will be retried.", ["receiver", "reason"],
                               registry=r)
        self.ejections = Counter("offload_sender_ejections", "Receivers taken out of rotation.", ["receiver"],
                                 registry=r)
        self.receiver_up = Gauge("offload_sender_receiver_up", "1 while the receiver is in rotation.", ["receiver"],
                                 registry=r)
        self.queue = Gauge("offload_sender_queue_batches", "Batches waiting to be sent.", ["where"], registry=r)
        self.inflight = Gauge("offload_sender_inflight_batches", "Batches being sent.", registry=r)
        self.ack_latency = Histogram("offload_sender_ack_latency_seconds", "Send to ack, per successful attempt.",
                                     ["receiver"], buckets=_LATENCY_BUCKETS, registry=r)

    def value(self, name: str, **labels: str) -> float:
        """Current value of a sample (tests and the `send` summary)."""
        v = self.registry.get_sample_value(name, labels or None)
        return 0.0 if v is None else v
