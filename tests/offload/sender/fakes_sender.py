"""In-process fake transports for the sender's unit tests (the integration tests use real receivers)."""

from __future__ import annotations

import asyncio

from offload.errors import PermanentError, RetryableError
from offload.sender.transport import Ack, BusyError


class FakeTransport:
    def __init__(self, name: str, delay: float = 0.0) -> None:
        self.name = name
        self.delay = delay
        self.accepted: list[bytes] = []  # batch ids acked
        self.attempts: list[bytes] = []  # every attempt, acked or not
        self.bodies: list[bytes] = []
        self.mode = "ok"  # ok | down | busy | refuse
        self.probe_ok = True
        self.probes = 0
        self.closed = False
        self.seen: set[bytes] = set()

    async def send(self, batch) -> Ack:
        self.attempts.append(batch.batch_id)
        self.bodies.append(batch.grpc_body())
        if self.delay:
            await asyncio.sleep(self.delay)
        else:
            await asyncio.sleep(0)
        if self.mode == "down":
            raise RetryableError(f"{self.name}: connection refused")
        if self.mode == "busy":
            raise BusyError(f"{self.name}: RESOURCE_EXHAUSTED")
        if self.mode == "refuse":
            raise PermanentError(f"{self.name}: INVALID_ARGUMENT")
        dup = batch.batch_id in self.seen
        self.seen.add(batch.batch_id)
        self.accepted.append(batch.batch_id)
        return Ack(duplicate=dup, points=batch.count)

    async def probe(self) -> bool:
        self.probes += 1
        return self.probe_ok and self.mode != "down"

    async def aclose(self) -> None:
        self.closed = True


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
