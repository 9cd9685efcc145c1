"""The `offload.v1.PipelineOffload` servicer: one OffloadBatch in, one OffloadAck out, after durability.

The method is registered with a pass-through request deserializer: the accept
loop parses the message only for its header fields (batch_id, category, token;
upb builds no Python objects for the payload) and hands the original bytes to a
worker, which decodes the points itself. Status codes (offload.proto):

    UNAUTHENTICATED     [auth] tokens set and no listed token in metadata or batch.token
    INVALID_ARGUMENT    unparsable message, unknown category, malformed token, no payload,
                        undecodable points, no points
    RESOURCE_EXHAUSTED  in-flight bound reached or the WAL is full: retry later, maybe elsewhere
    UNAVAILABLE         shutting down
    INTERNAL            a batch that keeps killing workers

Resends: see dedup.py; a known batch_id is answered DUPLICATE without redoing work.
"""

from __future__ import annotations

import logging
import time

import grpc
from google.protobuf.message import DecodeError

from offload._proto.offload.v1 import offload_pb2
from offload.dataway.endpoint import check_token
from offload.point import CATEGORIES
from receiver import metrics
from receiver.errors import (
    AuthError,
    BatchFailed,
    IngestError,
    Overloaded,
    PayloadTooLarge,
    ShuttingDown,
)
from receiver.grpc.dedup import DedupWindow
from receiver.http.auth import TokenAuth, bearer
from receiver.pool.ingest import Ingestor, now_ns
from receiver.pool.jobs import KIND_OFFLOAD, Job

__all__ = ["SERVICE_NAME", "OffloadServicer"]

log = logging.getLogger("receiver.grpc")

SERVICE_NAME = "offload.v1.PipelineOffload"
_ACCEPTED = offload_pb2.OffloadAck.ACCEPTED
_DUPLICATE = offload_pb2.OffloadAck.DUPLICATE


class OffloadServicer:
    """Handles `Offload` calls through the shared Ingestor."""

    def __init__(self, ingestor: Ingestor, auth: TokenAuth, dedup: DedupWindow, max_decoded: int) -> None:
        self.ingestor = ingestor
        self.auth = auth
        self.dedup = dedup
        self.max_decoded = max_decoded

    def generic_handler(self) -> grpc.GenericRpcHandler:
        handler = grpc.unary_unary_rpc_method_handler(self.offload)  # bytes in, bytes out
        return grpc.method_handlers_generic_handler(SERVICE_NAME, {"Offload": handler})

    async def offload(self, raw: bytes, context: grpc.aio.ServicerContext) -> bytes:
        started = time.perf_counter()
        category = "-"
        code = "ok"
        try:
            batch = _parse(raw)
            category = batch.category or "logging"
            ack = await self._offload(raw, batch, category, context)
        except AuthError as exc:
            code = exc.code
            await _abort(context, grpc.StatusCode.UNAUTHENTICATED, exc.message)
        except Overloaded as exc:
            code = exc.code
            await _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, exc.message)
        except PayloadTooLarge as exc:
            code = exc.code
            await _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, exc.message)
        except IngestError as exc:
            code = exc.code
            await _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"datakit.{exc.code}: {exc.message}")
        except ShuttingDown as exc:
            code = "shuttingDown"
            await _abort(context, grpc.StatusCode.UNAVAILABLE, str(exc))
        except BatchFailed as exc:
            code = "batchFailed"
            await _abort(context, grpc.StatusCode.INTERNAL, str(exc))
        finally:
            metrics.REQUESTS.labels("grpc", category if category in CATEGORIES else "-", code).inc()
        metrics.BATCH_SECONDS.labels("grpc").observe(time.perf_counter() - started)
        return ack

    async def _offload(self, raw: bytes, batch, category: str, context) -> bytes:
        metadata = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        self.auth.check(bearer(metadata.get("authorization")) or metadata.get("token") or batch.token or None)
        if category not in CATEGORIES:
            raise IngestError(f"unknown category {category!r}", code="invalidCategory")
        token = batch.token or None
        if token is not None and (problem := check_token(token)):
            raise IngestError(problem, code="invalidToken")
        if batch.WhichOneof("payload") is None:
            raise IngestError("the batch has no payload", code="noPoints")
        batch_id = batch.batch_id
        if batch_id:
            known = await self.dedup.claim(batch_id)
            if known is not None:
                metrics.DUPLICATES.inc()
                return offload_pb2.OffloadAck(batch_id=batch_id, status=_DUPLICATE, points=known).SerializeToString()
        accepted = None
        try:
            with self.ingestor.admit(len(raw)):
                job = Job(kind=KIND_OFFLOAD, category=category, payload=raw, now_ns=now_ns(),
                          max_decoded=self.max_decoded)
                outcome = await self.ingestor.process(job, token=token)
                accepted = outcome.received
        finally:
            if batch_id:
                self.dedup.done(batch_id, accepted)
        return offload_pb2.OffloadAck(batch_id=batch_id, status=_ACCEPTED, points=accepted).SerializeToString()


def _parse(raw: bytes):
    try:
        return offload_pb2.OffloadBatch.FromString(raw)
    except DecodeError as exc:
        raise IngestError(f"not an OffloadBatch: {exc}", code="invalidProtobufPoint") from None


async def _abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, details: str) -> None:
    await context.abort(code, details)
