"""`GRPCServer`: the grpc.aio server with the offload service, standard health and reflection.

Health reports SERVING for "" and the offload service once started and flips to
NOT_SERVING at the start of shutdown (before the listener stops), so balancers
and the agent's health checks move away first. SO_REUSEPORT is off: a second
receiver on the same port must fail to start, not share it silently.
"""

from __future__ import annotations

from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from receiver.config import GRPCSettings, split_listen
from receiver.grpc.servicer import SERVICE_NAME, OffloadServicer

__all__ = ["GRPCServer"]


class GRPCServer:
    """One grpc.aio server on `settings.listen` (TLS when cert and key are set)."""

    def __init__(self, servicer: OffloadServicer, settings: GRPCSettings, max_concurrent_rpcs: int) -> None:
        self.settings = settings
        self.servicer = servicer
        self.max_concurrent_rpcs = max_concurrent_rpcs
        self.server: grpc.aio.Server | None = None
        self.health = health.aio.HealthServicer()
        self.port = 0

    async def start(self) -> None:
        limit = self.settings.max_message_bytes
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", 16 << 20),
                ("grpc.so_reuseport", 0),
            ],
            maximum_concurrent_rpcs=self.max_concurrent_rpcs,
        )
        server.add_generic_rpc_handlers((self.servicer.generic_handler(),))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME),
            server,
        )
        host, port = split_listen(self.settings.listen, "grpc.listen")
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            if self.settings.tls:
                creds = grpc.ssl_server_credentials(
                    [(Path(self.settings.tls_key).read_bytes(), Path(self.settings.tls_cert).read_bytes())])
                self.port = server.add_secure_port(address, creds)
            else:
                self.port = server.add_insecure_port(address)
        except RuntimeError as exc:
            raise OSError(f"gRPC cannot listen on {address}: {exc}") from None
        if not self.port:
            raise OSError(f"gRPC cannot listen on {address}")
        await server.start()
        self.server = server
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def not_serving(self) -> None:
        """Health NOT_SERVING for every service (the first step of shutdown)."""
        await self.health.enter_graceful_shutdown()

    async def stop(self, grace: float) -> None:
        """Refuse new calls, let running ones finish within `grace` seconds."""
        if self.server is not None:
            await self.server.stop(grace)
