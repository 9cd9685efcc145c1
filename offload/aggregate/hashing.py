"""The hashes both ends of Dataway's aggregate API must agree on (spec/aggregate.md §3, §5).

* `routing_key(point, group_by)`: one series + metric field; the agent puts it on every
  `AggregationBatch`, the receiver keys calculators with it.
* `pick_key(name, group_by)`: measurement + group_by key names only; the agent picks the
  endpoint with `pick_key % len(endpoints)` and sends it as `Guance-Pick-Key`.
* `calc_key(routing_key, method, output, measurement)`: a calculator's identity.
* `distinct_hash(value)`: FNV-1a-64 of Go's `"<type>:<%v>"` text, for count_distinct.

All arithmetic is unsigned 64-bit with wrap-around; `xxh64` is XXH64 with seed 0 of the
UTF-8 bytes. The test vectors in the spec were produced by Go with the real xxhash
library; tests/offload/aggregate/test_hashing.py checks every one of them.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import xxhash

from offload.point import Point, UInt

__all__ = [
    "SEED1", "xxh64", "combine", "routing_key", "pick_key", "calc_key", "hash_token",
    "fnv1a64", "go_format_float", "go_value_text", "distinct_hash",
]

MASK = (1 << 64) - 1
SEED1 = 0x9E3779B97F4A7C15
GOLDEN = 0x9E3779B9
MULTIPLIER = 0x517CC1B727220A95

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3

_xxh64 = xxhash.xxh64_intdigest


def xxh64(text: str | bytes) -> int:
    """XXH64 (seed 0) of the UTF-8 bytes of `text`."""
    return _xxh64(text.encode() if isinstance(text, str) else text)


def combine(seed: int, h: int) -> int:
    """`((seed + 0x9E3779B9) XOR h) * 0x517CC1B727220A95 mod 2^64`."""
    return (((seed + GOLDEN) & MASK) ^ h) * MULTIPLIER & MASK


def routing_key(point: Point, group_by: Iterable[str]) -> int:
    """The routing key of a forked point: name, string-valued group_by keys, first field's key.

    `group_by` is sorted here (the spec sorts it at setup). A group_by key counts when the
    point has it as a tag or as a string field; absent or non-string keys are skipped.
    """
    h = combine(SEED1, xxh64(point.name))
    for key in sorted(group_by):
        value = point.tags.get(key)
        if value is None:
            value = point.fields.get(key)
        if isinstance(value, str):
            h = combine(h, xxh64(key))
            h = combine(h, xxh64(value))
    for key in point.fields:  # the first non-tag key in storage order: the forked metric field
        h = combine(h, xxh64(key))
        break
    return h


def pick_key(name: str | Point, group_by: Iterable[str]) -> int:
    """The pick key: measurement name, then every group_by key name in sorted order."""
    if isinstance(name, Point):
        name = name.name
    h = combine(SEED1, xxh64(name))
    for key in sorted(group_by):
        h = combine(h, xxh64(key))
    return h


def calc_key(routing: int, method: str, output: str, measurement: str) -> int:
    """A calculator's identity: routing key, canonical method, output name, measurement."""
    return combine(combine(combine(routing, xxh64(method)), xxh64(output)), xxh64(measurement))


def hash_token(token: str, h: int) -> int:
    """`combine(h, xxh64(token))`: upstream uses it for tail sampling only."""
    return combine(h, xxh64(token))


def fnv1a64(data: bytes) -> int:
    """FNV-1a, 64 bits."""
    h = FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & MASK
    return h


def _shortest_digits(v: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of v > 0 and the decimal point position (0.d1d2.. x 10^dp)."""
    text = repr(v)
    if "e" in text:
        mantissa, _, exp = text.partition("e")
        digits = mantissa.replace(".", "")
        dp = int(exp) + 1
    else:
        whole, _, frac = text.partition(".")
        digits = whole + frac
        dp = len(whole)
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    return stripped.rstrip("0") or "0", dp


def go_format_float(v: float) -> str:
    """Go's `%v` of a float64: shortest digits, %e form when the exponent is < -4 or >= 6."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, v) < 0 else ""
    if v == 0:
        return sign + "0"
    digits, dp = _shortest_digits(abs(v))
    exp = dp - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def _go_elem(v: Any) -> tuple[str, str]:
    if isinstance(v, bool):
        return "bool", "true" if v else "false"
    if isinstance(v, UInt):
        return "uint64", str(int(v))
    if isinstance(v, int):
        return "int64", str(v)
    if isinstance(v, float):
        return "float64", go_format_float(v)
    if isinstance(v, str):
        return "string", v
    if isinstance(v, (bytes, bytearray)):
        return "[]uint8", "[" + " ".join(str(b) for b in v) + "]"
    if v is None:
        return "<nil>", "<nil>"
    return type(v).__name__, str(v)


def go_value_text(v: Any) -> str:
    """`fmt.Sprintf("%T:%v", v)` for the value kinds a point field can hold."""
    if isinstance(v, list):
        elem_type = _go_elem(v[0])[0] if v else "interface {}"
        return f"[]{elem_type}:[" + " ".join(_go_elem(e)[1] for e in v) + "]"
    go_type, text = _go_elem(v)
    return f"{go_type}:{text}"


def distinct_hash(v: Any) -> int:
    """The count_distinct hash of one value: FNV-1a-64 of its Go `%T:%v` text."""
    return fnv1a64(go_value_text(v).encode())
