"""`select.condition`: the subset of DataKit's filter syntax that rules accept.

Supported (keywords are case-insensitive):

    condition   := clause ( [","] clause )*          a point is selected if ANY clause matches
    clause      := "{" expr "}"
    expr        := term ( ("or" | "||") term )*
    term        := factor ( ("and" | "&&") factor )*
    factor      := ("not" | "!") factor | "(" expr ")" | comparison
    comparison  := key ("=" | "==" | "!=" | "<>" | ">" | ">=" | "<" | "<=") literal
                 | key ("in" | "notin" | "not in") "[" literal ("," literal)* "]"
                 | key ("match" | "notmatch" | "not match") (string | "[" string ("," string)* "]")
    key         := identifier | `back-quoted name`
    literal     := 'string' | "string" | number | true | false | nil

Semantics:
* `key` is looked up among the point's tags, then its fields; `source`, `measurement`
  and `class` fall back to the point's name when no tag/field has that key.
* A key the point does not have makes every comparison false, except `key = nil`
  (true) and `key != nil` (false); `nil` matches a field without value too.
* Numbers compare numerically with int/float fields; strings compare as strings;
  a type mismatch is false (`!=` is its exact negation, so it is true).
* `match`/`notmatch` take RE2 patterns searched unanchored (Go's `MatchString`); with
  a list, `match` is true if any pattern matches and `notmatch` if none does.

Conditions compile to nested closures once per rule; evaluating one is a few calls.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import re2

from offload.point import Point

__all__ = ["ConditionError", "compile_condition", "compile_re2"]

Pred = Callable[[Point], bool]
_MISSING = object()
_NAME_KEYS = frozenset({"source", "measurement", "class"})


class ConditionError(ValueError):
    """A condition that does not parse; `offset` is the 0-based index in the condition text."""

    def __init__(self, message: str, offset: int) -> None:
        self.reason = message
        self.offset = offset
        super().__init__(f"{message} (at offset {offset})")


_RE2_OPTS = re2.Options()
_RE2_OPTS.log_errors = False


def compile_re2(pattern: str):
    """Compile with RE2 semantics; raises ValueError with RE2's message."""
    try:
        return re2.compile(pattern, _RE2_OPTS)
    except re2.error as exc:
        msg = exc.args[0] if exc.args else str(exc)
        if isinstance(msg, bytes):
            msg = msg.decode("utf-8", "replace")
        raise ValueError(f"invalid regular expression {pattern!r}: {msg}") from None


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
  | (?P<bq>`[^`]*`)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.\-]*)
  | (?P<op>==|!=|<>|>=|<=|&&|\|\||[=<>{}()\[\],!])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


def _unquote(s: str) -> str:
    body = s[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def _tokens(text: str) -> list[tuple[str, Any, int]]:
    out: list[tuple[str, Any, int]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ConditionError(f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup
        val = m.group()
        if kind == "str":
            out.append(("lit", _unquote(val), pos))
        elif kind == "num":
            out.append(("lit", float(val) if any(c in val for c in ".eE") else int(val), pos))
        elif kind == "bq":
            out.append(("key", val[1:-1], pos))
        elif kind == "ident":
            low = val.lower()
            if low in ("true", "false"):
                out.append(("lit", low == "true", pos))
            elif low == "nil" or low == "null":
                out.append(("lit", None, pos))
            elif low in ("and", "or", "not", "in", "notin", "match", "notmatch"):
                out.append(("kw", low, pos))
            else:
                out.append(("key", val, pos))
        elif kind == "op":
            out.append(("op", {"&&": "and", "||": "or", "<>": "!=", "==": "="}.get(val, val), pos))
        pos = m.end()
    out.append(("end", None, len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, Any, int]:
        return self.toks[self.i]

    def next(self) -> tuple[str, Any, int]:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, value: Any, what: str) -> None:
        tok = self.next()
        if tok[0] != kind or tok[1] != value:
            raise ConditionError(f"expected {what}, found {_show(tok)}", tok[2])

    def is_(self, kind: str, *values: Any) -> bool:
        tok = self.peek()
        return tok[0] == kind and (not values or tok[1] in values)

    def condition(self) -> Pred:
        clauses: list[Pred] = []
        while not self.is_("end"):
            if clauses and (self.is_("op", ",") or self.is_("kw", "or")):
                self.next()
            tok = self.peek()
            if not self.is_("op", "{"):
                raise ConditionError(f"expected '{{' to start a condition clause, found {_show(tok)}", tok[2])
            self.next()
            clauses.append(self.expr())
            self.expect("op", "}", "'}' to close the condition clause")
        if not clauses:
            raise ConditionError("empty condition: expected '{ ... }'", 0)
        if len(clauses) == 1:
            return clauses[0]
        return lambda p, cs=tuple(clauses): any(c(p) for c in cs)

    def expr(self) -> Pred:
        terms = [self.term()]
        while self.is_("kw", "or") or self.is_("op", "or"):
            self.next()
            terms.append(self.term())
        if len(terms) == 1:
            return terms[0]
        return lambda p, ts=tuple(terms): any(t(p) for t in ts)

    def term(self) -> Pred:
        factors = [self.factor()]
        while self.is_("kw", "and") or self.is_("op", "and"):
            self.next()
            factors.append(self.factor())
        if len(factors) == 1:
            return factors[0]
        return lambda p, fs=tuple(factors): all(f(p) for f in fs)

    def factor(self) -> Pred:
        if self.is_("kw", "not") or self.is_("op", "!"):
            self.next()
            inner = self.factor()
            return lambda p: not inner(p)
        if self.is_("op", "("):
            self.next()
            inner = self.expr()
            self.expect("op", ")", "')' to close the parenthesis")
            return inner
        return self.comparison()

    def comparison(self) -> Pred:
        tok = self.next()
        if tok[0] != "key":
            raise ConditionError(f"expected a tag or field name, found {_show(tok)}", tok[2])
        key = tok[1]
        op_tok = self.next()
        kind, op, at = op_tok
        if kind == "kw" and op == "not":
            nxt = self.next()
            if nxt[0] != "kw" or nxt[1] not in ("in", "match"):
                raise ConditionError(f"expected 'in' or 'match' after 'not', found {_show(nxt)}", nxt[2])
            op = "not" + nxt[1]
            kind = "kw"
        if kind == "op" and op in ("=", "!=", ">", ">=", "<", "<="):
            lit = self.next()
            if lit[0] != "lit":
                raise ConditionError(f"expected a value after '{op}', found {_show(lit)}", lit[2])
            if lit[1] is None and op not in ("=", "!="):
                raise ConditionError(f"nil can only be compared with = or !=, not {op}", lit[2])
            return _compare(key, op, lit[1])
        if kind == "kw" and op in ("in", "notin"):
            values = self.list_()
            return _membership(key, op == "in", values)
        if kind == "kw" and op in ("match", "notmatch"):
            if self.is_("op", "["):
                pats = self.list_()
            else:
                lit = self.next()
                if lit[0] != "lit" or not isinstance(lit[1], str):
                    raise ConditionError(f"expected a regular expression string, found {_show(lit)}", lit[2])
                pats = [(lit[1], lit[2])]
            compiled = []
            for pat, pos in pats:
                if not isinstance(pat, str):
                    raise ConditionError("match patterns must be strings", pos)
                try:
                    compiled.append(compile_re2(pat))
                except ValueError as exc:
                    raise ConditionError(str(exc), pos) from None
            return _regex(key, op == "match", tuple(compiled))
        raise ConditionError(
            f"expected an operator (= != > >= < <= in notin match notmatch) after {key!r}, found {_show(op_tok)}", at
        )

    def list_(self) -> list[tuple[Any, int]]:
        self.expect("op", "[", "'[' to start a list")
        out: list[tuple[Any, int]] = []
        while not self.is_("op", "]"):
            tok = self.next()
            if tok[0] != "lit":
                raise ConditionError(f"expected a value in the list, found {_show(tok)}", tok[2])
            out.append((tok[1], tok[2]))
            if self.is_("op", ","):
                self.next()
            elif not self.is_("op", "]"):
                t = self.peek()
                raise ConditionError(f"expected ',' or ']' in the list, found {_show(t)}", t[2])
        self.next()
        return out


def _show(tok: tuple[str, Any, int]) -> str:
    if tok[0] == "end":
        return "end of condition"
    return repr(tok[1])


def _lookup(p: Point, key: str) -> Any:
    v = p.tags.get(key, _MISSING)
    if v is _MISSING:
        v = p.fields.get(key, _MISSING)
        if v is _MISSING and key in _NAME_KEYS:
            return p.name
    return v


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _compare(key: str, op: str, lit: Any) -> Pred:
    if lit is None:
        want_missing = op == "="
        return lambda p: (_lookup(p, key) in (_MISSING, None)) == want_missing

    def cmp(v: Any) -> bool:
        if v is _MISSING or v is None:
            return False
        if isinstance(lit, bool) or isinstance(v, bool):
            if not (isinstance(lit, bool) and isinstance(v, bool)):
                return op == "!="
            return (v == lit) if op == "=" else (v != lit) if op == "!=" else False
        if _is_num(lit):
            if not _is_num(v):
                return op == "!="
        elif not isinstance(v, str) or not isinstance(lit, str):
            return op == "!="
        if op == "=":
            return v == lit
        if op == "!=":
            return v != lit
        if op == ">":
            return v > lit
        if op == ">=":
            return v >= lit
        if op == "<":
            return v < lit
        return v <= lit

    def pred(p: Point) -> bool:
        v = _lookup(p, key)
        if v is _MISSING:
            return False
        return cmp(v)

    return pred


def _membership(key: str, positive: bool, values: list[tuple[Any, int]]) -> Pred:
    members = []
    for v, _pos in values:
        members.append(v)

    def contains(v: Any) -> bool:
        for m in members:
            if isinstance(m, bool) or isinstance(v, bool):
                if isinstance(m, bool) and isinstance(v, bool) and m == v:
                    return True
            elif _is_num(m) and _is_num(v):
                if m == v:
                    return True
            elif isinstance(m, str) and isinstance(v, str) and m == v:
                return True
        return False

    def pred(p: Point) -> bool:
        v = _lookup(p, key)
        if v is _MISSING or v is None:
            return False
        return contains(v) == positive

    return pred


def _regex(key: str, positive: bool, patterns: tuple) -> Pred:
    def pred(p: Point) -> bool:
        v = _lookup(p, key)
        if not isinstance(v, str):
            return False
        hit = any(r.search(v) is not None for r in patterns)
        return hit == positive

    return pred


def compile_condition(text: str) -> Pred:
    """Compile a condition into `predicate(point) -> bool`; raises ConditionError."""
    return _Parser(text).condition()
