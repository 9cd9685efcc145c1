"""Errors the Dataway writer raises, as leaves of the `offload.errors` tree.

    TransportError
    ├── RetryableError
    │   ├── WriterFull        the WAL has no room for this write (counted); try later
    │   ├── WalError          the WAL could not write or fsync (disk trouble); try later
    │   └── ServerError       Dataway answered 5xx (.status); the body is sent again
    └── PermanentError
        ├── InvalidWrite      unknown category or malformed token: the write can never succeed
        ├── WriterClosed      write() after close()
        └── Rejected          Dataway answered 4xx (or another non-2xx, non-5xx): .status; dropped

`RetryableError` here means "the caller may try the same write again later"; the
writer itself retries every 5xx/transport failure of a body already in the WAL.
"""

from __future__ import annotations

from offload.errors import PermanentError, RetryableError

__all__ = ["WriterFull", "WalError", "ServerError", "InvalidWrite", "WriterClosed", "Rejected"]


class WriterFull(RetryableError):
    """The WAL is full (wal_max_bytes): the write was refused and counted as dropped."""


class WalError(RetryableError):
    """Appending to or fsyncing the WAL failed; the write is not durable."""


class InvalidWrite(PermanentError, ValueError):
    """A write that can never be delivered: unknown category or a token DataKit would reject."""


class WriterClosed(PermanentError):
    """The writer was closed; create a new one to write again."""


class ServerError(RetryableError):
    """Dataway answered 5xx; `status` and the start of the answer `detail` say what."""

    def __init__(self, status: int, detail: str = "") -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status}: {detail}" if detail else f"HTTP {status}")


class Rejected(PermanentError):
    """Dataway refused the body (4xx, or an unexpected 1xx/3xx); retrying the same body cannot help."""

    def __init__(self, status: int, detail: str = "") -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status}: {detail}" if detail else f"HTTP {status}")
