"""RE2-syntax regular expressions, run by Python's `re` where that is safe and by RE2 otherwise.

Scripts write Go/RE2 regexes (grok patterns, `replace`, `match`, `kv_split`). RE2 is the
authority on syntax: every pattern is first compiled by google-re2 (a compile error there is a
script compile error). The pattern is then translated to Python `re` syntax (`translate`) and
its worst-case backtracking cost is estimated statically (`analyze`):

* EXP: a loop whose iterations can split the same text in several ways (`(a+)+`, `(.*,)*`) may
  backtrack exponentially: always RE2.
* otherwise a polynomial degree D (ambiguous junctions between a loop and what follows it,
  the scan of a loop, the unanchored search). Inputs short enough that len**D stays under a
  small budget run in plain `re`; longer inputs run in `re` under the tick guard (guard.py),
  which interrupts a match that takes longer than a few ms and re-runs it in RE2 (linear time).
  Where the guard is unavailable (not the main thread) long inputs go straight to RE2.

The Python text also gets the span-preserving rewrites of speedups.py (possessive set loops,
stepping lazy `.*?`). Measured (PERF-FACTS.md and tests/benchmarks/bench_pipeline.py): `re` is ~20x faster than the
google-re2 binding on capture-heavy patterns, and the guard costs ~0.1 µs a call.
"""

from __future__ import annotations

import re
from functools import lru_cache
from re import _constants as _sc  # type: ignore[attr-defined]
from re import _parser as _sp  # type: ignore[attr-defined]

import re2 as _re2

from . import guard as _guard
from .speedups import py_rewrites

__all__ = ["Regex", "RegexError", "compile_regex", "translate", "analyze", "EXP"]

EXP = 1000  # degree marker for exponential backtracking
# len(s) ** degree above this runs guarded (or in RE2): ~4e6 backtracking steps is ~20 ms in sre.
_BUDGET = 4_000_000
# sre checks signals every 4096 dispatch steps, each of which may scan the whole input: past this
# length a guarded match could overrun its budget by too much, so non-linear patterns use RE2.
_LONG = 32_768

_RE2_OPTIONS = _re2.Options()
_RE2_OPTIONS.log_errors = False


class RegexError(ValueError):
    """The pattern is not valid RE2 syntax (message from RE2)."""


class Untranslatable(Exception):
    """Valid RE2 with no faithful `re` equivalent (\\p classes, (?U), \\C): run in RE2 only."""


# ---------------------------------------------------------------- translation RE2 -> re

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
_SPACE_CLASS = "\\t\\n\\f\\r "  # RE2 \s is [\t\n\f\r ] (no \v, unlike Python's ASCII \s)
_CLASS_SPECIAL = set("[&~|-")


def translate(pattern: str) -> str:
    """Rewrite an RE2 pattern (already validated by RE2) into an equivalent Python `re` pattern."""
    out: list[str] = []
    i, n = 0, len(pattern)
    flags: set[str] = set()
    # one frame per open group: (flags at open, inline-flag openers pending at this level)
    stack: list[tuple[set[str], list[str]]] = []
    openers: list[str] = []
    while i < n:
        c = pattern[i]
        if c == "\\":
            tok, i = _escape(pattern, i, in_class=False)
            out.append(tok)
            continue
        if c == "[":
            tok, i = _char_class(pattern, i)
            out.append(tok)
            continue
        if c == "(":
            if pattern.startswith("(?", i) and not pattern.startswith("(?P<", i) and not pattern.startswith("(?<", i):
                k = i + 2
                while k < n and pattern[k] not in ":)":
                    k += 1
                spec = pattern[i + 2:k]
                if "U" in spec:
                    raise Untranslatable("(?U)")
                if k < n and pattern[k] == ")":  # (?flags) for the rest of the group
                    flags = _apply_flags(flags, spec)
                    opener = f"(?{spec}:"
                    out.append(opener)
                    openers.append(opener)
                    i = k + 1
                    continue
                stack.append((flags, openers))
                flags = _apply_flags(flags, spec)
                openers = []
                out.append(f"(?{spec}:")
                i = k + 1
                continue
            stack.append((flags, openers))
            openers = []
            if pattern.startswith("(?<", i):  # Go 1.22 named group syntax
                out.append("(?P<")
                i += 3
            else:
                out.append("(")
                i += 1
            continue
        if c == ")":
            out.append(")" * len(openers))
            out.append(")")
            flags, openers = stack.pop()
            i += 1
            continue
        if c == "|":
            # inline flags last to the end of the group, across alternatives: close and reopen
            out.append(")" * len(openers))
            out.append("|")
            out.extend(openers)
            i += 1
            continue
        if c == "$":
            out.append("$" if "m" in flags else r"\Z")
            i += 1
            continue
        if c == "{":
            m = _REPEAT.match(pattern, i)
            if m and out:
                out.append(m.group(0))
                i = m.end()
            else:
                out.append(r"\{")
                i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * len(openers))
    return "".join(out)


