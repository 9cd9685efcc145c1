"""Expression half of the code generator: Platypus expressions -> Python expression text.

`ExprGen.ex(node, env)` returns (python_code, static_type). Static types (analysis.py)
pick inline code where it is exact: `a + b` on ints with an inline int64 overflow check
(skipped when the operands' ranges are known), `==` against a number literal, point reads
that return plain field values directly; everything else calls an `ops` helper. A call
that may raise is prefixed with a position marker so that it starts its own line in the
generated source (see compiler.py); built-in calls are bound and checked here. Two hot
forms compile inline: `m["key"]` on a map is a dict.get, and add_key(k, value) stores a scalar
straight into the fields (Context.set_field for tags and list/map values).
"""

from __future__ import annotations

import ast
import difflib
import math
from typing import Any

from . import ops
from .analysis import (
    ANY, BOOL, DEF, FLOAT, INT, INTLIKE, LIST, MAP, NIL, NUMERIC, STR, arith_type, literal_type, var_name,
)
from .calls import CompileContext, bind_call
from .errors import CompileError
from .nodes import (
    Assign, Attr, Binary, Call, DotRoot, Ident, Index, ListLit, Literal, MapLit, Paren, Slice, Unary,
)
from .registry import BUILTINS, ArgKind, ScriptRuntimeError

__all__ = ["ExprGen", "ARITH_FN", "inline_add_key_stmt"]

_I64 = "-9223372036854775808 <= ({t} := {a} {op} {b}) <= 9223372036854775807"
_EXACT = float(1 << 53)
ARITH_FN = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod"}
_ARITH_FN = ARITH_FN
_ORDER_FN = {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}
_NOFOLD = object()


