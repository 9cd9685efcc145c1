"""`AggregateClient`: POST `Batchs` to `/v1/aggregate` the way DataKit does (spec wire.md §f.1).

    async with AggregateClient(["http://rx-0:9529", "http://rx-1:9529"], token="tkn_...") as client:
        report = await client.send(engine.take())
        await client.flush()      # re-send bodies kept after retryable failures

* Batchs with the same pick key are merged, then split so each body is at most
  `body_limit` bytes (default 1 MiB); every part is a `Batchs` with that pick key.
  Parts are cut between `AggregationBatch`es (greedy, in order); a single batch
  larger than the limit goes alone, since a batch cannot be split.
* Endpoint = `endpoints[pick_key % len(endpoints)]`, URL `<endpoint>/v1/aggregate?token=<token>`
  (a `?token=` already in an endpoint URL is used when no token is given).
* Headers: `Content-Type: application/x-protobuf`, `Content-Encoding: identity`,
  `X-Payload-Size: <body bytes>`, `Guance-Pick-Key` and `Guance-Routing-Key`: the pick
  key as an unsigned decimal.
* Connection errors, timeouts, 5xx and 429 are `RetryableError` and retried with
  tenacity (exponential back-off); 4xx are `PermanentError`: logged, counted, dropped.
  A body still failing after its retries is kept (up to `max_kept_bytes`, oldest
  dropped first) and re-sent by `flush()` or the next `send()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from offload._proto.aggregate import aggrbatch_pb2 as apb
from offload.errors import PermanentError, RetryableError, TransportError
from offload.codec._pbwire import enc_varint as _varint  # one varint encoder for every hand-built message

__all__ = ["AggregateClient", "Body", "SendReport", "split_bodies", "DEFAULT_BODY_LIMIT"]

log = logging.getLogger("offload.aggregate.client")

DEFAULT_BODY_LIMIT = 1 << 20


@dataclass(frozen=True)
class Body:
    """One request body: a serialized Batchs of `batches` AggregationBatches."""

    pick_key: int
    data: bytes
    batches: int


@dataclass
class SendReport:
    """What one send/flush did."""

    bodies: int = 0
    bytes: int = 0
    batches: int = 0
    failed: int = 0  # bodies that did not go out (kept for flush, or dropped if permanent)
    kept: int = 0  # bodies waiting for flush after this call
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0


def split_bodies(pick_key: int, batchs: list[apb.Batchs], limit: int) -> list[Body]:
    """Serialized `Batchs` bodies for one pick key, each at most `limit` bytes (a lone oversize batch excepted)."""
    if len(batchs) == 1 and batchs[0].pick_key == pick_key and batchs[0].ByteSize() <= limit:
        only = batchs[0]
        return [Body(pick_key, only.SerializeToString(), len(only.batchs))] if len(only.batchs) else []
    # Batchs = repeated (0x0a, len, AggregationBatch) + (0x10, pick_key): concatenating
    # encoded entries is exactly the serialization of a Batchs holding them
    tail = b"\x10" + _varint(pick_key) if pick_key else b""  # proto3 omits a zero pick key
    bodies: list[Body] = []
    parts: list[bytes] = []
    size = len(tail)
    count = 0
    for bs in batchs:
        for b in bs.batchs:
            data = b.SerializeToString()
            entry = b"\x0a" + _varint(len(data)) + data
            if count and size + len(entry) > limit:
                bodies.append(Body(pick_key, b"".join(parts) + tail, count))
                parts, size, count = [], len(tail), 0
            if len(entry) + len(tail) > limit:
                log.warning("an aggregation batch of %d bytes exceeds the %d-byte body limit; sent alone",
                            len(entry), limit)
            parts.append(entry)
            size += len(entry)
            count += 1
    if count:
        bodies.append(Body(pick_key, b"".join(parts) + tail, count))
    return bodies


class AggregateClient:
    """Sends Batchs to the aggregate endpoints; one instance per agent, shared by all rules."""

    def __init__(self, endpoints: list[str], token: str = "", timeout: float = 10.0,
                 body_limit: int = DEFAULT_BODY_LIMIT, retries: int = 3, retry_wait: float = 0.2,
                 max_retry_wait: float = 5.0, concurrency: int = 4, max_kept_bytes: int = 64 << 20,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not endpoints:
            raise ValueError("AggregateClient needs at least one endpoint")
        self.endpoints = [self._endpoint(e, token) for e in endpoints]
        self.body_limit = body_limit
        self.retries = retries
        self.retry_wait = retry_wait
        self.max_retry_wait = max_retry_wait
        self.max_kept_bytes = max_kept_bytes
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self._kept: deque[Body] = deque()
        self._kept_bytes = 0
        self.dropped_bodies = 0
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout), transport=transport)

    @staticmethod
    def _endpoint(base: str, token: str) -> tuple[str, dict[str, str]]:
        url = httpx.URL(base)
        params = dict(url.params)
        if token:
            params["token"] = token
        path = url.path.rstrip("/")
        if not path.endswith("/v1/aggregate"):
            path += "/v1/aggregate"
        return str(url.copy_with(path=path, query=None)), params

    async def __aenter__(self) -> "AggregateClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def kept_bodies(self) -> int:
        return len(self._kept)

    def encode(self, batchs_list: Iterable[apb.Batchs]) -> list[Body]:
        """Merge by pick key and split at the body limit."""
        groups: dict[int, list[apb.Batchs]] = {}
        for bs in batchs_list:
            groups.setdefault(bs.pick_key, []).append(bs)
        bodies: list[Body] = []
        for pick, group in groups.items():
            bodies.extend(split_bodies(pick, group, self.body_limit))
        return bodies

    async def send(self, batchs_list: Iterable[apb.Batchs]) -> SendReport:
        """Send Batchs (and anything kept from earlier failures); never raises for transport errors."""
        bodies = list(self._drain_kept()) + self.encode(batchs_list)
        return await self._send_bodies(bodies)

    async def flush(self) -> SendReport:
        """Re-send the bodies kept after retryable failures."""
        return await self._send_bodies(list(self._drain_kept()))

    def _drain_kept(self) -> Iterable[Body]:
        while self._kept:
            body = self._kept.popleft()
            self._kept_bytes -= len(body.data)
            yield body

    async def _send_bodies(self, bodies: list[Body]) -> SendReport:
        report = SendReport()
        if not bodies:
            return report
        results = await asyncio.gather(*(self._post_guarded(b) for b in bodies))
        for body, err in zip(bodies, results):
            if err is None:
                report.bodies += 1
                report.bytes += len(body.data)
                report.batches += body.batches
                continue
            report.failed += 1
            report.errors.append(str(err))
            if isinstance(err, RetryableError):
                self._keep(body)
            else:
                self.dropped_bodies += 1
                log.error("aggregate body of %d batches rejected, dropped: %s", body.batches, err)
        report.kept = len(self._kept)
        return report

    def _keep(self, body: Body) -> None:
        self._kept.append(body)
        self._kept_bytes += len(body.data)
        while self._kept_bytes > self.max_kept_bytes and len(self._kept) > 1:
            old = self._kept.popleft()
            self._kept_bytes -= len(old.data)
            self.dropped_bodies += 1
            log.warning("aggregate retry buffer full: dropped a body of %d batches", old.batches)

    async def _post_guarded(self, body: Body) -> TransportError | None:
        async with self._sem:
            try:
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self.retries + 1),
                    wait=wait_exponential(multiplier=self.retry_wait, max=self.max_retry_wait),
                    retry=retry_if_exception_type(RetryableError),
                    reraise=True,
                ):
                    with attempt:
                        await self.post(body)
            except TransportError as exc:
                return exc
        return None

    async def post(self, body: Body) -> None:
        """One POST of one body; raises RetryableError / PermanentError."""
        url, params = self.endpoints[body.pick_key % len(self.endpoints)]
        key = str(body.pick_key)
        headers = {
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "identity",
            "X-Payload-Size": str(len(body.data)),
            "Guance-Pick-Key": key,
            "Guance-Routing-Key": key,
        }
        try:
            resp = await self._http.post(url, params=params, content=body.data, headers=headers)
        except httpx.TransportError as exc:  # connect, read, write, timeout, protocol errors
            raise RetryableError(f"POST {url}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code < 300:
            return
        detail = resp.text[:200]
        if resp.status_code >= 500 or resp.status_code == 429:
            raise RetryableError(f"POST {url}: HTTP {resp.status_code}: {detail}")
        raise PermanentError(f"POST {url}: HTTP {resp.status_code}: {detail}")
