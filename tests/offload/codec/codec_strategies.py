"""Hypothesis strategies for points, and what "lossless" means for each format.

Line protocol is lossless for (see offload/codec/lineproto.py):
  measurement  non-empty, no newline, no trailing backslash, not starting with # / tab / NUL,
               no `\\,` or `\\ ` inside (the writer un-escapes those first, wire.md b.1)
  tag keys and values, field keys
               non-empty, no newline, no trailing backslash (empty tag values are omitted);
               a field key does not start with a tab or NUL (the reader skips those blanks)
  values       int64, UInt (uint64), finite floats, bools, any string, non-empty bytes,
               non-empty homogeneous arrays of those; no None and no maps
  time         any non-zero int64 (0 is written without a timestamp and reads back as "now")
Protobuf is lossless for everything the point model holds except an empty array (which
is "no value" on the wire, wire.md a.4): any names and keys, None, maps, mixed arrays,
NaN, time 0, warnings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from offload.point import Point, UInt


def examples(n: int) -> settings:
    """Hypothesis settings with n examples; CODEC_EXAMPLES=N overrides n for a deep fuzzing run."""
    return settings(max_examples=int(os.environ.get("CODEC_EXAMPLES", n)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


I64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
U64 = st.integers(min_value=0, max_value=(1 << 64) - 1).map(UInt)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
# Characters that stress escaping: the separators, quotes, backslashes, '#', and non-ASCII.
_SPECIAL = st.sampled_from([" ", ",", "=", '"', "\\", "#", "'", "é", "中", "🙂", "\t", "[", "]"])
_CHARS = st.one_of(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), _SPECIAL)
ANY_TEXT = st.text(_CHARS, max_size=12)


def _lp_key_ok(s: str) -> bool:
    return bool(s) and "\n" not in s and not s.endswith("\\")


LP_KEY = st.text(_CHARS, min_size=1, max_size=12).filter(_lp_key_ok)
# The reader skips blanks after the space before the fields (upstream skipWhitespace).
LP_FIELD_KEY = LP_KEY.filter(lambda s: s[0] not in "\t\0")
LP_MEASUREMENT = LP_KEY.filter(lambda s: s[0] not in "#\t\0" and "\\," not in s and "\\ " not in s)
LP_STRING = st.text(st.one_of(_CHARS, st.just("\n"), st.just("\\")), max_size=24)
LP_BYTES = st.binary(min_size=1, max_size=12)
LP_SCALAR = st.one_of(I64, U64, FINITE, st.booleans(), LP_STRING, LP_BYTES)
LP_ARRAY = st.one_of(
    st.lists(I64, min_size=1, max_size=4),
    st.lists(U64, min_size=1, max_size=4),
    st.lists(FINITE, min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=1, max_size=4),
    st.lists(LP_STRING, min_size=1, max_size=4),
    st.lists(LP_BYTES, min_size=1, max_size=4),
)
NONZERO_I64 = I64.filter(bool)


@st.composite
def lp_points(draw) -> Point:
    """A point that line protocol carries without loss."""
    tags = draw(st.dictionaries(LP_KEY, LP_KEY, max_size=4))
    fields = draw(st.dictionaries(LP_FIELD_KEY, st.one_of(LP_SCALAR, LP_ARRAY), min_size=1, max_size=5))
    return Point(draw(LP_MEASUREMENT), tags, fields, draw(NONZERO_I64))


PB_BASIC = st.one_of(I64, U64, st.floats(allow_nan=False), st.booleans(), ANY_TEXT, st.binary(max_size=8), st.none())
PB_VALUE = st.one_of(
    I64, U64, st.floats(), st.booleans(), st.text(max_size=24), st.binary(max_size=12), st.none(),
    st.lists(PB_BASIC, min_size=1, max_size=4),
    st.dictionaries(ANY_TEXT, PB_BASIC, max_size=3),
)
WARNS = st.one_of(st.none(), st.lists(st.tuples(ANY_TEXT, ANY_TEXT), min_size=1, max_size=2))


@st.composite
def pb_points(draw) -> Point:
    """A point that protobuf carries without loss."""
    tags = draw(st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=4))
    fields = draw(st.dictionaries(ANY_TEXT, PB_VALUE, max_size=5))
    return Point(draw(ANY_TEXT), tags, fields, draw(I64), draw(WARNS))


def same(a: list[Point], b: list[Point]) -> bool:
    """Point lists equal, warnings included (Point.__eq__ leaves them out)."""
    return a == b and [p.warns or None for p in a] == [p.warns or None for p in b]
