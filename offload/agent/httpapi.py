"""The agent's HTTP listener: DataKit's write API, /v1/ping and /metrics (Starlette).

    POST /v1/write/<category>            body per Content-Type (wire.md d.2), Content-Encoding
                                         or ?encoding= decompressed (d.5); applications push logs here
    POST /v1/write/ploffload/<category>  what an offloading DataKit (or agent) sends; never decompressed
    GET  /v1/ping                        health
    GET  /metrics                        Prometheus (sender and agent metrics)

The hop: `X-Offload-Hop` says how many times a batch was offloaded already;
requests on the ploffload path count as offloaded even without the header. The
router never offloads such a batch again (see offload.agent.router).

Answers follow DataKit (d.1, d.7): 200 with an empty body; 400 with
`{"error_code": "datakit.<reason>", "message": ...}`; 429 `datakit.reachMaxAPILimit`
when the sender's queue is full (the application should retry later).
"""

from __future__ import annotations

import gzip
import logging
import socket
import time
import zlib

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from offload.agent.router import Router
from offload.errors import DecodeError, PermanentError
from offload.point import CATEGORIES
from offload.sender.batch import HOP_HEADER, PROTOBUF_CONTENT_TYPE
from offload.sender.loop import parse_listen

__all__ = ["build_app", "HttpServer", "decode_body"]

log = logging.getLogger("offload.agent.http")

PLOFFLOAD_CATEGORIES = frozenset({"metric", "logging", "object", "network", "tracing", "keyevent", "custom_object",
                                  "security"})
_NOSNIFF = {"X-Content-Type-Options": "nosniff"}


class _HttpError(Exception):
    def __init__(self, status: int, code: str, message: str = "") -> None:
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str = "") -> JSONResponse:
    body = {"error_code": code}
    if message:
        body["message"] = message
    return JSONResponse(body, status_code=status, headers=_NOSNIFF)


def _decompress(body: bytes, encoding: str) -> bytes:
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
        if encoding == "zstd":
            import zstandard

            return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    except Exception as exc:
        raise _HttpError(400, "datakit.decodeBodyFailed", f"{encoding}: {exc}") from exc
    raise _HttpError(400, "datakit.decodeBodyFailed", f"unsupported encoding {encoding!r}")


def decode_body(content_type: str, body: bytes, precision: str | None = None) -> list:
    """Decode per DataKit's Content-Type rules (wire.md d.2); DecodeError on bad input."""
    # JSON and protobuf points carry their own time (0 = "now", set by the caller).
    from offload.codec import lineproto

    if "application/json" in content_type or content_type == "application/pbjson; proto=com.guance.Point":
        from offload.codec import jsonpoints

        return jsonpoints.decode(body)
    if content_type == PROTOBUF_CONTENT_TYPE:
        from offload.codec import protobuf

        return protobuf.decode(body)
    return lineproto.decode(body, precision=precision)  # None: DataKit's dynamic precision (d.4)


def _error_code(content_type: str) -> str:
    if "json" in content_type:
        return "datakit.invalidJsonPoint"
    if content_type == PROTOBUF_CONTENT_TYPE:
        return "datakit.invalidProtobufPoint"
    return "datakit.invalidLinePoint"


def build_app(router: Router, registry, started: float | None = None) -> Starlette:
    started = started or time.time()
    metrics = router.metrics

    async def write(request: Request, ploffload: bool) -> Response:
        category = request.path_params["category"].lower() if ploffload else request.path_params["category"]
        path = "/v1/write/ploffload" if ploffload else "/v1/write"
        allowed = PLOFFLOAD_CATEGORIES if ploffload else CATEGORIES
        try:
            if category not in allowed:
                raise _HttpError(400, "datakit.invalidCategory", f"invalid URL {request.url.path!r}")
            body = await request.body()
            if not body:
                raise _HttpError(400, "datakit.emptyBody")
            ct = request.headers.get("content-type", "")
            if not ploffload:
                encoding = request.query_params.get("encoding") or request.headers.get("content-encoding", "")
                if encoding:
                    body = _decompress(body, encoding)
            precision = request.query_params.get("precision") or ("n" if ploffload else None)
            try:
                points = decode_body(ct, body, precision)
            except DecodeError as exc:
                raise _HttpError(400, _error_code(ct), str(exc)) from exc
            if not points:
                raise _HttpError(400, "datakit.noPoints")
            now = time.time_ns()
            for p in points:
                if not p.time:
                    p.time = now
            try:
                hop = int(request.headers.get(HOP_HEADER, "0"))
            except ValueError:
                hop = 1  # unreadable: treat as offloaded, never forward it again
            if ploffload:
                hop = max(hop, 1)
            try:
                accepted = await router.points(category, points, hop)
            except PermanentError as exc:
                raise _HttpError(400, "datakit.invalidAPIHandler", str(exc)) from exc
            if not accepted:
                raise _HttpError(429, "datakit.reachMaxAPILimit", "offload queue is full, retry later")
        except _HttpError as exc:
            metrics.http_requests.labels(path, str(exc.status)).inc()
            return _error(exc.status, exc.code, exc.message)
        metrics.http_requests.labels(path, "200").inc()
        return Response(b"", status_code=200, headers=_NOSNIFF)

    async def write_plain(request: Request) -> Response:
        return await write(request, False)

    async def write_ploffload(request: Request) -> Response:
        return await write(request, True)

    async def ping(request: Request) -> Response:
        return JSONResponse({"content": {"version": "offload-agent", "uptime": f"{time.time() - started:.0f}s",
                                         "host": socket.gethostname()}})

    async def prom(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[
        Route("/v1/write/ploffload/{category}", write_ploffload, methods=["POST"]),
        Route("/v1/write/{category}", write_plain, methods=["POST"]),
        Route("/v1/ping", ping, methods=["GET"]),
        Route("/metrics", prom, methods=["GET"]),
    ])


class HttpServer:
    """uvicorn in this event loop, on a socket bound up front (bind errors surface at startup)."""

    def __init__(self, app: Starlette, listen: str) -> None:
        host, port = parse_listen(listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host or "0.0.0.0", port))
        sock.listen(1024)
        sock.setblocking(False)
        self.socket = sock
        self.address = sock.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, timeout_keep_alive=90)
        self.server = uvicorn.Server(config)
        self._main = None

    async def start(self) -> None:
        import asyncio

        self.server.config.load()
        self.server.lifespan = self.server.config.lifespan_class(self.server.config)
        await self.server.startup(sockets=[self.socket])
        self._main = asyncio.get_running_loop().create_task(self.server.main_loop(), name="agent-http")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._main is not None:
            await self._main
            await self.server.shutdown(sockets=[self.socket])
            self._main = None
        self.socket.close()
