"""The point model shared by every part: a measurement name, tags, fields and a time in ns.

A `Point` is deliberately plain (slots, dicts) because millions of them are built
per second on the hot paths. Field values are Python values:

    int -> int64 ("i")     UInt -> uint64 ("u")     float -> double      bool -> bool
    str -> string          bytes -> binary ("d")    list -> typed array  dict -> map
    None -> a field with no value (DataKit's "nil field")

`UInt` is an `int` subclass so that unsigned values survive a round trip through
line protocol (`7u`) and protobuf (`Field.u`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["CATEGORIES", "Point", "UInt", "FieldValue"]

# DataKit category names accepted by /v1/write/<category> (wire.md §d.1).
CATEGORIES = frozenset(
    {"metric", "network", "keyevent", "object", "custom_object", "logging", "tracing", "rum", "security"}
)


class UInt(int):
    """An unsigned 64-bit integer field value (line protocol `42u`, protobuf `Field.u`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"UInt({int(self)})"


FieldValue = Any  # int | UInt | float | bool | str | bytes | list | dict | None


class Point:
    """One DataKit point. `time` is Unix nanoseconds; 0 means "not set"."""

    __slots__ = ("name", "tags", "fields", "time", "warns")

    def __init__(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        fields: dict[str, FieldValue] | None = None,
        time: int = 0,
        warns: list[tuple[str, str]] | None = None,
    ) -> None:
        self.name = name
        self.tags = tags if tags is not None else {}
        self.fields = fields if fields is not None else {}
        self.time = time
        self.warns = warns

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Point):
            return NotImplemented
        return (
            self.name == other.name
            and self.tags == other.tags
            and self.time == other.time
            and _typed(self.fields) == _typed(other.fields)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Point({self.name!r}, tags={self.tags!r}, fields={self.fields!r}, time={self.time})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly view: name, tags, fields, time (bytes as str is not attempted)."""
        return {"name": self.name, "tags": dict(self.tags), "fields": dict(self.fields), "time": self.time}


def _typed(fields: dict[str, FieldValue]) -> dict[str, tuple[type, Any]]:
    # Equality must tell 1 (int) from 1.0 (float), True and UInt(1) apart.
    out = {}
    for k, v in fields.items():
        if isinstance(v, float) and v != v:
            out[k] = (float, "nan")
        elif isinstance(v, list):
            out[k] = (list, tuple((type(e), e) for e in v))
        else:
            out[k] = (type(v), v)
    return out
