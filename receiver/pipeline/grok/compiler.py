"""Grok: expand `%{NAME:alias:type}` references into one regex and apply it to a string (§10).

`compile_grok(pattern, lookup)` expands references recursively (user patterns through `lookup`,
innermost scope first, then the default library), renames every named group to a unique internal
name (Python and RE2 reject duplicate names; Go allows them and the *last* group of a name
wins), records each capture's type, and compiles the result with `regex.Regex` (RE2 semantics,
`re` speed where safe) after the match-preserving rewrites of speedups.py. `Grok.match(s, trim)`
returns the typed captures as (name, value) pairs; `Grok.store` / `store_untrimmed` (what the
grok built-in calls) are generated per pattern and write them straight into a point.
"""

from __future__ import annotations

import re
from typing import Callable

from .library import DEFAULT_PATTERNS
from .numbers import _TRUE, parse_float, parse_int
from .regex import Regex, RegexError, group_facts
from .speedups import absorb, decapture, py_rewrites

__all__ = ["Grok", "GrokError", "compile_grok", "expand", "to_int", "to_float", "to_bool", "go_trim_space"]

# a reference: GuanceCloud/grok's `normal`, then `valid` decides whether it is well formed
_REF = re.compile(r"%\{([\w.\-]+(?::[\w.\-]+(?::[\w.\-]+)?)?)\}")
_VALID = re.compile(r"^\w+(?:[-.]\w+)*(?::([-.\w]+)(?::(\w+))?)?$")
_NONWORD = re.compile(r"\W", re.ASCII)
_TYPES = {"string": "str", "str": "str", "int": "int", "float": "float", "bool": "bool"}
# Python-only hint: every IPv6 form has at most 4 hex digits before its first ':'; checking that
# first lets `re` skip the long IPV6 alternation (tried before IPV4/HOSTNAME) at once.
_IPV6_MARK = "\x00ipv6\x00"
_IPV6_HINT = "(?=[0-9A-Fa-f]{0,4}:)"

# Go's unicode.IsSpace set, for strings.TrimSpace
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def go_trim_space(s: str) -> str:
    return s.strip(_GO_SPACE)


class GrokError(ValueError):
    """A grok pattern does not compile (unknown name, bad reference, bad type, bad regex, cycle)."""


def to_int(s: str) -> int:
    """Grok int: a trailing all-zero fraction removed, then Go ParseInt(s, 0, 64); failure -> 0."""
    if s.isdigit() and s.isascii() and (s[0] != "0" or len(s) == 1) and len(s) < 19:
        return int(s)  # the common case: plain decimal digits
    dot = s.find(".")
    if dot >= 0:
        if s[dot + 1:].strip("0"):
            return 0
        s = s[:dot]
    try:
        return parse_int(s, 0)
    except ValueError:
        return 0


def to_float(s: str) -> float:
    """Go ParseFloat(s, 64); failure -> 0.0."""
    try:
        return parse_float(s)
    except ValueError:
        return 0.0


def to_bool(s: str) -> bool:
    """Go ParseBool: the true set -> True, anything else -> False."""
    return s in _TRUE


_CONV = {"str": None, "int": to_int, "float": to_float, "bool": to_bool}
_ZERO = {"str": "", "int": 0, "float": 0.0, "bool": False}


def expand(pattern: str, lookup: Callable[[str], str | None] | None = None, hint: bool = False) -> tuple[str, dict[str, str]]:
    """Expand every reference; returns (regex text with (?P<alias> groups, {alias: type})."""
    types: dict[str, str] = {}

    def resolve(name: str) -> str | None:
        if lookup is not None:
            found = lookup(name)
            if found is not None:
                return found
        return DEFAULT_PATTERNS.get(name)

    def walk(text: str, stack: tuple[str, ...]) -> str:
        out = []
        pos = 0
        for m in _REF.finditer(text):
            out.append(text[pos:m.start()])
            pos = m.end()
            ref = m.group(1)
            v = _VALID.match(ref)
            if v is None:
                raise GrokError(f"invalid pattern reference %{{{ref}}}")
            parts = ref.split(":")
            name = parts[0]
            if name in stack:
                raise GrokError(f"cyclic pattern reference %{{{name}}}")
            body = resolve(name)
            if body is None:
                raise GrokError(f"no pattern found for %{{{name}}}")
            inner = walk(body, stack + (name,))
            if hint and name == "IPV6" and resolve(name) == DEFAULT_PATTERNS.get("IPV6"):
                inner = _IPV6_MARK + inner
            if len(parts) >= 2:
                alias = _NONWORD.sub("_", parts[1])
                if len(parts) == 3:
                    typ = _TYPES.get(parts[2])
                    if typ is None:
                        raise GrokError(f"invalid type {parts[2]!r} in %{{{ref}}}: want string, str, int, float or bool")
                    types[alias] = typ
                out.append(f"(?P<{alias}>{inner})")
            else:
                out.append(f"(?:{inner})")
        out.append(text[pos:])
        return "".join(out)

    return walk(pattern, ()), types


