"""Errors of the aggregate endpoint, as leaves of the receiver's tree (receiver/errors.py).

    ReceiverError
    └── IngestError
        └── BadRequest
            └── InvalidBatch          a Batchs body we refuse (400); .code names it
                ├── UnknownMethod     an algorithm method we do not implement
                └── InvalidPickKey    proxy mode: Guance-Pick-Key missing or not an unsigned decimal

The HTTP layer answers `{"error_code": "aggregate.<code>", "message": ...}` (the
shape of wire.md §d.7). Configuration errors are `offload.errors.ConfigError`.
"""

from __future__ import annotations

from receiver.errors import BadRequest

__all__ = ["InvalidBatch", "UnknownMethod", "InvalidPickKey"]


class InvalidBatch(BadRequest):
    """The body is not a usable `Batchs`: undecodable, bad encoding, bad algorithm options."""

    code = "invalidBatch"


class UnknownMethod(InvalidBatch):
    """An `AggregationAlgo.method` that is empty, unknown, or not implemented (expo_histogram)."""

    code = "unknownMethod"


class InvalidPickKey(InvalidBatch):
    """Proxy mode needs `Guance-Pick-Key` as an unsigned 64-bit decimal."""

    code = "invalidPickKey"
