"""Round-robin over receivers, with ejection of failing ones and probing them back in.

One `RoundRobinBalancer` serves every sender task: a single counter advances once
per pick, so batches alternate evenly across receivers whatever the number of
tasks (DataKit keeps one counter per worker, wire.md c.3, which skews).

Endpoint states:

    healthy --send fails--> ejected (retry_at = now + eject_base * 2**(failures-1), capped)
    ejected --retry_at passed, probe ok--> healthy     (probe fails: ejected again, longer)
    healthy --receiver busy--> cooling (retry_at = now + busy_delay) --time passes--> healthy

`failures` counts consecutive failures and resets only on a successful send, so a
receiver that answers health checks but fails every batch is ejected for longer
and longer. Probes are the transport's health check (gRPC health service,
`GET /v1/ping`). `acquire()` waits while no receiver is healthy; the clock is
injected so tests can drive ejection and probing without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Iterable, Sequence

from offload.errors import RetryableError
from offload.sender.transport.base import Transport

__all__ = ["Endpoint", "RoundRobinBalancer", "NoReceiverError"]

log = logging.getLogger("offload.sender.balancer")


class NoReceiverError(RetryableError):
    """No receiver became healthy within the wait allowed."""


class Endpoint:
    """One receiver as the balancer sees it."""

    __slots__ = ("transport", "name", "healthy", "busy", "failures", "retry_at", "ejections")

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.name = transport.name
        self.healthy = True
        self.busy = False
        self.failures = 0
        self.retry_at = 0.0
        self.ejections = 0

    def __repr__(self) -> str:
        state = "healthy" if self.healthy else "busy" if self.busy else "ejected"
        return f"Endpoint({self.name}, {state}, failures={self.failures})"


class RoundRobinBalancer:
    def __init__(
        self,
        transports: Sequence[Transport],
        *,
        eject_base: float = 0.5,
        eject_max: float = 30.0,
        busy_delay: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        on_eject: Callable[[Endpoint], None] | None = None,
        on_state: Callable[[Endpoint], None] | None = None,
    ) -> None:
        if not transports:
            raise ValueError("a balancer needs at least one transport")
        self.endpoints = [Endpoint(t) for t in transports]
        self.eject_base = eject_base
        self.eject_max = eject_max
        self.busy_delay = busy_delay
        self.clock = clock
        self._on_eject = on_eject
        self._on_state = on_state
        self._counter = 0
        self._changed = asyncio.Event()  # set when an endpoint becomes healthy
        self._wake = asyncio.Event()  # set when an endpoint is ejected (the prober re-plans)
        self._down_since: float | None = None
        self._prober: asyncio.Task | None = None

    # -- picking ------------------------------------------------------------------------
    def _readmit_cooled(self) -> None:
        now = self.clock()
        for ep in self.endpoints:
            if ep.busy and ep.retry_at <= now:
                self._set_healthy(ep)

    def pick(self, exclude: Iterable[Endpoint] = ()) -> Endpoint | None:
        """The next healthy endpoint in round-robin order, skipping `exclude`; None if there is none."""
        self._readmit_cooled()
        excluded = set(map(id, exclude))
        n = len(self.endpoints)
        for _ in range(n):
            ep = self.endpoints[self._counter % n]
            self._counter += 1
            if ep.healthy and id(ep) not in excluded:
                return ep
        return None

    def healthy(self) -> list[Endpoint]:
        self._readmit_cooled()
        return [ep for ep in self.endpoints if ep.healthy]

    async def acquire(self, exclude: Iterable[Endpoint] = (), timeout: float | None = None) -> Endpoint:
        """Pick an endpoint, preferring ones not in `exclude`; wait while none is healthy.

        Raises NoReceiverError when `timeout` seconds pass with every receiver down.
        """
        exclude = list(exclude)
        deadline = None if timeout is None else self.clock() + timeout
        while True:
            ep = self.pick(exclude) or (self.pick() if exclude else None)
            if ep is not None:
                return ep
            self._changed.clear()
            now = self.clock()
            waits = [ep.retry_at - now for ep in self.endpoints if ep.busy]
            if deadline is not None:
                if now >= deadline:
                    raise NoReceiverError(f"no receiver healthy for {timeout:.1f}s")
                waits.append(deadline - now)
            wait = max(0.001, min(waits)) if waits else None
            try:
                await asyncio.wait_for(self._changed.wait(), wait)
            except asyncio.TimeoutError:
                pass

    # -- outcomes -----------------------------------------------------------------------
    def report_success(self, ep: Endpoint) -> None:
        ep.failures = 0
        if not ep.healthy:
            self._set_healthy(ep)  # a late answer proves it is alive

    def report_failure(self, ep: Endpoint, busy: bool = False, reason: str = "") -> None:
        """Take `ep` out of rotation: briefly when busy, with exponential backoff when failing.
        `reason` (the error) goes into the ejection's log line: the operator's first question."""
        now = self.clock()
        if busy:
            if ep.healthy:
                ep.healthy, ep.busy, ep.retry_at = False, True, now + self.busy_delay
                self._refresh()
            return
        if not ep.healthy and not ep.busy:
            return  # already ejected by a concurrent failure: do not double the backoff
        ep.failures += 1
        self._eject(ep, now, reason)

    def _eject(self, ep: Endpoint, now: float, reason: str = "") -> None:
        backoff = min(self.eject_max, self.eject_base * 2 ** max(0, ep.failures - 1))
        ep.healthy, ep.busy, ep.retry_at = False, False, now + backoff
        ep.ejections += 1
        log.warning("receiver %s ejected for %.2fs (%d consecutive failures)%s", ep.name, backoff, ep.failures,
                    f": {reason}" if reason else "")
        if self._on_eject:
            self._on_eject(ep)
        self._refresh()
        self._wake.set()

    def _set_healthy(self, ep: Endpoint) -> None:
        was_ejected = not ep.busy
        ep.healthy, ep.busy = True, False
        if was_ejected:
            log.info("receiver %s is back in rotation", ep.name)
        self._refresh()
        self._changed.set()

    def _refresh(self) -> None:
        up = any(ep.healthy for ep in self.endpoints)
        if up:
            self._down_since = None
        elif self._down_since is None:
            self._down_since = self.clock()
        if self._on_state:
            for ep in self.endpoints:
                self._on_state(ep)

    def outage(self) -> float:
        """Seconds since every receiver went out of rotation (0 while one is healthy)."""
        self._readmit_cooled()
        return 0.0 if self._down_since is None else self.clock() - self._down_since

    # -- probing ------------------------------------------------------------------------
    async def probe_due(self) -> None:
        """Probe every ejected endpoint whose backoff has passed (once)."""
        now = self.clock()
        due = [ep for ep in self.endpoints if not ep.healthy and not ep.busy and ep.retry_at <= now]
        if not due:
            return
        results = await asyncio.gather(*(self._probe(ep) for ep in due))
        now = self.clock()
        for ep, ok in zip(due, results):
            if ep.healthy:
                continue  # a late send success readmitted it meanwhile
            if ok:
                self._set_healthy(ep)
            else:
                ep.failures += 1
                backoff = min(self.eject_max, self.eject_base * 2 ** max(0, ep.failures - 1))
                ep.retry_at = now + backoff

    async def _probe(self, ep: Endpoint) -> bool:
        try:
            return bool(await ep.transport.probe())
        except Exception as exc:  # a probe must never kill the prober
            log.debug("probe of %s failed: %s", ep.name, exc)
            return False

    async def _probe_loop(self) -> None:
        while True:
            await self.probe_due()
            now = self.clock()
            pending = [ep.retry_at - now for ep in self.endpoints if not ep.healthy and not ep.busy]
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.01, min(pending)) if pending else None)
            except asyncio.TimeoutError:
                pass

    def start(self) -> None:
        """Start the background prober (needs a running loop)."""
        if self._prober is None:
            self._prober = asyncio.get_running_loop().create_task(self._probe_loop(), name="offload-prober")

    async def aclose(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            try:
                await self._prober
            except asyncio.CancelledError:
                pass
            self._prober = None
        for ep in self.endpoints:
            try:
                await ep.transport.aclose()
            except Exception as exc:  # closing is best effort
                log.debug("closing %s: %s", ep.name, exc)
