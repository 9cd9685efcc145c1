"""gRPC transport: `offload.v1.PipelineOffload/Offload` over one reused channel per address.

The request body is the batch's cached serialized `OffloadBatch` (raw lines travel
as `RawLines`, the cheapest form for the host), sent through a bytes-in method
stub so a retry reuses the bytes. The token goes as metadata
`authorization: Bearer <token>`. Health is the standard gRPC health service.
grpc status codes are translated here, once (errors.py tree).
"""

from __future__ import annotations

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from offload._proto.offload.v1 import offload_pb2
from offload.errors import PermanentError, RetryableError
from offload.sender.batch import Batch
from offload.sender.config import Address
from offload.sender.transport.base import Ack, BusyError

__all__ = ["GrpcTransport", "translate_rpc_error"]

_METHOD = "/offload.v1.PipelineOffload/Offload"
_SERVICE = "offload.v1.PipelineOffload"
_RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED, grpc.StatusCode.DATA_LOSS,
}
_OPTIONS = [
    ("grpc.max_send_message_length", 256 << 20),
    ("grpc.max_receive_message_length", 16 << 20),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.enable_retries", 0),  # the sender retries, on another receiver when it can
    # A restarted receiver must be reachable again within the balancer's probe interval,
    # not after grpc's default reconnect backoff (1 s growing to 120 s).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


def translate_rpc_error(exc: grpc.aio.AioRpcError, where: str) -> Exception:
    code = exc.code()
    text = f"{where}: {code.name if code else 'UNKNOWN'}: {exc.details() or ''}".rstrip(": ")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return BusyError(text)
    if code in _RETRYABLE:
        return RetryableError(text)
    return PermanentError(text)


class GrpcTransport:
    """One channel per address, created on first use inside the running loop."""

    def __init__(self, address: Address, timeout: float = 10.0, token: str = "", compression: str = "none",
                 tls_ca: str = "") -> None:
        self.address = address
        self.tls_ca = tls_ca
        self.name = address.url
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        self._compression = grpc.Compression.Gzip if compression == "gzip" else grpc.Compression.NoCompression
        self._channel: grpc.aio.Channel | None = None
        self._call = None
        self._health = None

    def _ensure(self) -> None:
        if self._channel is not None:
            return
        if self.address.tls:
            roots = None
            if self.tls_ca:
                with open(self.tls_ca, "rb") as f:
                    roots = f.read()
            creds = grpc.ssl_channel_credentials(root_certificates=roots)
            channel = grpc.aio.secure_channel(self.address.hostport, creds, options=_OPTIONS)
        else:
            channel = grpc.aio.insecure_channel(self.address.hostport, options=_OPTIONS)
        self._channel = channel
        # request_serializer=None: the request already is the serialized OffloadBatch.
        self._call = channel.unary_unary(_METHOD, request_serializer=None,
                                         response_deserializer=offload_pb2.OffloadAck.FromString)
        self._health = health_pb2_grpc.HealthStub(channel)

    async def send(self, batch: Batch) -> Ack:
        self._ensure()
        try:
            ack = await self._call(batch.grpc_body(), timeout=self.timeout, metadata=self._metadata,
                                   compression=self._compression)
        except grpc.aio.AioRpcError as exc:
            raise translate_rpc_error(exc, self.name) from exc
        except grpc.aio.UsageError as exc:  # channel closed under us (shutdown)
            raise RetryableError(f"{self.name}: {exc}") from exc
        if ack.batch_id and ack.batch_id != batch.batch_id:
            raise RetryableError(f"{self.name}: ack for batch {ack.batch_id.hex()} while sending {batch.batch_id.hex()}")
        return Ack(duplicate=ack.status == offload_pb2.OffloadAck.DUPLICATE, points=ack.points)

    async def probe(self) -> bool:
        self._ensure()
        for service in ("", _SERVICE):
            try:
                resp = await self._health.Check(health_pb2.HealthCheckRequest(service=service),
                                                timeout=min(self.timeout, 2.0))
                return resp.status == health_pb2.HealthCheckResponse.SERVING
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    continue  # the server registers only per-service status
                if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                    return True  # no health service, but the server answered
                return False
        return False

    async def aclose(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
