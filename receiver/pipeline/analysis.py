"""Static facts the compiler uses to emit fast code: is a variable defined here, and what
type does an expression have.

Scoping (platypus.md §5.2) makes definedness mostly static: a block's new variables vanish
when it ends, so after any block the outer scope is as it was. A variable is therefore
`DEF` (certainly a variable here), absent (certainly not: reads go to the point) or, in two
rare cases, `MAYBE`: a compound assignment to an undefined name (it is created only if the
point has that key) and a C-style `for` step that creates a variable (undefined in the
first iteration). MAYBE names are "tracked" by the compiler with a MISSING sentinel.

Types form a flat lattice (int, float, bool, str, list, map, nil, any); loops iterate to a
fixpoint. A type is only ever a promise about the Python type of the value (`int` means
`type(v) is int`), so the compiler can inline `a + b` and `x == 5` safely.
"""

from __future__ import annotations

from typing import Any

from .nodes import Assign, Attr, Binary, ForC, ForIn, Ident, If, ListLit, Literal, MapLit, Paren, Slice, Unary

__all__ = [
    "ANY", "BOOL", "DEF", "FLOAT", "INT", "LIST", "MAP", "MAYBE", "NIL", "STR", "Flow", "arith_type",
    "assigned_names", "join", "literal_type", "merge", "var_name",
]

ANY, INT, FLOAT, BOOL, STR, LIST, MAP, NIL = "any", "int", "float", "bool", "str", "list", "map", "nil"
DEF, MAYBE = "def", "maybe"
NUMERIC = frozenset({INT, FLOAT, BOOL})
INTLIKE = frozenset({INT, BOOL})


def var_name(name: str) -> str:
    """`_` is an alias of `message` for variables too (§5.1)."""
    return "message" if name == "_" else name


def join(a: str | None, b: str) -> str:
    return b if a is None or a == b else ANY


def literal_type(v: Any) -> str:
    if v is None:
        return NIL
    return {bool: BOOL, int: INT, float: FLOAT, str: STR}[type(v)]


def arith_type(op: str, lt: str, rt: str) -> str:
    """Result type of `lt op rt` when it does not raise."""
    if lt in INTLIKE and rt in INTLIKE:
        return INT
    if lt in NUMERIC and rt in NUMERIC:
        return FLOAT if op != "%" else ANY
    if op == "+" and (lt == STR or rt == STR):
        return STR
    if op in "+-*/" and (lt == FLOAT or rt == FLOAT):
        return FLOAT  # float op anything either is a float or raises
    return ANY


def merge(env: dict, writes: dict) -> None:
    """After a nested scope: outer variables may now hold any of the types written inside."""
    for n, t in writes.items():
        cur = env.get(n)
        if cur is not None:
            env[n] = (cur[0], join(cur[1], t))


def _join_writes(into: dict, w: dict) -> None:
    for n, t in w.items():
        into[n] = join(into.get(n), t)


def assigned_names(stmts: list) -> set:
    """Every variable name a list of statements may assign (nested blocks included)."""
    out: set = set()
    for s in stmts:
        _assigned(s, out)
    return out


def _assigned(s: Any, out: set) -> None:
    if isinstance(s, Assign):
        if isinstance(s.target, Ident):
            out.add(var_name(s.target.name))
    elif isinstance(s, If):
        for _, b in s.branches:
            out |= assigned_names(b.stmts)
        if s.orelse is not None:
            out |= assigned_names(s.orelse.stmts)
    elif isinstance(s, ForIn):
        out.add(var_name(s.var.name))
        out |= assigned_names(s.body.stmts)
    elif isinstance(s, ForC):
        for part in (s.init, s.step):
            if part is not None:
                _assigned(part, out)
        out |= assigned_names(s.body.stmts)