def _apply_flags(flags: set[str], spec: str) -> set[str]:
    new = set(flags)
    on = True
    for ch in spec:
        if ch == "-":
            on = False
        elif on:
            new.add(ch)
        else:
            new.discard(ch)
    return new


def _escape(p: str, i: int, in_class: bool) -> tuple[str, int]:
    c = p[i + 1] if i + 1 < len(p) else ""
    if c in ("p", "P", "C"):
        raise Untranslatable("\\" + c)
    if c == "z":
        return r"\Z", i + 2
    if c == "s":
        return (_SPACE_CLASS if in_class else f"[{_SPACE_CLASS}]"), i + 2
    if c == "S" and not in_class:
        return f"[^{_SPACE_CLASS}]", i + 2
    if c == "Q":
        end = p.find("\\E", i + 2)
        lit = p[i + 2:] if end < 0 else p[i + 2:end]
        esc = "".join("\\" + ch if not ch.isalnum() else ch for ch in lit)
        return esc, (len(p) if end < 0 else end + 2)
    if c == "x" and i + 2 < len(p) and p[i + 2] == "{":
        end = p.index("}", i + 3)
        return "\\U%08x" % int(p[i + 3:end], 16), end + 1
    return "\\" + c, i + 2


def _char_class(p: str, i: int) -> tuple[str, int]:
    out = ["["]
    i += 1
    if i < len(p) and p[i] == "^":
        out.append("^")
        i += 1
    first = True
    while i < len(p):
        c = p[i]
        if c == "]" and not first:
            out.append("]")
            return "".join(out), i + 1
        first = False
        if c == "[" and p.startswith("[:", i):
            end = p.find(":]", i + 2)
            name = p[i + 2:end]
            neg = name.startswith("^")
            if neg:
                raise Untranslatable("negated POSIX class")
            out.append(_POSIX[name])
            i = end + 2
            continue
        if c == "\\":
            tok, i = _escape(p, i, in_class=True)
            out.append(tok)
            continue
        if c == "-" and i + 1 < len(p) and p[i + 1] != "]" and out[-1] not in ("[", "^"):
            out.append("-")  # range operator
            i += 1
            continue
        out.append("\\" + c if c in _CLASS_SPECIAL or c == "]" else c)
        i += 1
    raise RegexError("missing closing ]")


# ---------------------------------------------------------------- backtracking-risk analysis

_ALL = (1 << 257) - 1
_NONASCII = 1 << 256


def _bits(lo: int, hi: int) -> int:
    m = 0
    if hi > 255:
        m |= _NONASCII
        hi = 255
    if lo <= hi:
        m |= ((1 << (hi - lo + 1)) - 1) << lo
    return m


_DIGIT = _bits(48, 57)
_WORD = _DIGIT | _bits(65, 90) | _bits(97, 122) | (1 << 95)
_SPACE = (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 32)
_CATS = {
    _sc.CATEGORY_DIGIT: _DIGIT, _sc.CATEGORY_NOT_DIGIT: _ALL & ~_DIGIT,
    _sc.CATEGORY_WORD: _WORD, _sc.CATEGORY_NOT_WORD: _ALL & ~_WORD,
    _sc.CATEGORY_SPACE: _SPACE, _sc.CATEGORY_NOT_SPACE: _ALL & ~_SPACE,
}
_MAXREPEAT = _sc.MAXREPEAT
_LOOP_MAX = 16  # bounded repeats up to this count a constant factor, not a loop


