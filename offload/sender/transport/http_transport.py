"""HTTP transports: DataKit's two offload requests over one keep-alive httpx client per address.

* ploffload:    POST /v1/write/ploffload/logging, body `point.PBPoints`,
                Content-Type `application/protobuf; proto=com.guance.Point`, never
                compressed (DataKit's ploffload endpoint does not decompress, wire.md d.6).
* datakit-http: POST /v1/write/logging, line protocol, no Content-Type, no query
                parameters (wire.md c.2); gzip when `[sender] compression = "gzip"`
                (DataKit's /v1/write/ accepts Content-Encoding: gzip, wire.md d.5).

Both add `X-Offload-Hop` and `X-Offload-Batch-Id` (ignored by a real DataKit;
our agent uses the hop to refuse re-offloading, our receiver the id to drop
duplicates) and `Authorization: Bearer <token>` when a token is configured.
Success is any 2xx; 429 -> BusyError; 408 and 5xx -> RetryableError; other
statuses -> PermanentError; connection errors and timeouts -> RetryableError.
Health is `GET /v1/ping`. httpx reads and closes every response.
"""

from __future__ import annotations

import gzip
import ssl

import httpx

from offload.errors import DecodeError, EncodeError, PermanentError, RetryableError
from offload.sender.batch import BATCH_ID_HEADER, HOP_HEADER, PROTOBUF_CONTENT_TYPE, Batch
from offload.sender.config import Address
from offload.sender.transport.base import Ack, BusyError

__all__ = ["HttpTransport"]


class HttpTransport:
    def __init__(self, address: Address, timeout: float = 10.0, token: str = "", compression: str = "none",
                 tls_ca: str = "") -> None:
        self.address = address
        self.tls_ca = tls_ca
        self.name = address.url
        self.ploffload = address.transport == "http-ploffload"
        self.timeout = timeout
        self.gzip = compression == "gzip" and not self.ploffload
        base = f"{'https' if address.tls else 'http'}://{address.hostport}"
        self._base = base
        self._headers = {"User-Agent": "offload-agent"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._client: httpx.AsyncClient | None = None

    def _ensure(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base, headers=self._headers, timeout=httpx.Timeout(self.timeout),
                verify=ssl.create_default_context(cafile=self.tls_ca) if self.tls_ca else True,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=90.0),
            )
        return self._client

    def request_parts(self, batch: Batch) -> tuple[str, bytes, dict[str, str]]:
        """Path, body and headers of the request for `batch` (the same bytes on every attempt)."""
        headers = {HOP_HEADER: str(batch.hop), BATCH_ID_HEADER: batch.batch_id.hex()}
        if self.ploffload:
            headers["Content-Type"] = PROTOBUF_CONTENT_TYPE
            return f"/v1/write/ploffload/{batch.category}", batch.ploffload_body(), headers
        body = batch.lineproto_body()
        if self.gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        return f"/v1/write/{batch.category}", body, headers

    async def send(self, batch: Batch) -> Ack:
        client = self._ensure()
        try:
            path, body, headers = self.request_parts(batch)
        except (EncodeError, DecodeError) as exc:  # no receiver can take this batch in this format
            raise PermanentError(f"{self.name}: cannot encode the batch: {exc}") from exc
        try:
            resp = await client.post(path, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise RetryableError(f"{self.name}: timeout after {self.timeout}s ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise RetryableError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        status = resp.status_code
        if 200 <= status < 300:
            return Ack(duplicate=resp.headers.get("X-Offload-Duplicate") == "1", points=batch.count)
        text = f"{self.name}: HTTP {status}: {resp.text[:256]}"
        if status == 429:
            raise BusyError(text)
        if status == 408 or status >= 500:
            raise RetryableError(text)
        raise PermanentError(text)

    async def probe(self) -> bool:
        client = self._ensure()
        try:
            resp = await client.get("/v1/ping", timeout=min(self.timeout, 2.0))
        except httpx.HTTPError:
            return False
        return resp.status_code == 200

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