class Flow:
    """Abstract execution of statements over an env {name: (state, type)}.

    `block()` mutates the env it is given (pass a copy for a nested scope) and returns the
    writes {name: joined type} made anywhere inside; the compiler mirrors these rules.
    """

    def __init__(self) -> None:
        self.maybe: set = set()  # names seen in MAYBE state

    # -- expressions --------------------------------------------------------------------
    def type_of(self, node: Any, env: dict) -> str:
        if isinstance(node, Literal):
            return literal_type(node.value)
        if isinstance(node, Ident):
            cur = env.get(var_name(node.name))
            return cur[1] if cur is not None and cur[0] == DEF else ANY
        if isinstance(node, Paren):
            return self.type_of(node.expr, env)
        if isinstance(node, ListLit):
            return LIST
        if isinstance(node, MapLit):
            return MAP
        if isinstance(node, Unary):
            if node.op == "!":
                return BOOL
            t = self.type_of(node.operand, env)
            return INT if t in INTLIKE else FLOAT if t == FLOAT else ANY
        if isinstance(node, Binary):
            if node.op in ("+", "-", "*", "/", "%"):
                return arith_type(node.op, self.type_of(node.left, env), self.type_of(node.right, env))
            return BOOL
        if isinstance(node, Slice):
            t = self.type_of(node.obj, env)
            return t if t in (STR, LIST) else ANY
        if isinstance(node, Attr):
            return NIL
        return ANY  # calls, indexing

    def elem_type(self, node: Any, env: dict) -> str:
        """Type of the loop variable of `for x in node`."""
        if isinstance(node, ListLit):
            t = None
            for item in node.items:
                t = join(t, self.type_of(item, env))
            return t or ANY
        if isinstance(node, MapLit):
            return STR
        t = self.type_of(node, env)
        return STR if t in (STR, MAP) else ANY

    # -- statements ----------------------------------------------------------------------
    def block(self, stmts: list, env: dict) -> dict:
        writes: dict = {}
        for s in stmts:
            self.stmt(s, env, writes)
        return writes

    def assign(self, s: Assign, env: dict, writes: dict) -> None:
        if not isinstance(s.target, Ident):
            return
        n = var_name(s.target.name)
        rt = self.type_of(s.value, env)
        if s.op == "=":
            env[n] = (DEF, rt)
            writes[n] = join(writes.get(n), rt)
            return
        cur = env.get(n)
        if cur is None:
            env[n] = (MAYBE, ANY)
            self.maybe.add(n)
            writes[n] = ANY
        else:
            t = arith_type(s.op[0], cur[1] if cur[0] == DEF else ANY, rt)
            env[n] = (cur[0], t)
            writes[n] = join(writes.get(n), t)

    def stmt(self, s: Any, env: dict, writes: dict) -> None:
        if isinstance(s, Assign):
            self.assign(s, env, writes)
        elif isinstance(s, If):
            blocks = [b for _, b in s.branches] + ([s.orelse] if s.orelse is not None else [])
            all_w: dict = {}
            for b in blocks:
                _join_writes(all_w, self.block(b.stmts, dict(env)))
            merge(env, all_w)
            _join_writes(writes, all_w)
        elif isinstance(s, ForIn):
            _, _, w = self.for_in(s, env)
            merge(env, w)
            _join_writes(writes, w)
        elif isinstance(s, ForC):
            _, _, w = self.for_c(s, env)
            merge(env, w)
            _join_writes(writes, w)

    def for_in(self, s: ForIn, env: dict) -> tuple:
        """(body-start env, loop-var type, writes) at the fixpoint."""
        elem = self.elem_type(s.iterable, env)
        x = var_name(s.var.name)
        base = dict(env)
        total: dict = {}
        for _ in range(len(env) + 3):
            body = dict(base)
            body[x] = (DEF, elem)
            w = self.block(s.body.stmts, body)
            w[x] = join(w.get(x), elem)
            _join_writes(total, w)
            changed = False
            for n, t in w.items():
                cur = base.get(n)
                if cur is not None and join(cur[1], t) != cur[1]:
                    base[n] = (cur[0], ANY)
                    changed = True
            if not changed:
                break
        start = dict(base)
        start[x] = (DEF, elem)
        return start, elem, total

    def for_c(self, s: ForC, env: dict) -> tuple:
        """(init-scope env after init, env at each condition check, writes) at the fixpoint."""
        scope = dict(env)
        total: dict = {}
        if s.init is not None:
            self.stmt(s.init, scope, total)
        base = dict(scope)
        for _ in range(len(scope) + 8):
            body = dict(base)
            wb = self.block(s.body.stmts, body)
            after = dict(base)
            merge(after, wb)
            ws: dict = {}
            if s.step is not None:
                self.stmt(s.step, after, ws)
            _join_writes(total, wb)
            _join_writes(total, ws)
            new = dict(base)
            for n, (st, t) in after.items():
                cur = new.get(n)
                if cur is None:
                    new[n] = (MAYBE, ANY)  # created by the step: undefined in the first iteration
                    self.maybe.add(n)
                else:
                    new[n] = (cur[0], join(cur[1], t))
            for n, t in wb.items():
                cur = new.get(n)
                if cur is not None:
                    new[n] = (cur[0], join(cur[1], t))
            if new == base:
                break
            base = new
        return scope, base, total