class _Info:
    __slots__ = ("first", "last", "chars", "nullable", "minlen", "maxlen", "deg", "loops")

    def __init__(self, first=0, last=0, chars=0, nullable=True, minlen=0, maxlen=0, deg=0, loops=0):
        self.first, self.last, self.chars = first, last, chars
        self.nullable, self.minlen, self.maxlen = nullable, minlen, maxlen
        self.deg, self.loops = deg, loops


def _fold(m: int) -> int:
    # case-insensitive superset: add the other case of every ASCII letter
    up = (m >> 97) & ((1 << 26) - 1)
    lo = (m >> 65) & ((1 << 26) - 1)
    return m | (up << 65) | (lo << 97)


def _set_of(items, icase: bool) -> int:
    m, neg = 0, False
    for op, av in items:
        if op is _sc.NEGATE:
            neg = True
        elif op is _sc.LITERAL:
            m |= (1 << av) if av < 256 else _NONASCII
        elif op is _sc.RANGE:
            m |= _bits(av[0], av[1])
        elif op is _sc.CATEGORY:
            m |= _CATS.get(av, _ALL)
        else:
            m |= _ALL
    if icase:
        m = _fold(m)
    return (_ALL & ~m) | _NONASCII if neg else m


def _single(op, av, icase: bool) -> int | None:
    if op is _sc.LITERAL:
        m = (1 << av) if av < 256 else _NONASCII
        return _fold(m) if icase else m
    if op is _sc.NOT_LITERAL:
        return _ALL
    if op is _sc.ANY:
        return _ALL
    if op is _sc.IN:
        return _set_of(av, icase)
    return None


def _seq(items, follow: int, icase: bool) -> _Info:
    """Analyse a sequence; `follow` is the first-set of whatever may come after it."""
    n = len(items)
    # follow set for each element: first sets of the rest, up to the first non-nullable one
    follows = [0] * n
    f = follow
    infos: list[_Info | None] = [None] * n
    for k in range(n - 1, -1, -1):
        follows[k] = f
        info = _node(items[k][0], items[k][1], f, icase)
        infos[k] = info
        f = info.first | f if info.nullable else info.first
    out = _Info(nullable=True)
    for k, info in enumerate(infos):
        assert info is not None
        out.first |= info.first if out.nullable else 0
        out.last = info.last | (out.last if info.nullable else 0)
        out.chars |= info.chars
        out.minlen += info.minlen
        out.maxlen = None if out.maxlen is None or info.maxlen is None else out.maxlen + info.maxlen
        out.nullable = out.nullable and info.nullable
        out.loops += info.loops
        if info.deg >= EXP:
            out.deg = EXP
        elif out.deg < EXP:
            out.deg += info.deg
    return out


def _node(op, av, follow: int, icase: bool) -> _Info:
    s = _single(op, av, icase)
    if s is not None:
        return _Info(s, s, s, False, 1, 1)
    if op is _sc.AT:
        if av in (_sc.AT_BOUNDARY, _sc.AT_NON_BOUNDARY, _sc.AT_BEGINNING, _sc.AT_BEGINNING_STRING):
            return _Info()
        # an end anchor is checked at every backtracking position of a loop before it
        return _Info(first=_ALL)
    if op is _sc.SUBPATTERN:
        sub_icase = icase or bool(av[1] & _sc.SRE_FLAG_IGNORECASE)
        return _seq(av[3].data, follow, sub_icase)
    if op is _sc.ATOMIC_GROUP:
        return _seq(av.data, follow, icase)
    if op is _sc.BRANCH:
        out = _Info(nullable=False, minlen=None)
        first_alt = True
        for alt in av[1]:
            info = _seq(alt.data, follow, icase)
            out.first |= info.first
            out.last |= info.last
            out.chars |= info.chars
            out.nullable = out.nullable or info.nullable
            out.minlen = info.minlen if out.minlen is None else min(out.minlen, info.minlen)
            out.maxlen = info.maxlen if first_alt else _maxn(out.maxlen, info.maxlen)
            first_alt = False
            out.deg = max(out.deg, info.deg)
            out.loops += info.loops
        out.minlen = out.minlen or 0
        return out
    if op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT, _sc.POSSESSIVE_REPEAT):
        lo, hi, sub = av
        # inside the loop an iteration may be followed by another one or by what follows the loop
        first = _seq(sub.data, follow, icase).first
        body = _seq(sub.data, first | follow, icase)
        info = _Info(body.first, body.last, body.chars, body.nullable or lo == 0,
                     body.minlen * lo, None if hi == _MAXREPEAT or body.maxlen is None else body.maxlen * hi,
                     body.deg, body.loops)
        if hi <= 1:
            return info
        unbounded = hi > _LOOP_MAX
        single = len(sub.data) == 1 and _single(sub.data[0][0], sub.data[0][1], icase) is not None
        if not single and not _unique_split(sub.data, body, icase):
            if unbounded or hi > 4:
                info.deg = EXP
                return info
        if unbounded:
            info.loops += 1
            # the loop may stop at many places and what follows can start at one of them
            if body.chars & follow and info.deg < EXP:
                info.deg += 1
        return info
    if op in (_sc.ASSERT, _sc.ASSERT_NOT):  # only our own hints (RE2 has no look-around)
        sub = _seq(av[1].data, 0, icase)
        return _Info(deg=EXP if sub.deg >= EXP or sub.loops else 0)
    if op is _sc.GROUPREF or op is _sc.GROUPREF_EXISTS:
        return _Info(first=_ALL, chars=_ALL, deg=EXP)
    return _Info(first=_ALL, chars=_ALL, deg=EXP)