def _make_store(plan: tuple, ngroups: int, trim: bool, facts: dict):
    """Generate the capture writer of one grok pattern: the plan unrolled into straight-line
    code (one local per group, no per-capture tuple unpacking or converter lookups). Scalar
    captures go straight into the fields unless a name is already a tag (§7.2: it stays a tag,
    written through the context's setter, in plan order like the fields)."""
    ns: dict = {"_S": _GO_SPACE, "_NAMES": frozenset(p[1] for p in plan)}
    lines = ["def store(m, T, F, ctx):"]
    if ngroups:
        groups = ", ".join(f"g{i}" for i in range(ngroups))
        lines.append(f"    {groups}{',' if ngroups == 1 else ''} = m.groups()")
    vals = []
    for k, (idx, name, conv, zero, chop) in enumerate(plan):
        expr = f"g{idx}"
        if chop:
            expr = f"{expr}[:-{chop}]"
        # regex.group_facts: a group that cannot begin or end with white space needs no trim,
        # one that is set by every match needs no None check (the same regex runs in RE2 too)
        always, spaced = facts.get(idx + 1, (False, True))
        if trim and (spaced or chop):
            expr = f"{expr}.strip(_S)"
        if conv is to_int:  # to_int's fast path inline: plain decimal digits, no leading zero
            ns[f"_c{k}"] = conv
            expr = (f"(int(_x) if (_x := {expr}).isdigit() and _x.isascii() and _x[0] != '0' and len(_x) < 19 "
                    f"else _c{k}(_x))")
        elif conv is not None:
            ns[f"_c{k}"] = conv
            expr = f"_c{k}({expr})"
        ns[f"_z{k}"] = zero
        if always:
            lines.append(f"    v{k} = {expr}")
        else:
            lines.append(f"    v{k} = _z{k} if g{idx} is None else {expr}")
        vals.append((repr(name), f"v{k}"))
    if plan:
        lines.append("    if T and not _NAMES.isdisjoint(T):")
        for name, v in vals:
            lines.append(f"        if {name} in T: ctx.set_field({name}, {v})")
            lines.append(f"        else: F[{name}] = {v}")
        lines.append("        return")
        for name, v in vals:
            lines.append(f"    F[{name}] = {v}")
    else:
        lines.append("    return")
    exec(compile("\n".join(lines) + "\n", "<grok store>", "exec"), ns)  # noqa: S102  (our own code)
    return ns["store"]


_NAMED = re.compile(r"\\.|\[(?:\\.|[^\]\\])*\]?|\(\?P?<(\w+)>", re.DOTALL)


def _rename_groups(text: str, order: list[str]) -> str:
    """Replace every named group by (?P<gN>; append the original names to `order`."""
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name is None:
            return m.group(0)
        order.append(name)
        return f"(?P<g{len(order) - 1}>"
    return _NAMED.sub(sub, text)


class Grok:
    """A compiled grok pattern: the regex and, per capture name, (group index, converter, zero,
    characters to cut off the end: see speedups.absorb)."""

    __slots__ = ("pattern", "regex", "plan", "names", "store", "store_untrimmed")

    def __init__(self, pattern: str, regex: Regex, plan: tuple, names: tuple[str, ...]) -> None:
        self.pattern = pattern
        self.regex = regex
        self.plan = plan
        self.names = names
        # store(m, tags, fields, ctx): write the typed captures of match m into the point
        facts: dict = {}
        if regex.py is not None:
            try:
                facts = group_facts(regex.py.pattern)
            except (re.error, ValueError, KeyError, IndexError, RecursionError):  # pragma: no cover
                facts = {}
        self.store = _make_store(plan, regex.groups, True, facts)
        self.store_untrimmed = _make_store(plan, regex.groups, False, facts)

    def __repr__(self) -> str:
        return f"Grok({self.pattern!r})"

    def match(self, s: str, trim: bool = True) -> list[tuple[str, object]] | None:
        """The typed captures of the leftmost match, or None."""
        m = self.regex.search(s)
        if m is None:
            return None
        groups = m.groups()
        out = []
        for idx, name, conv, zero, chop in self.plan:
            v = groups[idx]
            if v is None:
                out.append((name, zero))
                continue
            if chop:
                v = v[:-chop]
            if trim:
                v = v.strip(_GO_SPACE)
            out.append((name, v if conv is None else conv(v)))
        return out


def compile_grok(pattern: str, lookup: Callable[[str], str | None] | None = None) -> Grok:
    """Compile a grok pattern (user patterns via `lookup`, then the default library)."""
    text, types = expand(pattern, lookup)
    order: list[str] = []
    re2_text = _rename_groups(text, order)
    try:  # speedups.py: same matches and captures, less work for `re`
        re2_text, chops = absorb(decapture(re2_text))
    except ValueError:
        chops = {}
    hinted, _ = expand(pattern, lookup, hint=True)
    from .regex import translate, Untranslatable
    try:
        if _IPV6_MARK in hinted:
            h = absorb(decapture(_rename_groups(hinted, [])))[0]
            py_text = translate(h).replace(_IPV6_MARK, _IPV6_HINT)
        else:
            py_text = translate(re2_text)
        py_text = py_rewrites(py_text)
    except (Untranslatable, ValueError, IndexError):
        py_text = None
    try:
        regex = Regex(re2_text, py_text) if py_text is not None else Regex(re2_text)
    except RegexError as exc:
        raise GrokError(str(exc).replace(repr(re2_text), repr(pattern))) from None
    if regex.py is not None and py_text is not None and regex.py.groups != regex._re2.groups:  # pragma: no cover
        regex = Regex(re2_text)
    last: dict[str, int] = {}
    for i, name in enumerate(order):
        last[name] = i
    index = regex.groupindex
    plan = []
    for name, i in last.items():  # first-appearance order, value of the last group of that name
        typ = types.get(name, "str")
        plan.append((index[f"g{i}"] - 1, name, _CONV[typ], _ZERO[typ], chops.get(f"g{i}", 0)))
    return Grok(pattern, regex, tuple(plan), tuple(last))
