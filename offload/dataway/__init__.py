"""The Dataway writer client: points -> bodies -> fsynced WAL -> every configured Dataway (or a file).

Used by the receiver daemon (pipeline results, aggregated metrics) and by the host
agent (locally processed logs). See writer.py for the data flow, wal.py for the
on-disk queue and its delivery guarantees, wire.md e for the DataKit behaviour.
"""

from offload.dataway.body import Body, BuildResult, build_bodies
from offload.dataway.config import DEFAULT_URL, DatawayConfig, apply_datakit_env
from offload.dataway.endpoint import check_token
from offload.dataway.errors import InvalidWrite, Rejected, ServerError, WalError, WriterClosed, WriterFull
from offload.dataway.writer import DatawayWriter

__all__ = [
    "Body",
    "BuildResult",
    "DEFAULT_URL",
    "DatawayConfig",
    "DatawayWriter",
    "InvalidWrite",
    "Rejected",
    "ServerError",
    "WalError",
    "WriterClosed",
    "WriterFull",
    "apply_datakit_env",
    "build_bodies",
    "check_token",
]
