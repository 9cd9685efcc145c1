"""The exception tree of the `offload` package (wire layer, sender, agent).

    OffloadError
    ├── DecodeError              bad bytes/text on the wire; names the line or offset
    │   ├── LineProtocolError    line protocol (has .line, 1-based, and .column)
    │   ├── ProtobufDecodeError  protobuf PBPoints (has .offset)
    │   └── JSONPointError       JSON points (has .index of the array element)
    ├── EncodeError              a point that cannot be represented in a format
    ├── ConfigError              invalid configuration; .key names the offending key
    │   └── LoopError            an offload address that points back at ourselves
    └── TransportError           talking to a peer failed
        ├── RetryableError       transport failures, 5xx, RESOURCE_EXHAUSTED: try again
        └── PermanentError       4xx, INVALID_ARGUMENT: retrying cannot help

tenacity retries exactly `RetryableError`.
"""

from __future__ import annotations


class OffloadError(Exception):
    """Root of every error raised by the offload package."""


class DecodeError(OffloadError, ValueError):
    """Input bytes or text could not be decoded into points."""


class LineProtocolError(DecodeError):
    """A line-protocol payload is malformed; `line` (1-based) and `column` say where."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        self.reason = message
        self.line = line
        self.column = column
        where = f"line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{where}: {message}" if line else message)


class ProtobufDecodeError(DecodeError):
    """A protobuf payload is malformed; `offset` is the byte offset of the problem."""

    def __init__(self, message: str, offset: int = -1) -> None:
        self.reason = message
        self.offset = offset
        super().__init__(f"offset {offset}: {message}" if offset >= 0 else message)


class JSONPointError(DecodeError):
    """A JSON points payload is malformed; `index` is the array element (or -1)."""

    def __init__(self, message: str, index: int = -1) -> None:
        self.reason = message
        self.index = index
        super().__init__(f"point {index}: {message}" if index >= 0 else message)


class EncodeError(OffloadError, ValueError):
    """A point cannot be represented in the requested format."""


class ConfigError(OffloadError):
    """Invalid configuration; `key` names the offending key (dotted path)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.reason = message
        super().__init__(f"{key}: {message}")


class LoopError(ConfigError):
    """An offload address points back at the agent's own listener."""


class TransportError(OffloadError):
    """Talking to a peer (receiver, Dataway) failed."""


class RetryableError(TransportError):
    """A failure worth retrying: connection errors, timeouts, 5xx, back-pressure."""


class PermanentError(TransportError):
    """A failure that retrying cannot fix: 4xx, invalid payload."""
