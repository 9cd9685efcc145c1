"""The offload sender: `[pipeline.offload]` config, loop detection, balancer, transports, sender."""

from offload.sender.balancer import Endpoint, NoReceiverError, RoundRobinBalancer
from offload.sender.batch import BATCH_ID_HEADER, HOP_HEADER, Batch, new_batch_id
from offload.sender.config import (
    RECEIVER_KINDS,
    Address,
    OffloadConfig,
    SenderConfig,
    apply_datakit_env,
    parse_offload,
    parse_sender,
)
from offload.sender.loop import check_no_loop, host_is_local
from offload.sender.metrics import SenderMetrics
from offload.sender.queue import BatchQueue, QueueClosed
from offload.sender.sender import Sender
from offload.sender.spill import SpillStore
from offload.sender.transport import Ack, BusyError, Transport, make_transport

__all__ = [
    "Ack",
    "Address",
    "BATCH_ID_HEADER",
    "Batch",
    "BatchQueue",
    "BusyError",
    "Endpoint",
    "HOP_HEADER",
    "NoReceiverError",
    "OffloadConfig",
    "QueueClosed",
    "RECEIVER_KINDS",
    "RoundRobinBalancer",
    "Sender",
    "SenderConfig",
    "SenderMetrics",
    "SpillStore",
    "Transport",
    "apply_datakit_env",
    "check_no_loop",
    "host_is_local",
    "make_transport",
    "new_batch_id",
    "parse_offload",
    "parse_sender",
]
