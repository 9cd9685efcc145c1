"""Transports to receivers: gRPC, HTTP ploffload, HTTP datakit-http (chosen per address)."""

from offload.sender.config import Address
from offload.sender.transport.base import Ack, BusyError, Transport

__all__ = ["Ack", "BusyError", "Transport", "make_transport"]


def make_transport(address: Address, timeout: float = 10.0, token: str = "", compression: str = "none",
                   tls_ca: str = "") -> Transport:
    """The transport DESIGN.md assigns to `address` (grpc:// -> gRPC, http(s):// -> per receiver kind)."""
    if address.transport == "grpc":
        from offload.sender.transport.grpc_transport import GrpcTransport

        return GrpcTransport(address, timeout=timeout, token=token, compression=compression, tls_ca=tls_ca)
    from offload.sender.transport.http_transport import HttpTransport

    return HttpTransport(address, timeout=timeout, token=token, compression=compression, tls_ca=tls_ca)