def _maxn(a, b):
    return None if a is None or b is None else max(a, b)


def _unique_split(items, body: _Info, icase: bool) -> bool:
    """Can a run of loop iterations be cut into iterations in only one way?"""
    if body.nullable or body.deg >= EXP:
        return False
    while len(items) == 1 and items[0][0] is _sc.SUBPATTERN:
        items = items[0][1][3].data
    if body.maxlen is not None and body.minlen == body.maxlen and not _has_branch(items):
        return True  # fixed width: iterations are cut by position
    # a leading delimiter D: D, then a fixed-width part, then a rest that never consumes D
    d = _single(items[0][0], items[0][1], icase) if items else None
    if d is not None:
        k = 1
        while k < len(items):
            s = _single(items[k][0], items[k][1], icase)
            if s is None:
                break
            k += 1
        rest = _seq(items[k:], 0, icase) if k < len(items) else _Info()
        if not (d & rest.chars) and not _has_branch(items[k:]):
            return True
        rest_all = _seq(items[1:], 0, icase)
        if not (d & rest_all.chars):
            return True
    # a trailing terminator T that the part before never consumes
    t = _single(items[-1][0], items[-1][1], icase) if items else None
    if t is not None:
        before = _seq(items[:-1], t, icase)
        if not (t & before.chars):
            return True
    return False


def _has_branch(items) -> bool:
    for op, av in items:
        if op is _sc.BRANCH:
            return True
        if op is _sc.SUBPATTERN and _has_branch(av[3].data):
            return True
        if op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT) and _has_branch(av[2].data):
            return True
    return False


def analyze(py_pattern: str, flags: int = 0) -> int:
    """Estimated worst-case backtracking degree of a Python pattern (EXP for exponential)."""
    tree = _sp.parse(py_pattern, flags)
    icase = bool(tree.state.flags & re.IGNORECASE)
    data = tree.data
    info = _seq(data, 0, icase)
    if info.deg >= EXP:
        return EXP
    anchored = bool(data) and data[0][0] is _sc.AT and data[0][1] in (_sc.AT_BEGINNING, _sc.AT_BEGINNING_STRING)
    deg = info.deg + (1 if info.loops else 0) + (0 if anchored else 1)
    return deg


# ---------------------------------------------------------------- the compiled regex


