"""Platypus parser: tokens -> syntax tree (platypus.md §3), recursive descent.

Precedence, low to high: `||`, `&&`, `in`, comparisons, `+ -`, `* / %`, unary `! - +`,
postfix (call, index, slice, attribute). Errors name what was expected and, for an
unclosed bracket, where it was opened: "expected ')' to close the call to grok at line 3".
"""

from __future__ import annotations

from .errors import CompileError
from .lexer import RESERVED, Token, tokenize
from .nodes import (
    Arg, Assign, Attr, Binary, Block, Break, Call, Continue, DotRoot, ExprStmt, ForC, ForIn, Ident, If,
    Index, ListLit, Literal, MapLit, MultiAssign, Paren, Script, Slice, Unary,
)

__all__ = ["parse"]

_CMP_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_ASSIGN_OPS = frozenset({"=", "+=", "-=", "*=", "/=", "%="})
_MAX_DEPTH = 48  # nesting limit (brackets + blocks); each level costs ~15 Python frames here


class _Parser:
    def __init__(self, tokens: list[Token], source: str, name: str) -> None:
        self.toks = tokens
        self.i = 0
        self.name = name
        self.lines = source.split("\n")
        self.source = source
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def is_op(self, value: str) -> bool:
        t = self.toks[self.i]
        return t.kind == "op" and t.value == value

    def is_kw(self, value: str) -> bool:
        t = self.toks[self.i]
        return t.kind == "kw" and t.value == value

    def error(self, message: str, tok: Token | None = None) -> CompileError:
        t = tok or self.tok
        src_line = self.lines[t.line - 1] if 0 < t.line <= len(self.lines) else ""
        return CompileError(message, t.line, t.col, src_line, self.name)

    def expect_op(self, value: str, context: str) -> Token:
        if not self.is_op(value):
            raise self.error(f"expected '{value}' {context}, found {self.tok.describe()}")
        return self.advance()

    def skip_newlines(self) -> None:
        while self.tok.kind == "newline" and self.tok.value == "\n":
            self.i += 1

    def skip_separators(self) -> None:
        while self.tok.kind == "newline":
            self.i += 1

    def enter(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error("script nests too deeply")

    # -- statements ----------------------------------------------------------------------
    def script(self) -> Script:
        stmts = []
        self.skip_separators()
        while self.tok.kind != "eof":
            stmts.append(self.statement())
            if self.tok.kind == "eof":
                break
            if self.tok.kind != "newline":
                raise self.error(f"expected end of line or ';' after the statement, found {self.tok.describe()}")
            self.skip_separators()
        return Script(stmts, self.source, self.name, self.lines)

    def block(self, what: str, opener: Token) -> Block:
        start = self.tok
        if not self.is_op("{"):
            raise self.error(f"expected '{{' to start the body of the {what} at line {opener.line}, "
                             f"found {self.tok.describe()}")
        self.advance()
        self.enter()
        stmts = []
        self.skip_separators()
        while not self.is_op("}"):
            if self.tok.kind == "eof":
                raise self.error(f"expected '}}' to close the body of the {what} at line {opener.line}, "
                                 "found end of script")
            stmts.append(self.statement())
            if self.is_op("}"):
                break
            if self.tok.kind != "newline":
                raise self.error(f"expected end of line, ';' or '}}' after the statement, found {self.tok.describe()}")
            self.skip_separators()
        self.advance()
        self.depth -= 1
        return Block(stmts, start.line, start.col)

    def statement(self):
        t = self.tok
        if t.kind == "kw":
            if t.value == "if":
                return self.if_stmt()
            if t.value == "for":
                return self.for_stmt()
            if t.value == "break":
                self.advance()
                return Break(t.line, t.col)
            if t.value == "continue":
                self.advance()
                return Continue(t.line, t.col)
            if t.value in ("elif", "else"):
                raise self.error(f"'{t.value}' must follow the '}}' of an if block on the same line")
        return self.simple_statement(allow_multi=True)

    def simple_statement(self, allow_multi: bool = False):
        start = self.tok
        expr = self.expression()
        if self.is_op(",") and allow_multi:
            targets = [expr]
            while self.is_op(","):
                self.advance()
                targets.append(self.expression())
            op = self.tok
            if not (op.kind == "op" and op.value == "="):
                raise self.error(f"expected '=' after the assignment targets, found {op.describe()}")
            self.advance()
            values = [self.expression()]
            while self.is_op(","):
                self.advance()
                values.append(self.expression())
            return MultiAssign(targets, values, op.line, op.col)
        t = self.tok
        if t.kind == "op" and t.value in _ASSIGN_OPS:
            if not _is_target(expr):
                raise self.error("cannot assign to this expression (only a variable or an index "
                                 "like a[0] can be assigned)", start)
            self.advance()
            value = self.expression()
            if self.tok.kind == "op" and self.tok.value in _ASSIGN_OPS:
                raise self.error("assignment is not an expression: one '=' per statement")
            return Assign(expr, t.value, value, t.line, t.col)
        return ExprStmt(expr, start.line, start.col)

    def if_stmt(self) -> If:
        kw = self.advance()
        branches = []
        cond = self.expression()
        branches.append((cond, self.block("if", kw)))
        orelse = None
        while True:
            if self.is_kw("elif"):
                ekw = self.advance()
                cond = self.expression()
                branches.append((cond, self.block("elif", ekw)))
            elif self.is_kw("else"):
                ekw = self.advance()
                if self.is_kw("if"):
                    raise self.error("use 'elif', not 'else if'")
                orelse = self.block("else", ekw)
                break
            else:
                break
        return If(branches, orelse, kw.line, kw.col)

    def for_stmt(self):
        kw = self.advance()
        if self.tok.kind == "ident" and self.peek().kind == "kw" and self.peek().value == "in":
            var_tok = self.advance()
            self.check_name(var_tok)
            self.advance()  # in
            iterable = self.expression()
            body = self.block("for loop", kw)
            return ForIn(Ident(var_tok.value, var_tok.line, var_tok.col, var_tok.quoted), iterable, body,
                         kw.line, kw.col)
        init = cond = step = None
        if not self.is_semicolon():
            init = self.simple_statement()
        self.expect_semicolon("after the init part of the for loop", kw)
        if not self.is_semicolon():
            cond = self.expression()
        self.expect_semicolon("after the condition of the for loop", kw)
        if not self.is_op("{"):
            step = self.simple_statement()
        body = self.block("for loop", kw)
        return ForC(init, cond, step, body, kw.line, kw.col)

    def is_semicolon(self) -> bool:
        return self.tok.kind == "newline" and self.tok.value == ";"

    def expect_semicolon(self, context: str, kw: Token) -> None:
        if not self.is_semicolon():
            raise self.error(f"expected ';' {context} at line {kw.line} "
                             f"(write 'for x in ...' or 'for init; cond; step'), found {self.tok.describe()}")
        self.advance()

    # -- expressions ---------------------------------------------------------------------
    def expression(self):
        self.enter()
        try:
            return self.or_expr()
        finally:
            self.depth -= 1

    def binary_level(self, sub, ops) -> object:
        left = sub()
        while True:
            t = self.tok
            if t.kind == "op" and t.value in ops:
                pass
            elif t.kind == "kw" and t.value in ops:
                pass
            else:
                return left
            self.advance()
            if self.tok.kind in ("newline", "eof") or (self.tok.kind == "op" and self.tok.value in ")]},"):
                raise self.error(f"expected an expression after '{t.value}', found {self.tok.describe()}")
            right = sub()
            left = Binary(t.value, left, right, t.line, t.col)

    def or_expr(self):
        return self.binary_level(self.and_expr, ("||",))

    def and_expr(self):
        return self.binary_level(self.in_expr, ("&&",))

    def in_expr(self):
        return self.binary_level(self.cmp_expr, ("in",))

    def cmp_expr(self):
        return self.binary_level(self.add_expr, _CMP_OPS)

    def add_expr(self):
        return self.binary_level(self.mul_expr, ("+", "-"))

    def mul_expr(self):
        return self.binary_level(self.unary_expr, ("*", "/", "%"))

    def unary_expr(self):
        t = self.tok
        if t.kind == "op" and t.value in ("!", "-", "+"):
            self.advance()
            nxt = self.tok
            if t.value != "!" and nxt.kind in ("int", "float"):
                # A sign directly on a number literal is folded into the literal (§3.2).
                self.advance()
                value = nxt.value
                if t.value == "-":
                    value = -value
                    if type(value) is int and value < -(1 << 63):
                        value = float(value)
                return self.postfix(Literal(value, t.line, t.col))
            self.enter()
            operand = self.unary_expr()
            self.depth -= 1
            return Unary(t.value, operand, t.line, t.col)
        return self.postfix(self.primary())

    def postfix(self, node):
        while True:
            t = self.tok
            if t.kind != "op":
                return node
            if t.value == "(":
                if not isinstance(node, Ident):
                    raise self.error("only a built-in function name can be called", t)
                node = self.call(node)
            elif t.value == "[":
                node = self.subscript(node)
            elif t.value == ".":
                self.advance()
                nt = self.tok
                if nt.kind not in ("ident", "kw"):
                    raise self.error(f"expected a name after '.', found {nt.describe()}")
                self.advance()
                node = Attr(node, nt.value if nt.kind == "ident" else nt.text, nt.line, nt.col)
            else:
                return node

    def subscript(self, obj):
        open_tok = self.advance()
        self.skip_newlines()
        parts: list = []
        current = None
        colons = 0
        while True:
            if self.is_op("]"):
                break
            if self.is_op(":"):
                parts.append(current)
                current = None
                colons += 1
                if colons > 2:
                    raise self.error("a slice has at most two ':'")
                self.advance()
                self.skip_newlines()
                continue
            if current is not None:
                raise self.error(f"expected ']' to close the index opened at line {open_tok.line}, "
                                 f"found {self.tok.describe()}")
            if self.tok.kind == "eof":
                raise self.error(f"expected ']' to close the index opened at line {open_tok.line}, "
                                 "found end of script")
            current = self.expression()
            self.skip_newlines()
        self.advance()
        parts.append(current)
        if colons == 0:
            if parts[0] is None:
                raise self.error("expected an index expression inside '[]'", open_tok)
            return Index(obj, parts[0], open_tok.line, open_tok.col)
        while len(parts) < 3:
            parts.append(None)
        return Slice(obj, parts[0], parts[1], parts[2], open_tok.line, open_tok.col)

    def call(self, fn: Ident) -> Call:
        self.advance()
        args: list[Arg] = []
        seen_named = False
        context = f"to close the call to {fn.name} at line {fn.line}"
        self.skip_newlines()
        while not self.is_op(")"):
            t = self.tok
            if t.kind == "eof":
                raise self.error(f"expected ')' {context}, found end of script")
            if t.kind == "ident" and self.peek().kind == "op" and self.peek().value == "=":
                self.advance()
                self.advance()
                value = self.expression()
                args.append(Arg(t.value, value, t.line, t.col))
                seen_named = True
            else:
                if seen_named:
                    raise self.error(f"positional argument after a named argument in the call to {fn.name}")
                if t.kind == "op" and t.value == "." and self.peek().kind == "op" and self.peek().value == "[":
                    self.advance()
                    value = self.postfix(DotRoot(t.line, t.col))
                else:
                    value = self.expression()
                args.append(Arg(None, value, t.line, t.col))
            self.skip_newlines()
            if self.is_op(","):
                self.advance()
                self.skip_newlines()
            elif not self.is_op(")"):
                raise self.error(f"expected ',' or ')' {context}, found {self.tok.describe()}")
        self.advance()
        return Call(fn.name, args, fn.line, fn.col)

    def primary(self):
        t = self.tok
        k = t.kind
        if k in ("int", "float", "str"):
            self.advance()
            return Literal(t.value, t.line, t.col)
        if k == "kw":
            if t.value in ("true", "false"):
                self.advance()
                return Literal(t.value == "true", t.line, t.col)
            if t.value == "nil":
                self.advance()
                return Literal(None, t.line, t.col)
            raise self.error(f"expected an expression, found keyword '{t.value}'")
        if k == "ident":
            self.check_name(t)
            self.advance()
            return Ident(t.value, t.line, t.col, t.quoted)
        if k == "op":
            if t.value == "(":
                self.advance()
                self.enter()
                self.skip_newlines()
                inner = self.expression()
                self.skip_newlines()
                self.expect_op(")", f"to close the '(' at line {t.line}")
                self.depth -= 1
                return Paren(inner, t.line, t.col)
            if t.value == "[":
                return self.list_literal()
            if t.value == "{":
                return self.map_literal()
            if t.value == ".":
                raise self.error("a leading '.' path such as .[0] is only accepted as a json path argument")
        raise self.error(f"expected an expression, found {t.describe()}")

    def list_literal(self) -> ListLit:
        open_tok = self.advance()
        self.enter()
        items = []
        self.skip_newlines()
        while not self.is_op("]"):
            if self.tok.kind == "eof":
                raise self.error(f"expected ']' to close the list opened at line {open_tok.line}, found end of script")
            items.append(self.expression())
            self.skip_newlines()
            if self.is_op(","):
                self.advance()
                self.skip_newlines()
            elif not self.is_op("]"):
                raise self.error(f"expected ',' or ']' to close the list opened at line {open_tok.line}, "
                                 f"found {self.tok.describe()}")
        self.advance()
        self.depth -= 1
        return ListLit(items, open_tok.line, open_tok.col)

    def map_literal(self) -> MapLit:
        open_tok = self.advance()
        self.enter()
        pairs = []
        self.skip_newlines()
        while not self.is_op("}"):
            if self.tok.kind == "eof":
                raise self.error(f"expected '}}' to close the map opened at line {open_tok.line}, found end of script")
            key = self.expression()
            if isinstance(key, Literal) and type(key.value) is not str:
                raise self.error("map keys must be strings", _tok_at(key, self.tok))
            if not self.is_op(":"):
                raise self.error(f"expected ':' after the map key (on the same line), found {self.tok.describe()}")
            self.advance()
            value = self.expression()
            pairs.append((key, value))
            self.skip_newlines()
            if self.is_op(","):
                self.advance()
                self.skip_newlines()
            elif not self.is_op("}"):
                raise self.error(f"expected ',' or '}}' to close the map opened at line {open_tok.line}, "
                                 f"found {self.tok.describe()}")
        self.advance()
        self.depth -= 1
        return MapLit(pairs, open_tok.line, open_tok.col)

    def check_name(self, t: Token) -> None:
        if not t.quoted and t.value.lower() in RESERVED:
            raise self.error(f"'{t.value}' is a reserved word; write `{t.value}` to use it as a name", t)


def _is_target(node) -> bool:
    if isinstance(node, Ident):
        return True
    if isinstance(node, Index):
        obj = node.obj
        while isinstance(obj, Index):
            obj = obj.obj
        return isinstance(obj, Ident)
    return False


def _tok_at(node, fallback: Token) -> Token:
    return Token("op", "", node.line, node.col) if getattr(node, "line", 0) else fallback


def parse(source: str, name: str = "<script>") -> Script:
    """Parse `source` into a Script tree; raises CompileError."""
    return _Parser(tokenize(source, name), source, name).script()
