"""Proxy mode: forward `/v1/aggregate` to `aggregator_endpoint[pick_key % N]` unchanged.

The pick key comes from `Guance-Pick-Key` (an unsigned 64-bit decimal, as DataKit sends
it); the same request body, query string and headers (all but the hop-by-hop ones) go to
`<endpoint>/v1/aggregate?<query>`. The backend's status, body and content headers come
back as they are (the body raw: `Accept-Encoding` is passed through, so no re-encoding).
A backend that cannot be reached answers 502 (refused, reset), a timeout 504; both are
counted in `dataway_aggr_proxy_backend_errors_total{endpoint, reason}`.
One shared `httpx.AsyncClient` (connection pooling, timeouts) serves every request.
"""

from __future__ import annotations

import json
import logging

import httpx
from starlette.requests import Request
from starlette.responses import Response

from receiver.aggregate.errors import InvalidPickKey
from receiver.aggregate.selfmetrics import PROXY_ERRORS

__all__ = ["AggregateProxy", "parse_pick_key", "error_response"]

log = logging.getLogger(__name__)

PICK_HEADER = "guance-pick-key"
MAX_U64 = (1 << 64) - 1
_HOP_BY_HOP = frozenset({
    "host", "content-length", "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade",
})
_BACK_HEADERS = ("content-type", "content-encoding", "x-content-type-options")


def parse_pick_key(value: str | None) -> int:
    """The pick key of a request; InvalidPickKey when missing or not an unsigned 64-bit decimal."""
    if value is None or not value.strip():
        raise InvalidPickKey("header Guance-Pick-Key is required in proxy mode")
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_U64:
        raise InvalidPickKey(f"header Guance-Pick-Key must be an unsigned 64-bit decimal, not {value!r}")
    return int(text)


class AggregateProxy:
    """Forwards aggregate requests to the backend chosen by the pick key."""

    def __init__(self, endpoints: tuple[str, ...], timeout: float = 30.0, connect_timeout: float = 5.0) -> None:
        if not endpoints:
            raise ValueError("proxy needs at least one endpoint")
        self.endpoints = tuple(e.rstrip("/") for e in endpoints)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    def endpoint_for(self, pick: int) -> str:
        return self.endpoints[pick % len(self.endpoints)]

    async def forward(self, request: Request, body: bytes) -> Response:
        """Send the request to its backend and relay the answer (or a 502/504 of our own)."""
        pick = parse_pick_key(request.headers.get(PICK_HEADER))
        base = self.endpoint_for(pick)
        query = request.url.query
        url = f"{base}/v1/aggregate" + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        if not any(k.lower() == "accept-encoding" for k, _ in headers):
            headers.append(("accept-encoding", "identity"))
        try:
            req = self._client.build_request("POST", url, content=body, headers=headers)
            resp = await self._client.send(req, stream=True)
            try:
                raw = b"".join([chunk async for chunk in resp.aiter_raw()])
            finally:
                await resp.aclose()
        except httpx.TimeoutException as exc:
            return self._failed(base, "timeout", 504, "backendTimeout", exc)
        except httpx.TransportError as exc:
            reason = "refused" if isinstance(exc, httpx.ConnectError) else "error"
            return self._failed(base, reason, 502, "backendUnavailable", exc)
        out_headers = {k: resp.headers[k] for k in _BACK_HEADERS if k in resp.headers}
        return Response(raw, status_code=resp.status_code, headers=out_headers)

    @staticmethod
    def _failed(base: str, reason: str, status: int, code: str, exc: Exception) -> Response:
        PROXY_ERRORS.labels(endpoint=base, reason=reason).inc()
        log.warning("aggregate proxy: backend %s %s: %s", base, reason, exc)
        return error_response(status, code, f"backend {base}: {type(exc).__name__}: {exc}".rstrip(": "))

    async def aclose(self) -> None:
        await self._client.aclose()


def error_response(status: int, code: str, message: str = "") -> Response:
    """The JSON error shape of wire.md §d.7 with an `aggregate.` code."""
    payload = {"error_code": f"aggregate.{code}"}
    if message:
        payload["message"] = message
    return Response(json.dumps(payload), status_code=status, media_type="application/json",
                    headers={"X-Content-Type-Options": "nosniff"})
