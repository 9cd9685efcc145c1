"""The agent's own Prometheus metrics (next to the sender's, on the agent's `/metrics`).

    offload_agent_lines_read_total{input}            lines read by each input (file:<source>, stdin)
    offload_agent_points_routed_total{route}         route: offload | local
    offload_agent_points_local_failed_total          points whose local processing or write failed
    offload_agent_http_requests_total{path,code}     write API requests by answer
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["AgentMetrics"]


class AgentMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.lines_read = Counter("offload_agent_lines_read", "Lines read by each input.", ["input"], registry=r)
        self.routed = Counter("offload_agent_points_routed", "Points by route.", ["route"], registry=r)
        self.local_failed = Counter("offload_agent_points_local_failed", "Points whose local processing failed.",
                                    registry=r)
        self.http_requests = Counter("offload_agent_http_requests", "Write API requests by answer.",
                                     ["path", "code"], registry=r)
