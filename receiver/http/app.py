"""The HTTP ingest app (Starlette): DataKit's write API, /v1/ping, /metrics, plus mounted routes.

    POST /v1/write/<category>              wire.md d.1-d.5: line protocol by default, JSON and
                                           protobuf by Content-Type, gzip/deflate/zstd(/br) bodies
    POST /v1/write/ploffload/<category>    wire.md d.6: no decompression, precision ns by default
    GET  /v1/ping                          200 {"version", "uptime", "ready", "content": {...}}
    GET  /metrics                          Prometheus text format

A write is handled in DataKit's order: category, auth, admission (429 when the
in-flight bound is reached), the body read under `max_body_bytes` (413, checked
on Content-Length and again while reading), empty body, then one job to the
worker pool. The answer (200, empty or the echo) goes out only once the
results are durable in the Dataway writer's WAL. Errors use DataKit's JSON shape
(receiver.http.errors).

Resends: a write carrying `X-Offload-Batch-Id` (an opaque id of at most 128
bytes; longer or empty values are ignored, as are dry runs) goes through the
same DedupWindow as gRPC, checked after auth and before admission. An id
accepted within the window is answered 200 with an empty body and
`X-Offload-Duplicate: 1` without reading or processing the body (DataKit
clients expect exactly 200); a concurrent attempt of the same id waits for the
first one's outcome. The id is recorded only once the batch is durable.
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from offload.dataway.endpoint import check_token
from offload.point import CATEGORIES
from receiver import metrics
from receiver.errors import (
    BatchFailed,
    IngestError,
    PayloadTooLarge,
    ShuttingDown,
)
from receiver.grpc.dedup import DedupWindow
from receiver.http.auth import TokenAuth
from receiver.http.errors import NOSNIFF, error_response
from receiver.pool.ingest import Ingestor, now_ns
from receiver.pool.jobs import KIND_BODY, Job

__all__ = [
    "BATCH_ID_HEADER", "DUPLICATE_HEADER", "ENCODINGS", "MAX_BATCH_ID_BYTES", "PLOFFLOAD_CATEGORIES",
    "PRECISIONS", "ServiceStatus", "build_app",
]

log = logging.getLogger("receiver.http")

PLOFFLOAD_CATEGORIES = frozenset(CATEGORIES - {"rum"})
ENCODINGS = frozenset({"gzip", "deflate", "br", "zstd"})
PRECISIONS = frozenset({"n", "u", "ms", "s", "m", "h"})
_ECHO = {"lp": "lp", "json": "json", "pbjson": "pbjson"}
_STRICT_PLOFFLOAD = {"json": "invalidJsonPoint", "protobuf": "invalidProtobufPoint", "lp": "invalidLinePoint"}
BATCH_ID_HEADER = "X-Offload-Batch-Id"
DUPLICATE_HEADER = "X-Offload-Duplicate"
MAX_BATCH_ID_BYTES = 128
_DUPLICATE_HEADERS = {**NOSNIFF, DUPLICATE_HEADER: "1"}


@dataclass
class ServiceStatus:
    """What /v1/ping reports; the daemon flips `ready`."""

    version: str
    started: float = field(default_factory=time.monotonic)
    ready: bool = False
    host: str = field(default_factory=socket.gethostname)

    def uptime(self) -> float:
        return time.monotonic() - self.started


def build_app(ingestor: Ingestor, auth: TokenAuth, status: ServiceStatus, max_body_bytes: int,
              extra_routes: list[BaseRoute] | None = None, dedup: DedupWindow | None = None) -> Starlette:
    """The Starlette app serving the write API with `ingestor`.

    `dedup`: the window shared with the gRPC servicer; None builds a private one of the default size.
    """
    handler = _WriteHandler(ingestor, auth, max_body_bytes, dedup if dedup is not None else DedupWindow())

    async def write(request: Request) -> Response:
        return await handler.handle(request, ploffload=False)

    async def write_ploffload(request: Request) -> Response:
        return await handler.handle(request, ploffload=True)

    async def ping(request: Request) -> Response:
        uptime = round(status.uptime(), 3)
        body = {"version": status.version, "uptime": uptime, "ready": status.ready,
                "content": {"version": status.version, "uptime": f"{uptime}s", "host": status.host}}
        return Response(orjson.dumps(body), status_code=200 if status.ready else 503,
                        media_type="application/json")

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/v1/write/ploffload/{category}", write_ploffload, methods=["POST"]),
        Route("/v1/write/{category}", write, methods=["POST"]),
        Route("/v1/ping", ping, methods=["GET", "HEAD"]),
        Route("/metrics", prometheus, methods=["GET"]),
        *(extra_routes or []),
    ]
    return Starlette(routes=routes)


class _WriteHandler:
    def __init__(self, ingestor: Ingestor, auth: TokenAuth, max_body_bytes: int, dedup: DedupWindow) -> None:
        self.ingestor = ingestor
        self.auth = auth
        self.max_body = max_body_bytes
        self.dedup = dedup

    async def handle(self, request: Request, ploffload: bool) -> Response:
        started = time.perf_counter()
        raw_category = request.path_params["category"]
        category = raw_category.lower() if ploffload else raw_category
        transport = "http-ploffload" if ploffload else "http"
        try:
            response = await self._handle(request, category, ploffload)
            code = "ok"
        except IngestError as exc:
            code = exc.code
            response = error_response(exc.code, exc.message)
        except ShuttingDown as exc:
            code = "shuttingDown"
            response = error_response(code, str(exc))
        except BatchFailed as exc:
            code = "batchFailed"
            response = error_response(code, str(exc))
        except ClientDisconnect:
            code = "clientDisconnected"
            response = error_response("badRequest", "the client went away", status=400)
        except Exception:
            log.exception("internal error on %s", request.url.path)
            code = "invalidAPIHandler"
            response = error_response(code, "internal error")
        valid = PLOFFLOAD_CATEGORIES if ploffload else CATEGORIES
        metrics.REQUESTS.labels(transport, category if category in valid else "-", code).inc()
        if code == "ok":
            metrics.BATCH_SECONDS.labels(transport).observe(time.perf_counter() - started)
        return response

    async def _handle(self, request: Request, category: str, ploffload: bool) -> Response:
        valid = PLOFFLOAD_CATEGORIES if ploffload else CATEGORIES
        if category not in valid:
            raise IngestError(f'invalid URL "{request.url.path}"', code="invalidCategory")
        query = request.query_params
        headers = request.headers
        self.auth.check(self.auth.http_token(headers, query))
        token = query.get("token") or None
        if token is not None and (problem := check_token(token)):
            raise IngestError(problem, code="invalidToken")

        encoding = ""
        if not ploffload:
            encoding = query.get("encoding") or headers.get("content-encoding") or ""
            if encoding and encoding not in ENCODINGS:
                raise IngestError(f"unsupported encoding {encoding!r}", code="decodeBodyFailed")
        declared = _content_length(headers)
        if declared is not None and declared > self.max_body:
            raise PayloadTooLarge(f"body of {declared} bytes is larger than {self.max_body}")

        # A dry run writes nothing, so it must neither be answered from nor recorded in the window.
        batch_id = None if query.get("dry") else _batch_id(headers)
        if batch_id is None:
            response, _ = await self._ingest(request, category, ploffload, query, token, encoding, declared)
            return response
        # Claimed before admission, as on gRPC: a waiting resend holds no in-flight slot.
        if await self.dedup.claim(batch_id) is not None:
            metrics.DUPLICATES.inc()
            return Response(b"", status_code=200, headers=_DUPLICATE_HEADERS)
        accepted = None
        try:
            response, accepted = await self._ingest(request, category, ploffload, query, token, encoding,
                                                    declared)
        finally:
            # Any failure (refusal, bad body, disconnect, cancellation) releases the claim unrecorded.
            self.dedup.done(batch_id, accepted)
        return response

    async def _ingest(self, request: Request, category: str, ploffload: bool, query,
                      token: str | None, encoding: str, declared: int | None) -> tuple[Response, int]:
        """Admission, body, one job; the answer and the points received, once durable."""
        headers = request.headers
        with self.ingestor.admit(declared or 0) as ticket:
            body = await self._read_body(request, ticket, declared)
            if not body:
                raise IngestError("the request body is empty", code="emptyBody")
            job = self._job(category, ploffload, query, headers.get("content-type", ""), encoding, body)
            extra = {}
            if category == "logging" and (index := query.get("storage_index")):
                extra["X-Storage-Index-Name"] = index
            outcome = await self.ingestor.process(job, token=token, headers=extra or None)
        return Response(outcome.echo or b"", status_code=200, headers=NOSNIFF), outcome.received

    async def _read_body(self, request: Request, ticket, declared: int | None) -> bytes:
        chunks: list[bytes] = []
        total = 0
        async for chunk in request.stream():
            if not chunk:
                continue
            total += len(chunk)
            if total > self.max_body:
                raise PayloadTooLarge(f"body is larger than {self.max_body} bytes")
            if declared is None or total > declared:
                ticket.grow(len(chunk))
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _job(self, category: str, ploffload: bool, query, content_type: str, encoding: str, body: bytes) -> Job:
        precision_param = query.get("precision")
        if precision_param:
            precision: str | None = precision_param if precision_param in PRECISIONS else "n"
        else:
            precision = "n" if ploffload else None  # absent: dynamic detection on /v1/write (d.4)
        strict = ""
        if query.get("strict"):
            if ploffload:
                from receiver.pool.batch import content_format

                strict = _STRICT_PLOFFLOAD[content_format(content_type)]
            else:
                strict = "pointGotWarning"
        echo = _ECHO.get(query.get("echo", ""), "")
        if not echo and query.get("echo_line_proto"):
            echo = "lp"
        elif not echo and query.get("echo_json"):
            echo = "json"
        return Job(
            kind=KIND_BODY, category=category, payload=body, script=query.get("source", ""),
            content_type=content_type, encoding=encoding, precision=precision, now_ns=now_ns(),
            strict=strict, echo=echo, dry=bool(query.get("dry")), max_decoded=self.max_body,
        )


def _batch_id(headers) -> bytes | None:
    """The request's batch id, or None when absent, empty or too long.

    Our agent sends the gRPC `batch_id` bytes hex-encoded; an even-length hex value is
    decoded so a batch resent over the other transport is still recognised. Any other
    value is an opaque id (its raw header bytes).
    """
    value = headers.get(BATCH_ID_HEADER)
    if not value:
        return None
    raw = value.encode("latin-1")  # Starlette decoded the header bytes as latin-1: this is lossless
    if len(raw) > MAX_BATCH_ID_BYTES:
        return None
    try:
        return bytes.fromhex(value) if len(value) % 2 == 0 else raw
    except ValueError:
        return raw


def _content_length(headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return max(int(value), 0)
    except ValueError:
        return None

