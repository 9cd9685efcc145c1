"""What every transport offers the sender: send one batch, probe health, close.

    send(batch)  -> Ack            raises RetryableError (BusyError when the receiver
                                   pushes back) or PermanentError; nothing else escapes
    probe()      -> bool           True when the receiver says it is serving
    aclose()

Each transport owns one long-lived connection pool (a gRPC channel, an httpx
client) for its address, created lazily inside the running event loop and
reused for every batch; every request has a timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from offload.errors import RetryableError
from offload.sender.batch import Batch

__all__ = ["Ack", "Transport", "BusyError"]


class BusyError(RetryableError):
    """The receiver is healthy but full (gRPC RESOURCE_EXHAUSTED, HTTP 429): try another one."""


@dataclass(frozen=True)
class Ack:
    """A receiver's acknowledgement: the batch is durable there (or was already)."""

    duplicate: bool = False
    points: int = 0


class Transport(Protocol):
    name: str

    async def send(self, batch: Batch) -> Ack: ...

    async def probe(self) -> bool: ...

    async def aclose(self) -> None: ...
