"""Platypus syntax tree: the parser builds these, the compiler turns them into Python.

Every node has `line` and `col` (1-based, columns count characters). Built-in `check`
hooks see argument nodes through `ArgInfo.node`; the useful shapes are:

    Literal(value)                 int, float, str, bool or None (nil)
    Ident(name, quoted)            `_` is kept as written (the compiler maps it to `message`)
    Attr(obj, name)                `a.b`; obj is Ident / Attr / Index / DotRoot
    Index(obj, index)              `a[0]`, `a["k"]`
    DotRoot()                      the leading `.` of a json path such as `.[0]`
    ListLit(items), MapLit(pairs), Call(name, args), Unary, Binary, Slice, Paren
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

__all__ = [
    "Arg", "Assign", "Attr", "Binary", "Block", "Break", "Call", "Continue", "DotRoot", "Expr", "ExprStmt",
    "ForC", "ForIn", "Ident", "If", "Index", "ListLit", "Literal", "MapLit", "MultiAssign", "Paren",
    "Script", "Slice", "Stmt", "Unary", "is_constant", "constant_value", "path_of",
]


@dataclass(slots=True, eq=False)
class Literal:
    value: Any
    line: int
    col: int


@dataclass(slots=True, eq=False)
class Ident:
    name: str
    line: int
    col: int
    quoted: bool = False


@dataclass(slots=True, eq=False)
class DotRoot:
    line: int
    col: int


@dataclass(slots=True, eq=False)
class Attr:
    obj: "Expr"
    name: str
    line: int
    col: int


@dataclass(slots=True, eq=False)
class Index:
    obj: "Expr"
    index: "Expr"
    line: int
    col: int


@dataclass(slots=True, eq=False)
class Slice:
    obj: "Expr"
    start: "Expr | None"
    end: "Expr | None"
    step: "Expr | None"
    line: int
    col: int


@dataclass(slots=True, eq=False)
class ListLit:
    items: list
    line: int
    col: int


@dataclass(slots=True, eq=False)
class MapLit:
    pairs: list  # [(key_expr, value_expr)]
    line: int
    col: int


@dataclass(slots=True, eq=False)
class Paren:
    expr: "Expr"
    line: int
    col: int


@dataclass(slots=True, eq=False)
class Unary:
    op: str  # "!", "-", "+"
    operand: "Expr"
    line: int
    col: int


@dataclass(slots=True, eq=False)
class Binary:
    op: str  # "+ - * / % == != < <= > >= && || in"
    left: "Expr"
    right: "Expr"
    line: int  # position of the operator
    col: int


@dataclass(slots=True, eq=False)
class Arg:
    name: str | None  # named argument, else None
    value: "Expr"
    line: int
    col: int


@dataclass(slots=True, eq=False)
class Call:
    name: str
    args: list  # [Arg]
    line: int
    col: int


Expr = Union[Literal, Ident, DotRoot, Attr, Index, Slice, ListLit, MapLit, Paren, Unary, Binary, Call]


@dataclass(slots=True, eq=False)
class Block:
    stmts: list
    line: int
    col: int


@dataclass(slots=True, eq=False)
class Assign:
    target: "Ident | Index"
    op: str  # "=", "+=", "-=", "*=", "/=", "%="
    value: Expr
    line: int  # position of the operator
    col: int


@dataclass(slots=True, eq=False)
class MultiAssign:
    targets: list
    values: list
    line: int
    col: int


@dataclass(slots=True, eq=False)
class ExprStmt:
    expr: Expr
    line: int
    col: int


@dataclass(slots=True, eq=False)
class If:
    branches: list  # [(cond, Block)] for if / elif
    orelse: Block | None
    line: int
    col: int


@dataclass(slots=True, eq=False)
class ForIn:
    var: Ident
    iterable: Expr
    body: Block
    line: int
    col: int


@dataclass(slots=True, eq=False)
class ForC:
    init: "Assign | ExprStmt | None"
    cond: Expr | None
    step: "Assign | ExprStmt | None"
    body: Block
    line: int
    col: int


@dataclass(slots=True, eq=False)
class Break:
    line: int
    col: int


@dataclass(slots=True, eq=False)
class Continue:
    line: int
    col: int


Stmt = Union[Assign, MultiAssign, ExprStmt, If, ForIn, ForC, Break, Continue]


@dataclass(slots=True, eq=False)
class Script:
    stmts: list
    source: str
    name: str
    lines: list = field(default_factory=list)


def is_constant(node: Any) -> bool:
    """A literal, or a list/map literal made only of literals (what LIT parameters accept)."""
    if isinstance(node, Literal):
        return True
    if isinstance(node, ListLit):
        return all(is_constant(i) for i in node.items)
    if isinstance(node, MapLit):
        return all(isinstance(k, Literal) and type(k.value) is str and is_constant(v) for k, v in node.pairs)
    return False


def constant_value(node: Any) -> Any:
    """The Python value of a constant node (fresh lists/dicts)."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, ListLit):
        return [constant_value(i) for i in node.items]
    return {k.value: constant_value(v) for k, v in node.pairs}


def path_of(node: Any) -> list | None:
    """The segments of a key path (`a.b[0]` -> ["a", "b", 0]; `.[0]` -> [0]); None if not a path."""
    if isinstance(node, Ident):
        return [node.name]
    if isinstance(node, DotRoot):
        return []
    if isinstance(node, Attr):
        base = path_of(node.obj)
        return None if base is None else base + [node.name]
    if isinstance(node, Index):
        base = path_of(node.obj)
        if base is None or not isinstance(node.index, Literal) or type(node.index.value) not in (int, str):
            return None
        return base + [node.index.value]
    return None
