"""The exception tree of the receiver daemon (ingest, worker pool, lifecycle).

    ReceiverError
    ├── IngestError            a request or batch the receiver refuses; .code names it
    │   ├── BadRequest         the payload cannot be taken (bad category, undecodable, empty...)
    │   ├── PayloadTooLarge    the body (raw or decompressed) passes the configured limit
    │   ├── AuthError          missing (.missing=True) or unknown token
    │   └── Overloaded         a bounded queue is full: answer 429 / RESOURCE_EXHAUSTED
    ├── ShuttingDown           the daemon no longer takes new batches (503 / UNAVAILABLE)
    └── PoolError              the worker pool could not process a batch
        └── BatchFailed        a batch kept killing its workers or passed its time limit

Configuration errors are `offload.errors.ConfigError` (they name the key), shared
with the agent. Decode errors raised by the codecs (`offload.errors.DecodeError`)
never leave a worker process: the worker turns them into a `BadRequest` code.

`code` is the lower-camel DataKit error name without the `datakit.` prefix
(wire.md §d.7); the HTTP layer adds the prefix and picks the status, the gRPC
layer maps the class to a status code.
"""

from __future__ import annotations

__all__ = [
    "AuthError", "BadRequest", "BatchFailed", "IngestError", "Overloaded", "PayloadTooLarge",
    "PoolError", "ReceiverError", "ShuttingDown",
]


class ReceiverError(Exception):
    """Root of every error raised by the receiver daemon."""


class IngestError(ReceiverError):
    """A request or batch the receiver refuses; `code` is the DataKit error name."""

    code = "invalidAPIHandler"

    def __init__(self, message: str = "", code: str | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message
        super().__init__(f"{self.code}: {message}" if message else self.code)


class BadRequest(IngestError):
    """The payload cannot be taken: bad category, empty or undecodable body, no points, strict warnings."""

    code = "badRequest"


class PayloadTooLarge(IngestError):
    """The request body, raw or decompressed, is larger than the configured limit."""

    code = "bodyTooLarge"


class AuthError(IngestError):
    """No token (`missing`) or a token that is not in `[auth] tokens`."""

    def __init__(self, missing: bool) -> None:
        self.missing = missing
        if missing:
            super().__init__("a token is required", code="missingToken")
        else:
            super().__init__("the token is not accepted", code="tokenNotAccepted")


class Overloaded(IngestError):
    """A bounded queue (in-flight batches, worker queue, WAL) is full; the client should retry later."""

    code = "reachMaxAPILimit"


class ShuttingDown(ReceiverError):
    """The daemon is draining and takes no new batches."""


class PoolError(ReceiverError):
    """The worker pool could not process a batch."""


class BatchFailed(PoolError):
    """A batch crashed or timed out its worker on every attempt."""