class Regex:
    """One RE2-syntax regex; `search`/`finditer` pick `re`, guarded `re`, or RE2 per input."""

    __slots__ = ("pattern", "py", "_re2", "degree", "short", "guarded", "groupindex", "groups", "timeouts",
                 "search")

    def __init__(self, pattern: str, py_pattern: str | None = None) -> None:
        self.pattern = pattern
        try:
            compiled2 = _re2.compile(pattern, _RE2_OPTIONS)
        except Exception as exc:  # re2._re2.Error carries bytes
            msg = exc.args[0] if exc.args else exc
            if isinstance(msg, bytes):
                msg = msg.decode("utf-8", "replace")
            raise RegexError(f"invalid regular expression {pattern!r}: {msg}") from None
        self._re2 = compiled2
        self.py = None
        self.degree = EXP
        try:
            py = py_rewrites(translate(pattern)) if py_pattern is None else py_pattern
            self.py = re.compile(py, re.ASCII)
            self.degree = analyze(py, re.ASCII)
        except (Untranslatable, re.error, ValueError, KeyError, IndexError, RecursionError):
            self.py = None
            self.degree = EXP
        if self.degree >= EXP:
            self.short = -1
        elif self.degree <= 1:
            self.short = 1 << 62
        else:
            self.short = int(_BUDGET ** (1.0 / self.degree))
        # inputs up to this length run in `re` under the tick guard (-1: never, straight to RE2)
        self.guarded = _LONG if self.short >= 0 else -1
        src = self.py if self.py is not None else compiled2
        self.groupindex = dict(src.groupindex)
        self.groups = src.groups
        self.timeouts = 0
        # search(s, pos=0): the first match at or after `pos` (leftmost-first, as RE2), or None;
        # `re` unguarded up to `short` characters, `re` under the tick guard up to `guarded`,
        # RE2 beyond (guard.searcher: one Python frame per call)
        self.search = _guard.searcher(self)

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r}, degree={self.degree})"

    @property
    def engine(self) -> str:
        return "re2" if self.py is None or self.short < 0 else "re"

    def _timed_out(self) -> None:
        self.timeouts += 1
        if self.timeouts >= 3:  # this pattern keeps running long: stop trying `re` on long inputs
            self.guarded = -1

    def finditer(self, s: str):
        """All non-overlapping matches, each match object offering group()/start()/end()."""
        if len(s) <= self.short:
            return list(self.py.finditer(s))
        if len(s) <= self.guarded and _guard.available():
            try:
                return _guard.run(lambda x, _p: list(self.py.finditer(x)), s, 0)
            except _guard.RegexTimeout:
                self._timed_out()
        return list(self._re2.finditer(s))


@lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> Regex:
    """Compile (and cache) an RE2-syntax pattern; raises RegexError on invalid syntax."""
    return Regex(pattern)


# ---------------------------------------------------------------- facts about capture groups

# Go's unicode.IsSpace: the ASCII ones, and (as the analysis folds them together) every non-ASCII char
_GO_SPACE_BITS = _SPACE | _NONASCII


def group_facts(py_pattern: str, flags: int = re.ASCII) -> dict[int, tuple[bool, bool]]:
    """{group number: (always set when the regex matches, may start or end with a space)}.

    "Always set": not inside an alternative, an optional or zero-minimum loop, or a
    look-around. "May start or end with a space": the group's possible first or last
    character includes one of Go's white-space characters (so trimming may change it)."""
    tree = _sp.parse(py_pattern, flags)
    icase = bool(tree.state.flags & re.IGNORECASE)
    out: dict[int, tuple[bool, bool]] = {}

    def walk(items, optional: bool, icase: bool) -> None:
        for op, av in items:
            if op is _sc.SUBPATTERN:
                gid, add, _del, sub = av
                ic = icase or bool(add & _sc.SRE_FLAG_IGNORECASE)
                if gid is not None:
                    info = _seq(sub.data, 0, ic)
                    # an exponential verdict may come from a construct the analysis does not model
                    spaced = bool((info.first | info.last) & _GO_SPACE_BITS) or info.deg >= EXP
                    out[gid] = (not optional, spaced)
                walk(sub.data, optional, ic)
            elif op is _sc.BRANCH:
                for alt in av[1]:
                    walk(alt.data, True, icase)
            elif op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT, _sc.POSSESSIVE_REPEAT):
                walk(av[2].data, optional or av[0] == 0, icase)
            elif op is _sc.ATOMIC_GROUP:
                walk(av.data, optional, icase)
            elif op in (_sc.ASSERT, _sc.ASSERT_NOT):
                walk(av[1].data, True, icase)
            elif op is _sc.GROUPREF_EXISTS:
                for sub in av[1:]:
                    if sub is not None:
                        walk(sub.data, True, icase)

    walk(tree.data, False, icase)
    return out
