"""`RulesEngine`: the agent's aggregation rules at run time, with reload that keeps state.

    engine = RulesEngine.from_file("rules.toml")
    engine.feed("metric", points)        # select + fork + queue (no I/O)
    await client.send(engine.take())     # the pending Batchs, one per rule and pick key
    engine.reload()                      # re-read the file if it changed

Reload: the file is re-read only when its stat (mtime, size, inode) changed, and
recompiled only when its bytes changed. Rules are matched by `Rule.identity` (the
hash of the normalized definition, see rules.py): a rule whose identity is still
present keeps its runner, i.e. its cardinality-guard counts for the hour, its
counter baselines (increase/sum2) and its pending batches. Changed or removed rules
start afresh; their already-built pending batches are not thrown away (they hold
data accepted under the definition in force when it arrived) and go out with the
next `take()`. A file that no longer compiles leaves the running rules untouched
and raises `RulesError`. Open windows live on the server, keyed by series, method,
output name and measurement, so they are unaffected by any of this.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import xxhash
from prometheus_client import REGISTRY, CollectorRegistry, Counter

from offload._proto.aggregate import aggrbatch_pb2 as apb
from offload.aggregate.diagnostics import Diagnostic, RulesError
from offload.aggregate.forking import RuleRunner
from offload.aggregate.guard import CardinalityGuard, skipped_counter
from offload.aggregate.rules import Rule, RuleSet, load_rules
from offload.point import Point

__all__ = ["RulesEngine", "ReloadReport"]

log = logging.getLogger("offload.aggregate.engine")

_DROPPED: dict[int, Counter] = {}


def _dropped_counter(registry: CollectorRegistry) -> Counter:
    c = _DROPPED.get(id(registry))
    if c is None:
        c = _DROPPED[id(registry)] = Counter(
            "aggregate_points_dropped",
            "Points not aggregated because the agent's pending aggregate batches were full.",
            registry=registry,
        )
    return c


@dataclass
class ReloadReport:
    """What a reload did, by rule name."""

    changed: bool
    kept: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.changed:
            return "rules unchanged"
        return f"rules reloaded: {len(self.kept)} kept, {len(self.added)} new or changed, {len(self.removed)} removed"


class RulesEngine:
    """Runs a RuleSet over incoming points and queues the resulting Batchs.

    Not thread-safe: feed, take and reload from one thread (the agent's event loop).
    """

    def __init__(self, ruleset: RuleSet | None = None, path: str | os.PathLike | None = None,
                 clock: Callable[[], float] = time.time, registry: CollectorRegistry | None = None,
                 max_pending_batches: int = 1_000_000) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.clock = clock
        self.registry = registry if registry is not None else REGISTRY
        self.max_pending_batches = max_pending_batches
        self._skipped = skipped_counter(self.registry)
        self._dropped = _dropped_counter(self.registry)
        self._runners: dict[int, RuleRunner] = {}
        self._by_category: dict[str, list[RuleRunner]] = {}
        self._orphans: list[apb.Batchs] = []
        self._stat: tuple | None = None
        self._digest: int | None = None
        self._full_logged = False
        self.ruleset = RuleSet()
        if ruleset is not None:
            self._install(ruleset)

    @classmethod
    def from_file(cls, path: str | os.PathLike, **kwargs) -> "RulesEngine":
        """Load `path` (raises RulesError if it does not compile)."""
        engine = cls(path=path, **kwargs)
        engine.reload()
        return engine

    # -- rules -------------------------------------------------------------------------------
    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.ruleset.rules

    @property
    def action(self) -> str:
        """The file's `action` ("", "passthrough", "drop"): what the agent does with the originals."""
        return self.ruleset.action

    def runner(self, name: str) -> RuleRunner:
        """The runner of the rule called `name` (tests and diagnostics)."""
        for r in self._runners.values():
            if r.rule.name == name:
                return r
        raise KeyError(name)

    def reload(self) -> ReloadReport:
        """Re-read the rules file if it changed; keeps the state of unchanged rules."""
        if self.path is None:
            return ReloadReport(False)
        try:
            st = os.stat(self.path)
            stat = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stat = None
        if stat is not None and stat == self._stat:
            return ReloadReport(False)
        try:
            with open(self.path, "rb") as f:
                digest = xxhash.xxh64_intdigest(f.read())
        except OSError as exc:
            raise RulesError(self.path, [Diagnostic(1, 1, f"cannot read rules file: {exc.strerror or exc}")]) from exc
        if digest == self._digest:
            self._stat = stat
            return ReloadReport(False)
        ruleset = load_rules(self.path)  # raises RulesError; the running rules stay
        report = self._install(ruleset)
        self._stat, self._digest = stat, digest
        if self._runners and report.changed:
            log.info("%s: %s", self.path, report)
        return report

    def _install(self, ruleset: RuleSet) -> ReloadReport:
        old = self._runners
        new: dict[int, RuleRunner] = {}
        report = ReloadReport(True)
        for rule in ruleset.rules:
            ident = rule.identity
            runner = old.get(ident)
            if runner is not None and ident not in new:
                runner.rebind(ruleset.config_hash)
                report.kept.append(rule.name)
            else:
                guard = CardinalityGuard(rule.label, rule.series_limit, self._skipped, self.clock)
                runner = RuleRunner(rule, ruleset.config_hash, guard)
                report.added.append(rule.name)
            new[ident] = runner
        for ident, runner in old.items():
            if ident not in new:
                report.removed.append(runner.rule.name)
                self._orphans.extend(runner.take())
        by_cat: dict[str, list[RuleRunner]] = {}
        for runner in new.values():
            by_cat.setdefault(runner.rule.selector.category, []).append(runner)
        self._runners, self._by_category, self.ruleset = new, by_cat, ruleset
        return report

    # -- data ------------------------------------------------------------------------------
    def feed(self, category: str, points: Iterable[Point]) -> None:
        """Aggregate a batch of points of one category: queue their Batchs (no I/O)."""
        runners = self._by_category.get(category)
        if not runners:
            return
        if not isinstance(points, (list, tuple)):
            points = list(points)
        if self.pending_batches >= self.max_pending_batches:
            self._dropped.inc(len(points))
            if not self._full_logged:
                self._full_logged = True
                log.warning("aggregate batches pending exceed %d: points are dropped until they are sent",
                            self.max_pending_batches)
            return
        self._full_logged = False
        hour = int(self.clock() // 3600)
        for runner in runners:
            runner.feed(points, hour)

    def selects(self, category: str, point: Point) -> bool:
        """True if any rule consumes `point`: with `action = "drop"` the agent need not forward it."""
        return any(r.selects(point) for r in self._by_category.get(category, ()))

    @property
    def pending_batches(self) -> int:
        return sum(r.pending_batches for r in self._runners.values()) + sum(len(b.batchs) for b in self._orphans)

    def take(self) -> list[apb.Batchs]:
        """Every pending Batchs (possibly several with one pick key), emptied."""
        out, self._orphans = self._orphans, []
        for runner in self._runners.values():
            out.extend(runner.take())
        return out
