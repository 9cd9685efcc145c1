"""One queued request (`Record`) and its framing in a WAL segment file.

Frame layout, little-endian:

    magic "DWR1" | payload length u32 | crc32(payload) u32 | payload
    payload = meta length u32 | meta (JSON) | body bytes

The meta holds the request URL (token already in it), category, token, headers,
points count, raw length and build time (Unix seconds). The magic plus CRC make a
torn tail (a crash mid-append) or zero-filled blocks (power loss after the size
was extended) detectable: the reader stops at the first frame that does not check.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

import orjson

__all__ = ["Record", "pack", "unpack", "read_frame", "FRAME_HEADER", "Corrupt"]

MAGIC = b"DWR1"
FRAME_HEADER = struct.Struct("<4sII")
_META_LEN = struct.Struct("<I")


@dataclass(slots=True)
class Record:
    """A body waiting for one endpoint, with everything needed to send it again after a restart."""

    url: str
    category: str
    token: str | None
    headers: dict[str, str]
    points: int
    raw_len: int
    build_time: float
    body: bytes

    @property
    def size(self) -> int:
        """Bytes this record occupies in memory queues (the body dominates)."""
        return len(self.body) + 256


class Corrupt(Exception):
    """A frame that does not check (torn tail, zero fill, bit rot); `reason` says how."""


def pack(rec: Record) -> bytes:
    """The framed bytes of `rec`, ready to append to a segment."""
    meta = orjson.dumps(
        {
            "url": rec.url,
            "category": rec.category,
            "token": rec.token,
            "headers": rec.headers,
            "points": rec.points,
            "raw_len": rec.raw_len,
            "build_time": rec.build_time,
        }
    )
    payload = b"".join((_META_LEN.pack(len(meta)), meta, rec.body))
    return FRAME_HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def unpack(payload: bytes) -> Record:
    """The record inside a checked payload."""
    (meta_len,) = _META_LEN.unpack_from(payload)
    meta = orjson.loads(payload[4 : 4 + meta_len])
    return Record(
        url=meta["url"],
        category=meta["category"],
        token=meta["token"],
        headers=meta["headers"],
        points=meta["points"],
        raw_len=meta["raw_len"],
        build_time=meta["build_time"],
        body=payload[4 + meta_len :],
    )


def read_frame(fd: int, offset: int, end: int) -> tuple[Record, int]:
    """Read the frame at `offset` (not beyond `end`); returns the record and the next offset.

    Raises Corrupt when the bytes there are not a whole, checked frame.
    """
    if end - offset < FRAME_HEADER.size:
        raise Corrupt(f"{end - offset} stray bytes at the end")
    header = os.pread(fd, FRAME_HEADER.size, offset)
    if len(header) < FRAME_HEADER.size:
        raise Corrupt("short header")
    magic, length, crc = FRAME_HEADER.unpack(header)
    if magic != MAGIC:
        raise Corrupt(f"bad magic {magic!r}")
    start = offset + FRAME_HEADER.size
    if length < _META_LEN.size or start + length > end:
        raise Corrupt(f"frame length {length} runs past the end")
    payload = os.pread(fd, length, start)
    if len(payload) != length or zlib.crc32(payload) != crc:
        raise Corrupt("checksum mismatch")
    try:
        rec = unpack(payload)
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise Corrupt(f"unreadable meta: {exc}") from exc
    return rec, start + length
