"""The cardinality guard: a per-rule cap on distinct output series per clock hour.

An output series is one routing key (spec §3: measurement + group-by values + metric
field); each of the rule's outputs is written once per series and window. When a rule
has already seen `limit` series in the current hour (UTC, from the injected clock), a
sample of any further series is skipped: it is not sent. Each skipped series is counted
once per hour in `aggregate_series_skipped_total{rule}` (Prometheus) and the rule logs
one warning per hour. Series admitted earlier in the hour keep flowing. At the next
hour the sets start empty again.

Memory: one Python int per admitted series (plus up to `limit` skipped ones); a rule
at the default 1,000,000 series costs on the order of 100 MB, which is why the limit
is per rule and configurable.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

from prometheus_client import REGISTRY, CollectorRegistry, Counter

__all__ = ["CardinalityGuard", "skipped_counter"]

log = logging.getLogger("offload.aggregate.guard")

_COUNTERS: dict[int, Counter] = {}


def skipped_counter(registry: CollectorRegistry | None = None) -> Counter:
    """The `aggregate_series_skipped_total{rule}` counter of a registry (created once)."""
    reg = registry if registry is not None else REGISTRY
    counter = _COUNTERS.get(id(reg))
    if counter is None:
        counter = Counter(
            "aggregate_series_skipped",
            "Output series skipped by the aggregation cardinality guard (each counted once per rule and hour).",
            ["rule"],
            registry=reg,
        )
        _COUNTERS[id(reg)] = counter
    return counter


class CardinalityGuard:
    """Admits at most `limit` distinct series keys per hour for one rule."""

    def __init__(self, rule: str, limit: int, counter: Counter | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.rule = rule
        self.limit = limit
        self.clock = clock
        self._counter = (counter if counter is not None else skipped_counter()).labels(rule=rule)
        self.hour = -1
        self.seen: set[int] = set()
        self.skipped: set[int] = set()
        self.skipped_samples = 0
        self.warnings = 0  # how many times the limit was logged (once per hour at most)
        self._logged_hour = -1

    def current_hour(self) -> int:
        return int(self.clock() // 3600)

    def roll(self, hour: int) -> None:
        """Start counting afresh if `hour` is a new hour."""
        if hour != self.hour:
            self.hour = hour
            self.seen = set()
            self.skipped = set()

    def admit(self, key: int) -> bool:
        """True if the series `key` may be sent this hour (call `roll` first, once per batch)."""
        seen = self.seen
        if key in seen:
            return True
        if len(seen) < self.limit:
            seen.add(key)
            return True
        self._skip(key)
        return False

    def _skip(self, key: int) -> None:
        self.skipped_samples += 1
        if key not in self.skipped:
            if len(self.skipped) < self.limit:
                self.skipped.add(key)
            self._counter.inc()
        if self._logged_hour != self.hour:
            self._logged_hour = self.hour
            self.warnings += 1
            log.warning(
                "aggregate rule %r reached its limit of %d output series this hour; samples of new series "
                "are skipped until %s UTC (see aggregate_series_skipped_total)",
                self.rule, self.limit, time.strftime("%Y-%m-%dT%H:00:00", time.gmtime((self.hour + 1) * 3600)),
            )