class ExprGen:
    """Mixin of the generator: needs `tree`, `name`, `out`, `positions`, `ns`, `ntmp`, `locals`,
    `fn_names`, `bounds`, `check_cache`, `pattern_scopes`, `maybe_seen` on the instance."""

    # -- plumbing ------------------------------------------------------------------------
    def error(self, message: str, line: int, col: int) -> CompileError:
        lines = self.tree.lines
        src = lines[line - 1] if 0 < line <= len(lines) else ""
        return CompileError(message, line, col, src, self.name)

    def emit(self, ind: int, text: str, node: Any) -> None:
        pos = (getattr(node, "line", 0), getattr(node, "col", 0)) if not isinstance(node, tuple) else node
        parts = text.split("\x00")
        self.out.append((ind, parts[0], pos))
        for i in range(1, len(parts), 2):
            self.out.append((ind + 1, parts[i + 1], self.positions[int(parts[i])]))

    def mark(self, node: Any) -> str:
        self.positions.append((node.line, node.col))
        return f"\x00{len(self.positions) - 1}\x00"

    def tmp(self) -> str:
        self.ntmp += 1
        return f"_t{self.ntmp}"

    def const(self, value: Any) -> str:
        name = f"K{len(self.ns)}"
        self.ns[name] = value
        return name

    def vn(self, n: str) -> str:
        v = self.locals.get(n)
        if v is None:
            # ASCII names keep a readable `v_name`; any other name gets a numbered `u_N` (no clash).
            v = f"v_{n}" if n.isascii() and n.isidentifier() else f"u_{len(self.locals)}"
            self.locals[n] = v
        return v

    def lit(self, v: Any) -> str:
        t = type(v)
        if t is bool or v is None:
            return repr(v)
        if t is float:
            if v != v:
                return "_NAN"
            if v in (math.inf, -math.inf):
                return "_INF" if v > 0 else "(-_INF)"
        if t in (int, float):
            r = repr(v)
            return f"({r})" if r.startswith("-") else r
        if t is str:
            return repr(v)
        return self.const(v)

    # -- expressions ---------------------------------------------------------------------
    def ex(self, node: Any, env: dict) -> tuple[str, str]:
        return getattr(self, "ex_" + type(node).__name__)(node, env)

    def ex_Literal(self, node: Literal, env: dict) -> tuple[str, str]:
        return self.lit(node.value), literal_type(node.value)

    def ex_Ident(self, node: Ident, env: dict) -> tuple[str, str]:
        n = var_name(node.name)
        st = env.get(n)
        if st is None:
            return _point_read(n), ANY
        v = self.vn(n)
        if st[0] == DEF:
            return v, st[1]
        self.maybe_seen.add(n)
        return f"({v} if {v} is not _M else {_point_read(n)})", ANY

    def base_read(self, node: Ident, env: dict) -> str:
        """An index base: the variable, else the point key, else MISSING (an error in _idx)."""
        n = var_name(node.name)
        st = env.get(n)
        if st is None:
            return f"_rpm(T, F, {n!r})"
        v = self.vn(n)
        if st[0] == DEF:
            return v
        self.maybe_seen.add(n)
        return f"({v} if {v} is not _M else _rpm(T, F, {n!r}))"

    def ex_Paren(self, node: Paren, env: dict) -> tuple[str, str]:
        return self.ex(node.expr, env)

    def ex_ListLit(self, node: ListLit, env: dict) -> tuple[str, str]:
        return "[" + ", ".join(self.ex(i, env)[0] for i in node.items) + "]", LIST

    def ex_MapLit(self, node: MapLit, env: dict) -> tuple[str, str]:
        parts = []
        for k, v in node.pairs:
            if isinstance(k, Literal):
                kc = repr(k.value)
            else:
                kc = f"{self.mark(k)}_mkey({self.ex(k, env)[0]})"
            parts.append(f"{kc}: {self.ex(v, env)[0]}")
        return "{" + ", ".join(parts) + "}", MAP

    def ex_Attr(self, node: Attr, env: dict) -> tuple[str, str]:
        if isinstance(_path_root(node), DotRoot):
            raise self.error("a leading '.' path such as .[0] is only accepted as a json path argument",
                             node.line, node.col)
        return "None", NIL  # an attribute path is only a key name; as a value it is nothing (§3.2)

    def ex_DotRoot(self, node: DotRoot, env: dict) -> tuple[str, str]:
        raise self.error("a leading '.' path such as .[0] is only accepted as a json path argument",
                         node.line, node.col)

    def ex_Unary(self, node: Unary, env: dict) -> tuple[str, str]:
        folded = self.fold(node)
        if folded is not _NOFOLD:
            return self.lit(folded), literal_type(folded)
        c, t = self.ex(node.operand, env)
        if node.op == "!":
            return f"(not {c})", BOOL
        if node.op == "-":
            if t == FLOAT:
                return f"(-{c})", FLOAT
            return f"{self.mark(node)}_neg({c})", INT if t in INTLIKE else ANY
        if t in (INT, FLOAT):
            return c, t
        if t == BOOL:
            return f"(+{c})", INT
        return f"{self.mark(node)}_pos({c})", ANY

    def ex_Binary(self, node: Binary, env: dict) -> tuple[str, str]:
        op = node.op
        r = node.right
        while isinstance(r, Paren):
            r = r.expr
        if op in ("/", "%") and isinstance(r, Literal) and type(r.value) in (int, float) and r.value == 0:
            raise self.error("division by zero (the divisor is the literal 0)", node.line, node.col)
        folded = self.fold(node)
        if folded is not _NOFOLD:
            return self.lit(folded), literal_type(folded)
        if op in ("&&", "||"):
            return self.logic(node, env)
        lc, lt = self.ex(node.left, env)
        rc, rt = self.ex(node.right, env)
        if op in _ARITH_FN:
            return self.arith(op, lc, lt, rc, rt, node)
        if op in ("==", "!="):
            return self.equality(node, lc, lt, rc, rt), BOOL
        if op in _ORDER_FN:
            return self.order(node, lc, lt, rc, rt), BOOL
        if (rt == STR or rt == MAP) and lt == STR:
            return f"({lc} in {rc})", BOOL
        return f"{self.mark(node)}_in({lc}, {rc})", BOOL

    def arith(self, op: str, lc: str, lt: str, rc: str, rt: str, node: Any) -> tuple[str, str]:
        if lt in INTLIKE and rt in INTLIKE:
            if op in "+-*":
                if _fits(self.interval(node)):
                    return f"({lc} {op} {rc})", INT  # both ranges known: it cannot overflow
                t = self.tmp()
                return f"({t} if {_I64.format(t=t, a=lc, op=op, b=rc)} else _wrap({t}))", INT
            d = _positive_int_literal(node.right) if isinstance(node, Binary) else None
            if d is not None and lt == INT:
                # Truncating division / dividend-signed remainder by a positive constant, inline.
                pyop = "//" if op == "/" else "%"
                left = self.interval(node.left)
                if left is not None and left[0] >= 0:
                    return f"({lc} {pyop} {d})", INT
                ref, first = self.once(lc)
                return f"({ref} {pyop} {d} if {first} >= 0 else -(-{ref} {pyop} {d}))", INT
            return f"{self.mark(node)}{'_idiv' if op == '/' else '_imod'}({lc}, {rc})", INT
        if lt in NUMERIC and rt in NUMERIC:
            if op in "+-*":
                return f"({lc} {op} {rc})", FLOAT
            if op == "/":
                return f"{self.mark(node)}_fdiv({lc}, {rc})", FLOAT
        if op == "+" and lt == STR and rt == STR:
            return f"({lc} + {rc})", STR
        if op in "+-*" and lt in (INT, ANY) and rt in (INT, ANY):
            # Unknown types at compile time: try int op int inline, else the exact helper.
            ra, fa = self.once(lc)
            rb, fb = self.once(rc)
            checks = []  # every check runs (`&`, no short cut) so both operands are evaluated, in order
            for f, r, t in ((fa, ra, lt), (fb, rb, rt)):
                if t == ANY:
                    checks.append(f"(({f}).__class__ is int)")
                elif f != r:
                    checks.append(f"(({f}) is not None)")  # an int: only evaluates it into its temp
            t = self.tmp()
            guard = " & ".join(checks)
            return (f"({t} if ({guard}) and {_I64.format(t=t, a=ra, op=op, b=rb)} "
                    f"else {self.mark(node)}{_ARITH_FN[op]}({ra}, {rb}))"), arith_type(op, lt, rt)
        return f"{self.mark(node)}{_ARITH_FN[op]}({lc}, {rc})", arith_type(op, lt, rt)

    def equality(self, node: Binary, lc: str, lt: str, rc: str, rt: str) -> str:
        neg = node.op == "!="
        if _is_nil(node.left) or _is_nil(node.right) or lt == NIL or rt == NIL:
            left_nil = _is_nil(node.left) or lt == NIL
            other, other_node = (rc, node.right) if left_nil else (lc, node.left)
            while isinstance(other_node, Paren):
                other_node = other_node.expr
            if isinstance(other_node, (Literal, ListLit, MapLit)):
                is_nil = isinstance(other_node, Literal) and other_node.value is None
                return repr(is_nil != neg)
            return f"({other} is {'not ' if neg else ''}None)"
        if (lt == STR or rt == STR or (lt == FLOAT and rt == FLOAT) or (lt == BOOL and rt == BOOL)
                or _exact_literal(node.left) or _exact_literal(node.right)):
            return f"({lc} {node.op} {rc})"
        return f"{self.mark(node)}{'_ne' if neg else '_eq'}({lc}, {rc})"

    def order(self, node: Binary, lc: str, lt: str, rc: str, rt: str) -> str:
        op = node.op
        if (lt in INTLIKE and rt in INTLIKE) or (lt == FLOAT and rt == FLOAT):
            return f"({lc} {op} {rc})"
        fn = _ORDER_FN[op]
        lit_right, lit_left = _exact_literal(node.right), _exact_literal(node.left)
        if lit_right or lit_left:
            other_t = lt if lit_right else rt
            if other_t in NUMERIC:
                return f"({lc} {op} {rc})"
            m = self.mark(node)
            if lit_right:
                ref, setter = self.once(lc)
                return f"({ref} {op} {rc} if ({setter}).__class__ in _NUMT else {m}{fn}({ref}, {rc}))"
            ref, setter = self.once(rc)
            return f"({lc} {op} {ref} if ({setter}).__class__ in _NUMT else {m}{fn}({lc}, {ref}))"
        return f"{self.mark(node)}{fn}({lc}, {rc})"

    def once(self, code: str) -> tuple[str, str]:
        """(reference, first-evaluation form) so that `code` is evaluated once."""
        if code.isidentifier() or _is_constant_code(code):
            return code, code
        t = self.tmp()
        return t, f"({t} := {code})"

    def logic(self, node: Binary, env: dict) -> tuple[str, str]:
        lc, lt = self.ex(node.left, env)
        rc, rt = self.ex(node.right, env)
        m = self.mark(node)
        if node.op == "&&":
            if lt == BOOL and rt == BOOL:
                return f"({lc} and {rc})", BOOL
            if lt == BOOL:
                return f"({m}_wb('&&', True, {rc}) if {lc} else False)", BOOL
            t = self.tmp()
            return f"(False if ({t} := {lc}) is False else {m}_and({t}, {rc}))", BOOL
        if lt == BOOL and rt == BOOL:
            return f"({lc} or {rc})", BOOL
        if lt == BOOL:
            return f"(True if {lc} else {m}_wb('||', False, {rc}))", BOOL
        t = self.tmp()
        return f"(True if ({t} := {lc}) is True else {m}_or({t}, {rc}))", BOOL

    def interval(self, node: Any) -> tuple[int, int] | None:
        """The range of an int expression built from literals and bounded loop counters, else None."""
        if isinstance(node, Literal):
            return (node.value, node.value) if type(node.value) is int else None
        if isinstance(node, Paren):
            return self.interval(node.expr)
        if isinstance(node, Ident):
            return self.bounds.get(var_name(node.name))
        if isinstance(node, Unary) and node.op == "-":
            r = self.interval(node.operand)
            return None if r is None else (-r[1], -r[0])
        if isinstance(node, (Binary, Assign)):
            op = node.op[0] if isinstance(node, Assign) else node.op
            left = node.target if isinstance(node, Assign) else node.left
            right = node.value if isinstance(node, Assign) else node.right
            a, b = self.interval(left), self.interval(right)
            if a is None or b is None:
                return None
            if op == "+":
                return a[0] + b[0], a[1] + b[1]
            if op == "-":
                return a[0] - b[1], a[1] - b[0]
            if op == "*":
                prods = [x * y for x in a for y in b]
                return min(prods), max(prods)
            if op in "/%" and b[0] == b[1] and b[0] > 0 and a[0] >= 0:
                return (a[0] // b[0], a[1] // b[0]) if op == "/" else (0, b[0] - 1)
        return None

    def fold(self, node: Any) -> Any:
        """The value of a scalar constant expression, or _NOFOLD (also when it would raise)."""
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Paren):
            return self.fold(node.expr)
        try:
            if isinstance(node, Unary):
                v = self.fold(node.operand)
                if v is _NOFOLD:
                    return _NOFOLD
                return (not v) if node.op == "!" else ops.neg(v) if node.op == "-" else ops.pos(v)
            if isinstance(node, Binary) and node.op != "in":
                a = self.fold(node.left)
                b = self.fold(node.right) if a is not _NOFOLD else _NOFOLD
                if b is _NOFOLD:
                    return _NOFOLD
                return _FOLD_OPS[node.op](a, b)
        except ScriptRuntimeError:
            return _NOFOLD
        return _NOFOLD

    def ex_Call(self, node: Call, env: dict) -> tuple[str, str]:
        return self.call(node, env), ANY

    def ex_Index(self, node: Index, env: dict) -> tuple[str, str]:
        chain = []
        root: Any = node
        while isinstance(root, Index):
            chain.append(root)
            root = root.obj
        if not isinstance(root, Ident):
            raise self.error("indexing is only allowed on a variable or another index (like a[0][\"k\"])",
                             node.line, node.col)
        code = self.base_read(root, env)
        for ix in reversed(chain):
            k = ix.index
            while isinstance(k, Paren):
                k = k.expr
            if isinstance(k, Literal) and type(k.value) is str:
                # m["key"] on a map is a plain dict.get (ops.idx does the rest: errors, lists)
                b, first = self.once(code)
                code = (f"({b}.get({k.value!r}) if ({first}).__class__ is dict "
                        f"else {self.mark(ix)}_idx({b}, {k.value!r}))")
            else:
                code = f"{self.mark(ix)}_idx({code}, {self.ex(ix.index, env)[0]})"
        return code, ANY

    def ex_Slice(self, node: Slice, env: dict) -> tuple[str, str]:
        obj = node.obj
        if not isinstance(obj, (Ident, Literal, ListLit, Call, Slice, Index)):
            raise self.error("slicing is only allowed on a variable, a literal, a list, a call or a slice",
                             node.line, node.col)
        parts = []
        for b in (node.start, node.end, node.step):
            if b is None:
                parts.append("_M")
                continue
            if (isinstance(b, Literal) and type(b.value) in (float, str)) or isinstance(b, (ListLit, MapLit)):
                raise self.error("slice bounds must be integers", b.line, b.col)
            parts.append(self.ex(b, env)[0])
        oc, ot = self.ex(obj, env)
        rtype = ot if ot in (STR, LIST) else ANY
        return f"{self.mark(node)}_slice({oc}, {', '.join(parts)})", rtype

    # -- calls ---------------------------------------------------------------------------
    def call(self, node: Call, env: dict) -> str:
        b = BUILTINS.get(node.name)
        if b is None:
            close = difflib.get_close_matches(node.name, list(BUILTINS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise self.error(f"unknown function '{node.name}'{hint}", node.line, node.col)
        bc = bind_call(self, node, b)
        repl = self.run_check(node, b, bc)
        args = []
        for i, (p, argnode) in enumerate(bc.slots):
            if p.name in repl:
                args.append(self.const(repl[p.name]))
            elif argnode is None:
                args.append(self.lit(p.default) if _scalar(p.default) else self.const(p.default))
            else:
                args.append(self.arg_code(p, argnode, bc.infos[i], env))
        if bc.extra:
            p = b.params[-1]
            for j, argnode in enumerate(bc.extra):
                args.append(self.arg_code(p, argnode, bc.infos[len(bc.slots) + j], env))
        inline = _inline_for(b.name)
        if inline is not None and b.func is inline[0]:
            code = inline[1](self, node, bc, args)
            if code is not None:
                return code
        fname = self.fn_names.get(b.name)
        if fname is None:
            fname = f"B_{b.name}" if b.name.isidentifier() and b.name.isascii() else f"B__{len(self.fn_names)}"
            self.fn_names[b.name] = fname
            self.ns[fname] = b.func
        return f"{self.mark(node)}{fname}(ctx{''.join(', ' + a for a in args)})"

    def arg_code(self, p: Any, argnode: Any, info: Any, env: dict) -> str:
        if p.kind is ArgKind.KEY:
            return repr(info.key_name)
        if p.kind is ArgKind.LIT:
            return self.lit(info.value) if _scalar(info.value) else self.const(info.value)
        return self.ex(argnode, env)[0]

    def run_check(self, node: Call, b: Any, bc: Any) -> dict:
        if b.check is None:
            return {}
        cached = self.check_cache.get(id(node))
        if cached is not None:
            return cached
        cc = CompileContext(self, node, b)
        try:
            result = b.check(cc, bc.infos) or {}
        except CompileError:
            raise
        except Exception as exc:  # a check hook that fails is a rejected call, not a crash
            raise self.error(f"{b.name}(): {exc}", node.line, node.col) from exc
        self.check_cache[id(node)] = result
        return result


def _inline_add_key(gen: ExprGen, node: Call, bc: Any, args: list) -> str | None:
    """add_key(k, value) stores a scalar straight into the fields when `k` is not a tag (what
    Context.set_field does); everything else (tags, list/map values) goes through set_field."""
    if bc.slots[1][1] is None:
        return None
    t, first = gen.once(args[1])
    k = args[0]
    return (f"(F.__setitem__({k}, {t}) if ({first}).__class__ in _SCALAR and {k} not in T "
            f"else {gen.mark(node)}_set_field(ctx, {k}, {t}))")


def inline_add_key_stmt(gen: ExprGen, node: Call, env: dict, ind: int) -> bool:
    """An add_key(k, value) statement as plain statements (a subscript store, no call); False
    when the call is not of that form."""
    b = BUILTINS.get(node.name)
    inline = _inline_for(node.name)
    if b is None or inline is None or b.func is not inline[0] or inline[1] is not _inline_add_key:
        return False
    bc = bind_call(gen, node, b)
    if bc.slots[1][1] is None or gen.run_check(node, b, bc):
        return False
    k = repr(bc.infos[0].key_name)
    t = gen.tmp()
    gen.emit(ind, f"{t} = ({gen.ex(bc.slots[1][1], env)[0]})", node)
    gen.emit(ind, f"if {t}.__class__ in _SCALAR and {k} not in T: F[{k}] = {t}", node)
    gen.emit(ind, f"else: _set_field(ctx, {k}, {t})", node)
    return True


def _inline_grok(gen: ExprGen, node: Call, bc: Any, args: list) -> str | None:
    """grok(key, pattern) on a point field holding a str: the pattern's search and capture
    writer called straight from the script (what the built-in does after ctx.read). The
    built-in itself runs when the key may be a variable of the script, is a tag, or does not
    hold a str."""
    key = bc.infos[0].key_name
    if key in getattr(gen, "managed", ()) or args[2] not in ("True", "False"):
        return None
    g = gen.run_check(node, bc.builtin, bc).get("pattern")
    if g is None:
        return None
    k = repr(key)
    v, m = gen.tmp(), gen.tmp()
    search = gen.const(g.regex.search)
    store = gen.const(g.store if args[2] == "True" else g.store_untrimmed)
    slow = gen.const(bc.builtin.func)
    return (f"({gen.mark(node)}(({m} := {search}({v})) is not None and ({store}({m}, T, F, ctx) or True)) "
            f"if ({v} := F.get({k}, _M)).__class__ is str and {k} not in T "
            f"else {slow}(ctx, {k}, {args[1]}, {args[2]}))")


_INLINE: dict = {}


def _inline_for(name: str) -> tuple | None:
    """(implementation, generator) of a built-in whose calls compile to inline code."""
    if not _INLINE:
        try:
            from .builtins import keys
        except ImportError:  # no built-ins package: nothing to inline
            return None
        _INLINE["add_key"] = (keys.add_key, _inline_add_key)
        from .builtins import grokfns
        _INLINE["grok"] = (grokfns.grok, _inline_grok)
    return _INLINE.get(name)


def _is_constant_code(code: str) -> bool:
    """Generated text that is a plain literal (no side effects, no markers)."""
    if "\x00" in code:
        return False
    try:
        ast.literal_eval(code)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _point_read(n: str) -> str:
    """Read point key `n` as a script value. Inline fast path: a field holding a plain str/int/
    float/bool is returned as is; everything else (tags, uint, bytes, nil, absent) goes through
    ops.rp, which applies §7.1 (tags first)."""
    k = repr(n)
    return f"(_v if (_v := F.get({k}, _M)).__class__ in _PLAIN else _rp(T, F, {k}))"


def _scalar(v: Any) -> bool:
    return v is None or type(v) in (bool, int, float, str)


def _is_nil(node: Any) -> bool:
    while isinstance(node, Paren):
        node = node.expr
    return isinstance(node, Literal) and node.value is None


def _exact_literal(node: Any) -> bool:
    """A number/bool literal for which Python's == and < agree with Go's float64 comparison."""
    while isinstance(node, Paren):
        node = node.expr
    if not isinstance(node, Literal):
        return False
    v = node.value
    if type(v) is bool:
        return True
    if type(v) in (int, float):
        return not (abs(v) >= _EXACT) or v != v or abs(v) == math.inf
    return False


def _fits(r: tuple[int, int] | None) -> bool:
    return r is not None and -(1 << 63) <= r[0] and r[1] < (1 << 63)


def _int_literal(node: Any) -> int | None:
    while isinstance(node, Paren):
        node = node.expr
    return node.value if isinstance(node, Literal) and type(node.value) is int else None


def _positive_int_literal(node: Any) -> int | None:
    while isinstance(node, Paren):
        node = node.expr
    if isinstance(node, Literal) and type(node.value) is int and node.value > 0:
        return node.value
    return None


def _path_root(node: Any) -> Any:
    while isinstance(node, (Attr, Index)):
        node = node.obj
    return node


_FOLD_OPS = {
    "+": ops.add, "-": ops.sub, "*": ops.mul, "/": ops.div, "%": ops.mod, "==": ops.eq, "!=": ops.ne,
    "<": ops.lt, "<=": ops.le, ">": ops.gt, ">=": ops.ge,
    "&&": lambda a, b: False if a is False else ops.and_(a, b),
    "||": lambda a, b: True if a is True else ops.or_(a, b),
}


