"""Per-layout fast path of the protobuf decoder: points whose Fields repeat one layout.

A logging body repeats one point layout: the same Fields in the same order, each with
the same key and the same member (a tag string, a string, a double or an int64). Once
`protobuf.decode` has read a point of such a layout the generic way, `layout_of`
describes it and `compile_run` generates a loop that reads the following points of that
layout with one fixed check per Field: the Field's raw bytes start with the known
prefix (key member, value tag) and the value runs exactly to the end of the Field.
Keys and their UTF-8 are then known in advance; the values are sliced and converted
inline, without the byte-for-byte cache and the generic branches of the per-Field path.

Anything else (another layout, a Field carrying more members, over-long varints,
invalid UTF-8, warnings) stops the loop at that point, which the caller then reads
the generic way. The loop therefore accepts a subset of what the generic path
accepts, and gives the same result for it.
"""

from __future__ import annotations

import struct

from offload.point import Point

__all__ = ["compile_run", "layout_of"]

_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1
_MAX_FIELDS = 64
_SLOTS_OK = Point.__slots__ == ("name", "tags", "fields", "time", "warns")


class _Stop(Exception):
    """Internal: a varint the inline code does not take."""


def _varint(raw: bytes, pos: int) -> tuple[int, int]:
    r = shift = 0
    while True:
        b = raw[pos]
        pos += 1
        r |= (b & 0x7F) << shift
        if b < 0x80:
            if r >= _U64:
                raise _Stop
            return r, pos
        shift += 7
        if shift >= 70:
            raise _Stop


def layout_of(raws) -> tuple | None:
    """((kind, prefix, key), ...) for a point's raw Fields, or None when one is outside the layouts.

    kind: "t" a tag (key, is_tag=1, s), "s" a string, "f" a double, "i" an int64."""
    if not raws or len(raws) > _MAX_FIELDS:
        return None
    out = []
    for raw in raws:
        n = len(raw)
        if n < 3 or raw[0] != 0x0A or raw[1] > 0x7F:
            return None
        pos = 2 + raw[1]
        if pos >= n:
            return None
        try:
            key = raw[2:pos].decode()
        except UnicodeDecodeError:
            return None
        t = raw[pos]
        if t == 0x40 and raw[pos + 1 : pos + 3] == b"\x01\x5a":
            out.append(("t", bytes(raw[: pos + 3]), key))
        elif t == 0x5A:
            out.append(("s", bytes(raw[: pos + 1]), key))
        elif t == 0x21:
            out.append(("f", bytes(raw[: pos + 1]), key))
        elif t == 0x10:
            out.append(("i", bytes(raw[: pos + 1]), key))
        else:
            return None
    return tuple(out)


def _field_code(k: int, kind: str, prefix: bytes) -> list[str]:
    r, v, n = f"r{k}", f"v{k}", len(prefix)
    head = f"        if {r}[:{n}] != {prefix!r}:\n            return i\n"
    if kind == "f":
        return [
            (
                f"        if len({r}) != {n + 8} or {r}[:{n}] != {prefix!r}:\n            return i\n"
                f"        {v} = unpack_d({r}, {n})[0]\n"
            )
        ]
    if kind == "i":
        return [
            head
            + f"        {v} = {r}[{n}]\n"
            f"        if {v} > 127 or len({r}) != {n + 1}:\n"
            f"            {v}, q = varint({r}, {n})\n"
            f"            if q != len({r}):\n                return i\n"
            f"            if {v} > {_I64_MAX}:\n                {v} -= {_U64}\n"
        ]
    # "s" and "t": a length of one or two varint bytes, then the UTF-8 text up to the end.
    return [
        head
        + f"        ln = {r}[{n}]\n"
        f"        if ln < 128:\n"
        f"            if ln + {n + 1} != len({r}):\n                return i\n"
        f"            {v} = {r}[{n + 1}:].decode()\n"
        f"        else:\n"
        f"            h = {r}[{n + 1}]\n"
        f"            if h > 127 or ((ln & 127) | (h << 7)) + {n + 2} != len({r}):\n                return i\n"
        f"            {v} = {r}[{n + 2}:].decode()\n"
    ]


def _indent(chunks: list[str], by: str) -> str:
    return "".join(by + line + "\n" for chunk in chunks for line in chunk.splitlines())


def compile_run(layout: tuple):
    """`run(arr, i, n, app, tcache)`: Points of `layout` from the shadow points arr[i:n] (a list);
    returns where it stopped. `tcache` (a dict owned by the caller for one body) maps the raw
    tag Fields of a point to its tags: tag sets repeat, their Fields byte for byte."""
    names = [f"r{k}" for k in range(len(layout))]
    tag_code: list[str] = []
    field_code: list[str] = []
    for k, (kind, prefix, _) in enumerate(layout):
        (tag_code if kind == "t" else field_code).extend(_field_code(k, kind, prefix))
    tag_raws = [f"r{k}" for k, (kind, _, _) in enumerate(layout) if kind == "t"]
    tags = ", ".join(f"{key!r}: v{k}" for k, (kind, _, key) in enumerate(layout) if kind == "t")
    fields = ", ".join(f"{key!r}: v{k}" for k, (kind, _, key) in enumerate(layout) if kind != "t")
    if tag_raws:
        tag_part = (
            f"            tk = {'(' + ', '.join(tag_raws) + ',)' if len(tag_raws) > 1 else tag_raws[0]}\n"
            "            tags = tcache.get(tk)\n"
            "            if tags is None:\n"
            + _indent(tag_code, "        ")
            + f"                tags = {{{tags}}}\n"
            "                if len(tcache) < 4096:\n"
            "                    tcache[tk] = tags.copy()\n"
            "            else:\n"
            "                tags = tags.copy()\n"
        )
    else:
        tag_part = "            tags = {}\n"
    if _SLOTS_OK:
        # Point.__init__ only stores its arguments: filling the slots saves a Python call.
        build = (
            "        pt = new(Point)\n        pt.name = p.name\n"
            f"        pt.tags = tags\n        pt.fields = {{{fields}}}\n"
            "        pt.time = p.time\n        pt.warns = None\n        app(pt)\n"
        )
    else:
        build = f"        app(Point(p.name, tags, {{{fields}}}, p.time))\n"
    src = (
        "def run(arr, i, n, app, tcache):\n"
        "    while i < n:\n"
        "        p = arr[i]\n"
        "        if p.warns:\n            return i\n"
        "        try:\n"
        # A slice first: unpacking the upb container itself ends in a formatted IndexError (~1 us).
        f"            {', '.join(names)}{',' if len(names) == 1 else ''} = p.fields[:]\n"
        + _indent(field_code, "    ")
        + tag_part
        + "        except (Stop, IndexError, ValueError):  # ValueError: another number of Fields, bad UTF-8\n"
        "            return i\n"
        + build
        + "        i += 1\n"
        "    return i\n"
    )
    env = {
        "Point": Point,
        "new": object.__new__,
        "unpack_d": struct.Struct("<d").unpack_from,
        "varint": _varint,
        "Stop": _Stop,
    }
    exec(compile(src, f"<protobuf layout of {len(layout)} Fields>", "exec"), env)  # noqa: S102
    return env["run"]
