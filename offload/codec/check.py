"""DataKit's point precheck (cliutils checker) with the receiver's category options (wire.md b.6).

`check_points(points, category)` corrects every point in place and returns the list;
each correction appends a (type, message) pair to `point.warns`, with cliutils'
warning types:

    invalid_measurement            empty measurement (-> "__default") or too long (truncated)
    exceed_max_fields / _tags      more than 1024 fields / 256 tags: the extra ones removed
    exceed_max_tag_key_len         tag key over 256 bytes: truncated
    exceed_max_field_key_len       field key over 256 bytes: truncated
    exceed_max_tag_value_len       tag value over 1024 bytes: truncated
    exceed_max_field_value_len     string/bytes value over 32 MiB: truncated
    found_new_line_or_tail_espace  (sic) trailing backslashes removed, "\\n" -> " " in keys and tag values
    invalid_tag_key                a tag key that collides after an adjustment: dropped
    dot_in_key                     "." in a key where the category forbids it: -> "_"
    tag_disabled / field_disabled  empty key, or a key the category drops (logging: source, date;
                                   object: class, date)
    same_tag_field_key             a key that is both a tag and a field: the field is dropped
    invalid_field_value_type       metric string/bytes fields, maps (unless enabled), mixed arrays
    inf_convert_to_max_value       +Inf -> 18446744073709551615.0 (max uint64 as float)
    inf_convert_to_min_value       -Inf -> -9223372036854775808.0 (min int64)
    nil_field                      a field without a value (kept)
    add_required_kv                logging: field status="info"; object: field name="default"

Lengths are UTF-8 bytes, truncation never splits a character. The rum geo tags need
the client address and are the receiver's job, not this module's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from offload.point import Point

__all__ = ["CheckOptions", "DEFAULT_MEASUREMENT", "check_point", "check_points", "options_for"]

DEFAULT_MEASUREMENT = "__default"
_MAX_U64_F = 18446744073709551615.0
_MIN_I64_F = -9223372036854775808.0


@dataclass(frozen=True)
class CheckOptions:
    max_measurement_len: int = 1024
    max_fields: int = 1024
    max_tags: int = 256
    max_tag_key_len: int = 256
    max_tag_value_len: int = 1024
    max_field_key_len: int = 256
    max_field_value_len: int = 32 * 1024 * 1024
    dots_in_keys: bool = True
    string_fields: bool = True
    disabled_keys: frozenset[str] = frozenset()
    required_fields: tuple[tuple[str, str], ...] = ()
    dict_fields: bool = False
    mixed_arrays: bool = False


_CATEGORY_OPTIONS = {
    "metric": CheckOptions(string_fields=False),
    "logging": CheckOptions(dots_in_keys=False, disabled_keys=frozenset({"source", "date"}),
                            required_fields=(("status", "info"),)),
    "object": CheckOptions(dots_in_keys=False, disabled_keys=frozenset({"class", "date"}),
                           required_fields=(("name", "default"),)),
}
_DEFAULT = CheckOptions()


def options_for(category: str, *, dict_fields: bool = False, mixed_arrays: bool = False) -> CheckOptions:
    """The checker options DataKit's receiver uses for a category (plus the two opt-ins of wire.md a.4)."""
    opts = _CATEGORY_OPTIONS.get(category, _DEFAULT)
    if dict_fields or mixed_arrays:
        opts = CheckOptions(**{**opts.__dict__, "dict_fields": dict_fields, "mixed_arrays": mixed_arrays})
    return opts


def check_points(points: list[Point], category: str, *, dict_fields: bool = False,
                 mixed_arrays: bool = False) -> list[Point]:
    """Precheck every point for `category` in place; returns the same list."""
    opts = options_for(category, dict_fields=dict_fields, mixed_arrays=mixed_arrays)
    for p in points:
        check_point(p, opts)
    return points


