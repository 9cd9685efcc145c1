"""gRPC ingest: the PipelineOffload servicer, batch_id dedup, the server with health and reflection."""

from receiver.grpc.dedup import DedupWindow
from receiver.grpc.server import GRPCServer
from receiver.grpc.servicer import SERVICE_NAME, OffloadServicer

__all__ = ["SERVICE_NAME", "DedupWindow", "GRPCServer", "OffloadServicer"]
