"""Platypus lexer: source text -> a list of tokens with 1-based line/column (platypus.md §2).

Newlines are tokens (statement separators), except right after an operator, `,`, `(`, `[`,
`{`, `:` or `in`, where the grammar lets an expression continue on the next line; those
newlines (and comments between) are swallowed here so the parser never sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import CompileError

__all__ = ["Token", "tokenize", "KEYWORDS", "RESERVED"]

KEYWORDS = frozenset({"if", "elif", "else", "for", "in", "break", "continue", "true", "false", "nil", "null"})
RESERVED = frozenset({"while", "return", "identifier", "str", "int", "float", "bool", "list", "map"})

# Longest first, so `==` wins over `=`.
_OPERATORS = (
    "+=", "-=", "*=", "/=", "%=", "==", "!=", "<=", ">=", "&&", "||",
    "+", "-", "*", "/", "%", "=", "<", ">", "!", "(", ")", "[", "]", "{", "}", ",", ":", ";", ".",
)
# After these a newline does not end the statement (binary operators, openers, separators).
_CONTINUES = frozenset({
    "+=", "-=", "*=", "/=", "%=", "==", "!=", "<=", ">=", "&&", "||",
    "+", "-", "*", "/", "%", "=", "<", ">", "!", "(", "[", "{", ",", ":",
})
_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
_HEX = "0123456789abcdefABCDEF"


@dataclass(slots=True)
class Token:
    kind: str  # "ident", "int", "float", "str", "op", "kw", "newline", "eof"
    value: Any  # ident name, literal value, operator text, keyword (lower case)
    line: int
    col: int
    quoted: bool = False  # a backquoted identifier
    text: str = ""  # raw source text (numbers, for messages)

    def describe(self) -> str:
        if self.kind == "eof":
            return "end of script"
        if self.kind == "newline":
            return "end of line" if self.value == "\n" else "';'"
        if self.kind in ("op", "kw"):
            return f"'{self.value}'"
        if self.kind == "ident":
            return f"identifier '{self.value}'"
        if self.kind == "str":
            return "string literal"
        return f"number {self.text}"


def _is_ident_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ord(ch) >= 0x80


def _is_ident_char(ch: str) -> bool:
    return _is_ident_start(ch) or ("0" <= ch <= "9")


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ("0" <= ch <= "9")


class _Lexer:
    def __init__(self, source: str, script: str) -> None:
        self.src = source
        self.script = script
        self.lines = source.split("\n")
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.tokens: list[Token] = []

    def error(self, message: str, pos: int | None = None) -> CompileError:
        pos = self.pos if pos is None else pos
        line = self.src.count("\n", 0, pos) + 1
        col = pos - (self.src.rfind("\n", 0, pos) + 1) + 1
        return CompileError(message, line, col, self.lines[line - 1] if line <= len(self.lines) else "", self.script)

    def col(self, pos: int) -> int:
        return pos - self.line_start + 1

    def newline_at(self, pos: int) -> None:
        self.line += 1
        self.line_start = pos + 1

    def add(self, kind: str, value: Any, start: int, line: int, col: int, **kw: Any) -> None:
        self.tokens.append(Token(kind, value, line, col, **kw))

    def swallowing(self) -> bool:
        """True if a newline here continues the expression (after an operator or `in`)."""
        if not self.tokens:
            return False
        last = self.tokens[-1]
        return (last.kind == "op" and last.value in _CONTINUES) or (last.kind == "kw" and last.value == "in")

    def run(self) -> list[Token]:
        src = self.src
        n = len(src)
        while self.pos < n:
            ch = src[self.pos]
            start = self.pos
            if ch in " \t\r":
                self.pos += 1
            elif ch == "#":
                end = src.find("\n", self.pos)
                self.pos = n if end < 0 else end
            elif ch == "\n":
                if not self.swallowing():
                    self.add("newline", "\n", start, self.line, self.col(start))
                self.newline_at(start)
                self.pos += 1
            elif ch == ";":
                self.add("newline", ";", start, self.line, self.col(start))
                self.pos += 1
            elif "0" <= ch <= "9":
                self.number()
            elif ch == '"' or ch == "'":
                if src.startswith(ch * 3, self.pos):
                    self.multiline_string()
                else:
                    self.string(ch)
            elif ch == "`":
                end = src.find("`", self.pos + 1)
                if end < 0:
                    raise self.error("unterminated quoted identifier (missing closing '`')")
                name = src[self.pos + 1:end]
                line, col = self.line, self.col(start)
                for i in range(self.pos + 1, end):
                    if src[i] == "\n":
                        self.newline_at(i)
                self.add("ident", name, start, line, col, quoted=True, text=src[start:end + 1])
                self.pos = end + 1
            elif _is_ident_start(ch):
                end = self.pos + 1
                while end < n and _is_ident_char(src[end]):
                    end += 1
                word = src[self.pos:end]
                low = word.lower()
                if low in KEYWORDS:
                    self.add("kw", "nil" if low == "null" else low, start, self.line, self.col(start), text=word)
                elif low in ("inf", "nan"):
                    self.add("float", float(low), start, self.line, self.col(start), text=word)
                else:
                    self.add("ident", word, start, self.line, self.col(start), text=word)
                self.pos = end
            else:
                self.operator()
        self.tokens.append(Token("eof", None, self.line, self.col(self.pos)))
        return self.tokens

    def operator(self) -> None:
        src, start = self.src, self.pos
        for op in _OPERATORS:
            if src.startswith(op, start):
                self.add("op", op, start, self.line, self.col(start))
                self.pos += len(op)
                return
        ch = src[start]
        if ch == "&":
            raise self.error("unexpected character '&' (the logical and operator is '&&')")
        if ch == "|":
            raise self.error("unexpected character '|' (the logical or operator is '||')")
        raise self.error(f"unexpected character {ch!r}")

    def number(self) -> None:
        src, start, n = self.src, self.pos, len(self.src)
        pos = start
        digits = "0123456789"
        if src[pos] == "0" and pos + 1 < n and src[pos + 1] in "xX":
            digits = _HEX
            pos += 2
        while pos < n and src[pos] in digits:
            pos += 1
        if pos < n and src[pos] == ".":
            pos += 1
            while pos < n and src[pos] in digits:
                pos += 1
        if pos < n and src[pos] in "eE" and digits != _HEX:
            pos += 1
            if pos < n and src[pos] in "+-":
                pos += 1
            while pos < n and src[pos] in "0123456789":
                pos += 1
        if pos < n and _is_alnum(src[pos]):
            end = pos
            while end < n and _is_alnum(src[end]):
                end += 1
            raise self.error(f"invalid number {src[start:end]!r}", start)
        text = src[start:pos]
        value = parse_number(text)
        if value is None:
            raise self.error(f"invalid number {text!r}", start)
        kind = "int" if type(value) is int else "float"
        self.add(kind, value, start, self.line, self.col(start), text=text)
        self.pos = pos

    def multiline_string(self) -> None:
        src, start = self.src, self.pos
        line, col = self.line, self.col(start)
        pos = start + 3
        n = len(src)
        # The closing delimiter is the first run of three quote characters of either kind.
        q = "\"'"
        while True:
            if pos + 3 > n:
                raise self.error("unterminated multi-line string", start)
            if src[pos] in q and src[pos + 1] in q and src[pos + 2] in q:
                break
            pos += 1
        content = src[start + 3:pos]
        for i in range(start, pos):
            if src[i] == "\n":
                self.newline_at(i)
        self.add("str", content, start, line, col, text=src[start:pos + 3])
        self.pos = pos + 3

    def string(self, quote: str) -> None:
        src, start, n = self.src, self.pos, len(self.src)
        line, col = self.line, self.col(start)
        pos = start + 1
        buf = bytearray()
        plain_from = pos
        while True:
            if pos >= n or src[pos] == "\n":
                raise self.error("unterminated string literal", start)
            ch = src[pos]
            if ch == quote:
                buf += src[plain_from:pos].encode("utf-8")
                pos += 1
                break
            if ch != "\\":
                pos += 1
                continue
            buf += src[plain_from:pos].encode("utf-8")
            esc_at = pos
            pos += 1
            if pos >= n:
                raise self.error("unterminated string literal", start)
            e = src[pos]
            if e in _SIMPLE_ESCAPES:
                buf.append(_SIMPLE_ESCAPES[e])
                pos += 1
            elif e == quote:
                buf += e.encode()
                pos += 1
            elif e in "01234567":
                digs = src[pos:pos + 3]
                if len(digs) < 3 or any(d not in "01234567" for d in digs):
                    raise self.error("octal escape needs three octal digits", esc_at)
                v = int(digs, 8)
                if v > 255:
                    raise self.error(f"octal escape value {v} > 255", esc_at)
                buf.append(v)
                pos += 3
            elif e in "xXuU":
                width = {"x": 2, "X": 2, "u": 4, "U": 8}[e]
                digs = src[pos + 1:pos + 1 + width]
                if len(digs) < width or any(d not in _HEX for d in digs):
                    raise self.error(f"\\{e} escape needs {width} hex digits", esc_at)
                v = int(digs, 16)
                if e in "xX":
                    buf.append(v)
                else:
                    if v > 0x10FFFF or 0xD800 <= v < 0xE000:
                        raise self.error("escape sequence is an invalid Unicode code point", esc_at)
                    buf += chr(v).encode("utf-8")
                pos += 1 + width
            else:
                raise self.error(f"unknown escape sequence '\\{e}'", esc_at)
            plain_from = pos
        value = buf.decode("utf-8", "replace")
        self.add("str", value, start, line, col, text=src[start:pos])
        self.pos = pos


INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def parse_number(text: str) -> int | float | None:
    """Go `ParseInt(text, 0, 64)` with base detection, else `ParseFloat`; None if neither."""
    t = text
    if t[:2] in ("0x", "0X"):
        body = t[2:]
        if body and all(c in _HEX for c in body):
            v = int(body, 16)
            return v if v <= INT64_MAX else None
        return None
    if "." not in t and "e" not in t and "E" not in t:
        if len(t) > 1 and t[0] == "0":
            if all(c in "01234567" for c in t):
                v = int(t, 8)
                if v <= INT64_MAX:
                    return v
        else:
            v = int(t)
            if v <= INT64_MAX:
                return v
    try:
        f = float(t)
    except ValueError:
        return None
    if f in (float("inf"), float("-inf")):
        return None  # Go's ParseFloat reports a range error
    return f


def tokenize(source: str, script: str = "<script>") -> list[Token]:
    """Split `source` into tokens; raises CompileError with the position of a lexical error."""
    return _Lexer(source, script).run()