def _blen(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def _cut(s: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes of s, never splitting a character."""
    if s.isascii():
        return s[:limit]
    return s.encode("utf-8", "surrogatepass")[:limit].decode("utf-8", "ignore")


def _adjust(s: str) -> str:
    # cliutils adjustKV: all trailing backslashes removed, newlines become spaces.
    if s.endswith("\\"):
        s = s.rstrip("\\")
    if "\n" in s:
        s = s.replace("\n", " ")
    return s


def _mixed(v: list) -> bool:
    if not v:
        return False
    t = type(v[0])
    return any(type(e) is not t for e in v)


def check_point(p: Point, opts: CheckOptions) -> Point:
    """Correct one point in place (see the module docstring); returns it."""
    warns: list[tuple[str, str]] = []
    warn = warns.append
    # The fast path: nothing to correct in the common case costs one pass over the keys.
    if _clean(p, opts):
        _required(p, opts, warn)
        _finish(p, warns)
        return p

    name = p.name
    if not name:
        warn(("invalid_measurement", f"empty measurement, use {DEFAULT_MEASUREMENT}"))
        name = DEFAULT_MEASUREMENT
    if _blen(name) > opts.max_measurement_len:
        warn(("invalid_measurement", f"exceed max measurement length({opts.max_measurement_len}), "
                                     f"got length {_blen(name)}, trimmed"))
        name = _cut(name, opts.max_measurement_len)
    p.name = name

    fields, tags = p.fields, p.tags
    if len(fields) > opts.max_fields:
        warn(("exceed_max_fields", f"exceed max field count({opts.max_fields}), got {len(fields)} fields, "
                                   "extra fields deleted"))
        fields = dict(list(fields.items())[: opts.max_fields])
    if len(tags) > opts.max_tags:
        warn(("exceed_max_tags", f"exceed max tag count({opts.max_tags}), got {len(tags)} tags, extra tags deleted"))
        tags = dict(list(tags.items())[: opts.max_tags])

    new_tags: dict[str, str] = {}
    for key, val in tags.items():
        k = _tag_key(key, opts, warn, tags, new_tags)
        if k is None:
            continue
        if type(val) is not str:
            val = "" if val is None else str(val)
        if val:
            v = _adjust(val)
            if v != val:
                warn(("found_new_line_or_tail_espace", f"invalid tag value {val!r}, found \\n or tail \\"))
                val = v
        if _blen(val) > opts.max_tag_value_len:
            warn(("exceed_max_tag_value_len", f"exceed max tag value length({opts.max_tag_value_len}), "
                                              f"got {_blen(val)}, value truncated"))
            val = _cut(val, opts.max_tag_value_len)
        new_tags[k] = val

    new_fields: dict = {}
    for key, val in fields.items():
        k = _field_key(key, opts, warn, fields, new_fields, new_tags)
        if k is None:
            continue
        keep, val = _field_value(k, val, opts, warn)
        if keep:
            new_fields[k] = val
    p.tags, p.fields = new_tags, new_fields
    _required(p, opts, warn)
    _finish(p, warns)
    return p


def _clean(p: Point, opts: CheckOptions) -> bool:
    """True when no rule can fire (then only the required keys remain to add).

    One pass of cheap per-key tests; measured faster than set/join tricks for the usual
    handful of keys (2.6 us vs 4.9 us for a nginx logging point).
    """
    name = p.name
    if not name or (len(name) * 4 > opts.max_measurement_len and _blen(name) > opts.max_measurement_len):
        return False
    tags, fields = p.tags, p.fields
    if len(tags) > opts.max_tags or len(fields) > opts.max_fields:
        return False
    dots, disabled = not opts.dots_in_keys, opts.disabled_keys
    for k, v in tags.items():
        if (not k or k[-1] == "\\" or "\n" in k or (dots and "." in k) or k in disabled or k in fields
                or type(v) is not str or (v and (v[-1] == "\\" or "\n" in v))
                or len(k) * 4 > opts.max_tag_key_len or len(v) * 4 > opts.max_tag_value_len):
            return False
    for k, v in fields.items():
        if (not k or k[-1] == "\\" or "\n" in k or (dots and "." in k) or k in disabled
                or len(k) * 4 > opts.max_field_key_len):
            return False
        t = type(v)
        if t is str or t is bytes:
            if not opts.string_fields or len(v) > opts.max_field_value_len // 4:
                return False
        elif t is float:
            if v == math.inf or v == -math.inf:
                return False
        elif t is not int and t is not bool:
            return False  # None, maps, arrays, UInt and other types: checked one by one
    return True


def _tag_key(key: str, opts: CheckOptions, warn, tags: dict, done: dict) -> str | None:
    k = key
    if _blen(k) > opts.max_tag_key_len:
        warn(("exceed_max_tag_key_len", f"exceed max tag key length({opts.max_tag_key_len}), got {_blen(k)}, "
                                        "key truncated"))
        k = _cut(k, opts.max_tag_key_len)
        if k in tags or k in done:
            warn(("invalid_tag_key", f"tag key {k!r} exist after truncate"))
            return None
    a = _adjust(k)
    if a != k:
        warn(("found_new_line_or_tail_espace", f"invalid tag key {k!r}, replace \\ or \\n with ''"))
        if a in tags or a in done:
            warn(("invalid_tag_key", f"tag key {a!r} exist after adjust"))
            return None
        k = a
    if not opts.dots_in_keys and "." in k:
        warn(("dot_in_key", f"invalid tag key `{k}': found `.'"))
        k2 = k.replace(".", "_")
        if k2 in tags or k2 in done:
            warn(("invalid_tag_key", f"tag key {k2!r} exist after adjust"))
            return None
        k = k2
    if not k:
        warn(("tag_disabled", "empty tag key disabled"))
        return None
    if k in opts.disabled_keys:
        warn(("tag_disabled", f"tag key {k!r} disabled"))
        return None
    if k in done:
        warn(("invalid_tag_key", f"same key ({k!r})"))
        return None
    return k


def _field_key(key: str, opts: CheckOptions, warn, fields: dict, done: dict, tags: dict) -> str | None:
    k = key
    if _blen(k) > opts.max_field_key_len:
        warn(("exceed_max_field_key_len", f"exceed max field key length({opts.max_field_key_len}), "
                                          f"got length {_blen(k)}, key truncated"))
        k = _cut(k, opts.max_field_key_len)
        if k in fields or k in done:
            warn(("invalid_tag_key", f"field key {k!r} exist after truncate"))
            return None
    if not opts.dots_in_keys and "." in k:
        warn(("dot_in_key", f"invalid field key `{k}': found `.'"))
        k2 = k.replace(".", "_")
        if k2 in fields or k2 in done:
            warn(("invalid_tag_key", f"field key {k2!r} exist after adjust"))
            return None
        k = k2
    a = _adjust(k)
    if a != k:
        warn(("found_new_line_or_tail_espace", f"invalid field key {k!r}: found \\n, replaced with ' '"))
        if a in fields or a in done:
            warn(("invalid_tag_key", f"field key {a!r} exist after adjust"))
            return None
        k = a
    if not k:
        warn(("field_disabled", "empty field key disabled"))
        return None
    if k in opts.disabled_keys:
        warn(("field_disabled", f"field key {k!r} disabled"))
        return None
    if k in tags:
        warn(("same_tag_field_key", f"same key ({k!r}) as a tag, field dropped"))
        return None
    if k in done:
        warn(("invalid_tag_key", f"same key ({k!r})"))
        return None
    return k


def _field_value(k: str, v, opts: CheckOptions, warn):
    t = type(v)
    if t is str or t is bytes or t is bytearray:
        if not opts.string_fields:
            warn(("invalid_field_value_type",
                  f"field({k}) dropped with string value, when [DisableStringField] enabled"))
            return False, v
        size = _blen(v) if t is str else len(v)
        if size > opts.max_field_value_len:
            warn(("exceed_max_field_value_len", f"field ({k}) exceed max field value length"
                                                f"({opts.max_field_value_len}), got {size}, value truncated"))
            v = _cut(v, opts.max_field_value_len) if t is str else v[: opts.max_field_value_len]
        return True, v
    if t is float:
        if v == math.inf:
            warn(("inf_convert_to_max_value", f"+inf value from {k!r} convert to max-uint64"))
            return True, _MAX_U64_F
        if v == -math.inf:
            warn(("inf_convert_to_min_value", f"-inf value from {k!r} convert to min-int64"))
            return True, _MIN_I64_F
        return True, v
    if v is None:
        warn(("nil_field", f"nil field({k})"))
        return True, v
    if t is dict and not opts.dict_fields:
        warn(("invalid_field_value_type", f"field({k}) dropped: map values are not enabled"))
        return False, v
    if t is list and not opts.mixed_arrays and _mixed(v):
        warn(("invalid_field_value_type", f"field({k}) dropped: array elements of mixed types"))
        return False, v
    return True, v


def _required(p: Point, opts: CheckOptions, warn) -> None:
    for key, default in opts.required_fields:
        if key not in p.fields and key not in p.tags:
            p.fields[key] = default
            warn(("add_required_kv", f"add required key-value {key!r}: {default!r}"))


def _finish(p: Point, warns: list) -> None:
    if warns:
        if p.warns is None:
            p.warns = warns
        else:
            p.warns.extend(warns)
