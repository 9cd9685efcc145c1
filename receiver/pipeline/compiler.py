"""Platypus -> Python source -> one Python function per script (`__pl_main(ctx, T, F)`).

A run is one call of that function with the Context and the point's tags and fields
dicts; nothing walks a tree at run time. Variables become Python locals (`v_name`); reads
of names that are not variables at that point compile to point reads; a statement's
expressions compile to inline Python where the static types allow (int + int with an
int64 wrap check, `x == "GET"`) and to calls of `ops` helpers otherwise.

Where a helper or built-in call can raise, the generated code starts a new physical line
(inside parentheses) and records the script position of that line, so a runtime error is
mapped back to a script line and column from the traceback at no run-time cost.

Loops decrement a local step counter and check the deadline every LOOP_CHECK_EVERY
iterations (see runtime.budget_check), which bounds a runaway `for ;; {}`.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import math
from typing import Any

from . import convert, ops
from .analysis import (
    ANY, BOOL, DEF, FLOAT, INT, INTLIKE, LIST, MAP, MAYBE, NIL, NUMERIC, STR, Flow, arith_type, assigned_names,
    join, literal_type, merge, var_name,
)
from .calls import CompileContext, bind_call, key_name_of
from .errors import CompileError
from .nodes import (
    Assign, Attr, Binary, Break, Call, Continue, DotRoot, ExprStmt, ForC, ForIn, Ident, If, Index, ListLit,
    Literal, MapLit, MultiAssign, Paren, Script, Slice, Unary, constant_value, is_constant,
)
from .registry import BUILTINS, MISSING, REQUIRED, ArgKind, ScriptRuntimeError

__all__ = ["CompiledCode", "compile_tree", "load_builtins", "LOOP_CHECK_EVERY"]

log = logging.getLogger(__name__)

LOOP_CHECK_EVERY = 256  # loop iterations between two deadline checks
_I64 = "-9223372036854775808 <= ({t} := {a} {op} {b}) <= 9223372036854775807"
_EXACT = float(1 << 53)
_ARITH_FN = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod"}
_ORDER_FN = {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge"}
_NOFOLD = object()
_builtins_loaded = False


def load_builtins() -> None:
    """Import the built-in functions package once (it registers itself); tolerate its absence."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    name = __package__ + ".builtins"
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        log.debug("no %s package: only %d built-ins registered", name, len(BUILTINS))


class CompiledCode:
    """What compile_tree produces: the function, its source and the line -> position map."""

    def __init__(self, main: Any, source: str, line_pos: list, namespace: dict, refs: set) -> None:
        self.main = main
        self.python_source = source
        self.line_pos = line_pos
        self.namespace = namespace
        self.refs = refs


def _base_namespace() -> dict:
    from .runtime import budget_check  # runtime imports this module's constants

    return {
        "_M": MISSING, "_rp": ops.rp, "_rpm": convert.point_value, "_wrap": convert.wrap_int64,
        "_add": ops.add, "_sub": ops.sub, "_mul": ops.mul, "_div": ops.div, "_mod": ops.mod,
        "_idiv": ops.idiv, "_imod": ops.imod, "_fdiv": ops.fdiv, "_neg": ops.neg, "_pos": ops.pos,
        "_eq": ops.eq, "_ne": ops.ne, "_lt": ops.lt, "_le": ops.le, "_gt": ops.gt, "_ge": ops.ge,
        "_and": ops.and_, "_or": ops.or_, "_wb": ops.want_bool, "_in": ops.in_, "_idx": ops.idx,
        "_setidx": ops.setidx, "_augidx": ops.augidx, "_slice": ops.slice_, "_iter": ops.iter_,
        "_mkey": ops.mkey, "_multi_assign": ops.multi_assign, "_budget": budget_check,
        "_NUMT": frozenset({int, float, bool}), "_INF": math.inf, "_NAN": math.nan,
        "__pl_script__": None,
    }


class _Loop:
    __slots__ = ("body_resets",)

    def __init__(self) -> None:
        self.body_resets: list = []


class _Gen:
    """One code generation pass over a parsed script."""

    def __init__(self, tree: Script, tracked: set, mirrored: set, check_cache: dict) -> None:
        self.tree = tree
        self.name = tree.name
        self.tracked = tracked
        self.mirrored = mirrored
        self.managed = tracked | mirrored
        self.check_cache = check_cache
        self.out: list[tuple[int, str, tuple]] = []
        self.positions: list[tuple[int, int]] = []
        self.ns: dict = {}
        self.flow = Flow()
        self.maybe_seen: set = set()
        self.ntmp = 0
        self.loops: list[_Loop] = []
        self.pattern_scopes: list[dict] = [{}]
        self.script_refs: set = set()
        self.has_loops = False
        self.locals: dict[str, str] = {}
        self.fn_names: dict[str, str] = {}

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
            v = f"v_{n}" if n.isascii() and n.isidentifier() else f"v__{len(self.locals)}"
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
            return f"_rp(T, F, {n!r})", ANY
        v = self.vn(n)
        if st[0] == DEF:
            return v, st[1]
        self.maybe_seen.add(n)
        return f"({v} if {v} is not _M else _rp(T, F, {n!r}))", ANY

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
                t = self.tmp()
                return f"({t} if {_I64.format(t=t, a=lc, op=op, b=rc)} else _wrap({t}))", INT
            return f"{self.mark(node)}{'_idiv' if op == '/' else '_imod'}({lc}, {rc})", INT
        if lt in NUMERIC and rt in NUMERIC:
            if op in "+-*":
                return f"({lc} {op} {rc})", FLOAT
            if op == "/":
                return f"{self.mark(node)}_fdiv({lc}, {rc})", FLOAT
        if op == "+" and lt == STR and rt == STR:
            return f"({lc} + {rc})", STR
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
                return f"({ref} {op} {rc} if type({setter}) in _NUMT else {m}{fn}({ref}, {rc}))"
            ref, setter = self.once(rc)
            return f"({lc} {op} {ref} if type({setter}) in _NUMT else {m}{fn}({lc}, {ref}))"
        return f"{self.mark(node)}{fn}({lc}, {rc})"

    def once(self, code: str) -> tuple[str, str]:
        """(reference, first-evaluation form) so that `code` is evaluated once."""
        if code.isidentifier():
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

    # -- statements ----------------------------------------------------------------------
    def block(self, stmts: list, env: dict, ind: int) -> dict:
        writes: dict = {}
        for s in stmts:
            self.stmt(s, env, writes, ind)
        return writes

    def scoped(self, stmts: list, env: dict, ind: int) -> dict:
        """A block that is its own scope: its new variables vanish at its end."""
        start = len(self.out)
        self.pattern_scopes.append({})
        resets = self.scope_enter(assigned_names(stmts), env, ind)
        w = self.block(stmts, env, ind)
        self.emit_resets(resets, ind)
        self.pattern_scopes.pop()
        if len(self.out) == start:
            self.emit(ind, "pass", (0, 0))
        return w

    def scope_enter(self, names: set, env: dict, ind: int) -> list:
        """Reset plan for managed names a scope may create; MAYBE ones get a flag now."""
        resets = []
        for n in sorted(names & self.managed):
            st = env.get(n)
            if st is not None and st[0] == DEF:
                continue
            flag = None
            if st is not None:
                flag = self.tmp()
                self.emit(ind, f"{flag} = {self.vn(n)} is _M", (0, 0))
            resets.append((n, flag))
        return resets

    def emit_resets(self, resets: list, ind: int) -> None:
        for n, flag in resets:
            parts = []
            if n in self.tracked:
                parts.append(f"{self.vn(n)} = _M")
            if n in self.mirrored:
                parts.append(f"_V.pop({n!r}, None)")
            if parts:
                self.emit(ind, (f"if {flag}: " if flag else "") + "; ".join(parts), (0, 0))

    def set_var(self, n: str, code: str) -> str:
        if n in self.mirrored:
            return f"{self.vn(n)} = _V[{n!r}] = ({code})"
        return f"{self.vn(n)} = ({code})"

    def stmt(self, s: Any, env: dict, writes: dict, ind: int) -> None:
        getattr(self, "st_" + type(s).__name__)(s, env, writes, ind)

    def st_Assign(self, s: Assign, env: dict, writes: dict, ind: int) -> None:
        target = s.target
        if isinstance(target, Index):
            return self.index_assign(s, env, ind)
        n = var_name(target.name)
        if s.op == "=":
            c, t = self.ex(s.value, env)
            self.emit(ind, self.set_var(n, c), s)
            env[n] = (DEF, t)
            writes[n] = join(writes.get(n), t)
            return
        cur = env.get(n)
        rc, rt = self.ex(s.value, env)
        if cur is not None and cur[0] == DEF:
            code, t = self.arith(s.op[0], self.vn(n), cur[1], rc, rt, s)
            self.emit(ind, self.set_var(n, code), s)
            env[n] = (DEF, t)
            writes[n] = join(writes.get(n), t)
            return
        # Not certainly a variable: read the point key; no-op when neither exists (§5.2).
        r, p = self.tmp(), self.tmp()
        self.emit(ind, f"{r} = ({rc})", s)
        self.emit(ind, f"{p} = ({self.base_read(target, env)})", s)
        self.emit(ind, f"if {p} is not _M:", s)
        code, _ = self.arith(s.op[0], p, ANY, r, rt, s)
        self.emit(ind + 1, self.set_var(n, code), s)
        env[n] = (MAYBE, ANY)
        self.maybe_seen.add(n)
        writes[n] = ANY

    def index_assign(self, s: Assign, env: dict, ind: int) -> None:
        chain = []
        root: Any = s.target
        while isinstance(root, Index):
            chain.append(root.index)
            root = root.obj
        chain.reverse()
        r = self.tmp()
        self.emit(ind, f"{r} = ({self.ex(s.value, env)[0]})", s)
        keys = "".join(self.ex(k, env)[0] + ", " for k in chain)
        base = self.base_read(root, env)
        m = self.mark(s.target)
        if s.op == "=":
            self.emit(ind, f"({m}_setidx({base}, ({keys}), {r}))", s)
        else:
            self.emit(ind, f"({m}_augidx({base}, ({keys}), {_ARITH_FN[s.op[0]]}, {r}))", s)

    def st_MultiAssign(self, s: MultiAssign, env: dict, writes: dict, ind: int) -> None:
        self.emit(ind, f"({self.mark(s)}_multi_assign())", s)

    def st_ExprStmt(self, s: ExprStmt, env: dict, writes: dict, ind: int) -> None:
        e = s.expr
        if isinstance(e, Call) and e.name == "exit" and not e.args and "exit" in BUILTINS:
            self.emit(ind, "return", s)  # exit() ends the script: a plain return
            return
        self.emit(ind, f"({self.ex(e, env)[0]})", s)

    def st_If(self, s: If, env: dict, writes: dict, ind: int) -> None:
        all_w: dict = {}
        for i, (cond, blk) in enumerate(s.branches):
            c, _ = self.ex(cond, env)
            self.emit(ind, f"{'if' if i == 0 else 'elif'} ({c}):", s if i == 0 else cond)
            for n, t in self.scoped(blk.stmts, dict(env), ind + 1).items():
                all_w[n] = join(all_w.get(n), t)
        if s.orelse is not None:
            self.emit(ind, "else:", s.orelse)
            for n, t in self.scoped(s.orelse.stmts, dict(env), ind + 1).items():
                all_w[n] = join(all_w.get(n), t)
        merge(env, all_w)
        for n, t in all_w.items():
            writes[n] = join(writes.get(n), t)

    def budget(self, ind: int, node: Any) -> None:
        self.has_loops = True
        self.emit(ind, "_bud -= 1", node)
        self.emit(ind, "if not _bud: _bud = _budget(ctx)", node)

    def st_ForIn(self, s: ForIn, env: dict, writes: dict, ind: int) -> None:
        it = s.iterable
        while isinstance(it, Paren):
            it = it.expr
        if isinstance(it, Literal) and type(it.value) is not str:
            kind = "nil" if it.value is None else literal_type(it.value)
            raise self.error(f"cannot iterate over a {kind} literal", it.line, it.col)
        base, _, total = self.flow.for_in(s, env)
        self.maybe_seen |= self.flow.maybe
        x = var_name(s.var.name)
        if isinstance(it, ListLit) and all(isinstance(i, Literal) for i in it.items):
            itcode = "(" + "".join(self.lit(i.value) + ", " for i in it.items) + ")"
        elif isinstance(it, ListLit):
            itcode = self.ex(it, env)[0]  # a fresh list: elements may be mutated through the loop variable
        elif isinstance(it, MapLit) and is_constant(it):
            itcode = "(" + "".join(repr(k.value) + ", " for k, _ in it.pairs) + ")"
        elif isinstance(it, Literal):
            itcode = repr(it.value)
        else:
            itcode = f"{self.mark(s)}_iter({self.ex(it, env)[0]})"
        body_names = assigned_names(s.body.stmts)
        outer = self.scope_enter(body_names | {x}, env, ind)
        self.emit(ind, f"for {self.vn(x)} in ({itcode}):", s)
        if x in self.mirrored:
            self.emit(ind + 1, f"_V[{x!r}] = {self.vn(x)}", s)
        self.budget(ind + 1, s)
        loop = _Loop()
        loop.body_resets = self.scope_enter(body_names, base, ind + 1)
        self.loops.append(loop)
        self.pattern_scopes.append({})
        self.block(s.body.stmts, dict(base), ind + 1)
        self.pattern_scopes.pop()
        self.loops.pop()
        self.emit_resets(loop.body_resets, ind + 1)
        self.emit_resets(outer, ind)
        merge(env, total)
        for n, t in total.items():
            writes[n] = join(writes.get(n), t)

    def st_ForC(self, s: ForC, env: dict, writes: dict, ind: int) -> None:
        _, base, total = self.flow.for_c(s, env)
        self.maybe_seen |= self.flow.maybe
        parts = [p for p in (s.init, s.step) if p is not None]
        outer = self.scope_enter(assigned_names(parts + s.body.stmts), env, ind)
        self.pattern_scopes.append({})
        scope = dict(env)
        if s.init is not None:
            self.stmt(s.init, scope, {}, ind)
        cond = self.ex(s.cond, base)[0] if s.cond is not None else None
        after = dict(base)
        merge(after, total)
        body_names = assigned_names(s.body.stmts)
        flagged = s.step is not None and _has_continue(s.body.stmts)
        if flagged:
            first = self.tmp()
            self.emit(ind, f"{first} = False", s)
            self.emit(ind, "while True:", s)
            self.emit(ind + 1, f"if {first}:", s)
            self.stmt(s.step, dict(after), {}, ind + 2)
            self.emit(ind + 1, "else:", s)
            self.emit(ind + 2, f"{first} = True", s)
            if cond is not None:
                self.emit(ind + 1, f"if not ({cond}):", s.cond)
                self.emit(ind + 2, "break", s.cond)
        else:
            self.emit(ind, f"while ({cond}):" if cond is not None else "while True:", s.cond or s)
        self.budget(ind + 1, s)
        loop = _Loop()
        loop.body_resets = self.scope_enter(body_names, base, ind + 1)
        self.loops.append(loop)
        self.pattern_scopes.append({})
        self.block(s.body.stmts, dict(base), ind + 1)
        self.pattern_scopes.pop()
        self.loops.pop()
        self.emit_resets(loop.body_resets, ind + 1)
        if s.step is not None and not flagged:
            self.stmt(s.step, dict(after), {}, ind + 1)
        self.pattern_scopes.pop()
        self.emit_resets(outer, ind)
        merge(env, total)
        for n, t in total.items():
            writes[n] = join(writes.get(n), t)

    def st_Break(self, s: Break, env: dict, writes: dict, ind: int) -> None:
        if not self.loops:
            raise self.error("'break' outside a loop", s.line, s.col)
        self.emit(ind, "break", s)

    def st_Continue(self, s: Continue, env: dict, writes: dict, ind: int) -> None:
        if not self.loops:
            raise self.error("'continue' outside a loop", s.line, s.col)
        self.emit_resets(self.loops[-1].body_resets, ind)
        self.emit(ind, "continue", s)

    # -- assembly ------------------------------------------------------------------------
    def generate(self) -> tuple[str, list]:
        self.block(self.tree.stmts, {}, 1)
        pre: list[str] = []
        if self.has_loops:
            pre.append(f"_bud = {LOOP_CHECK_EVERY}")
        if self.mirrored:
            pre.append("_V = ctx.vars = {}")
        for n in sorted(self.tracked):
            pre.append(f"{self.vn(n)} = _M")
        lines = ["def __pl_main(ctx, T, F):"]
        line_pos: list = [(0, 0), (0, 0)]
        for p in pre:
            lines.append("    " + p)
            line_pos.append((0, 0))
        for ind, text, pos in self.out:
            lines.append("    " * ind + text)
            line_pos.append(pos)
        if len(lines) == 1:
            lines.append("    pass")
            line_pos.append((0, 0))
        return "\n".join(lines) + "\n", line_pos


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


def _path_root(node: Any) -> Any:
    while isinstance(node, (Attr, Index)):
        node = node.obj
    return node


def _has_continue(stmts: list) -> bool:
    """A `continue` that targets the loop owning `stmts` (not an inner loop's)."""
    for s in stmts:
        if isinstance(s, Continue):
            return True
        if isinstance(s, If):
            blocks = [b for _, b in s.branches] + ([s.orelse] if s.orelse else [])
            if any(_has_continue(b.stmts) for b in blocks):
                return True
    return False


_FOLD_OPS = {
    "+": ops.add, "-": ops.sub, "*": ops.mul, "/": ops.div, "%": ops.mod, "==": ops.eq, "!=": ops.ne,
    "<": ops.lt, "<=": ops.le, ">": ops.gt, ">=": ops.ge,
    "&&": lambda a, b: False if a is False else ops.and_(a, b),
    "||": lambda a, b: True if a is True else ops.or_(a, b),
}


def _mirrored_names(tree: Script) -> set:
    """Variables a built-in may read by key name: assigned somewhere and passed as a KEY argument."""
    keys: set = set()

    def visit(node: Any) -> None:
        if isinstance(node, Call):
            b = BUILTINS.get(node.name)
            if b is not None:
                params = [p for p in b.params if not p.variadic]
                for i, arg in enumerate(node.args):
                    p = None
                    if arg.name is not None:
                        p = next((q for q in params if q.name == arg.name), None)
                    elif i < len(params):
                        p = params[i]
                    if p is not None and p.kind is ArgKind.KEY:
                        k = key_name_of(arg.value)
                        if k is not None:
                            keys.add(k)
        if isinstance(node, (list, tuple)):
            for x in node:
                visit(x)
            return
        if hasattr(node, "__slots__"):
            for f in node.__slots__:
                v = getattr(node, f, None)
                if isinstance(v, (list, tuple)) or hasattr(v, "__slots__"):
                    visit(v)

    visit(tree.stmts)
    return keys & assigned_names(tree.stmts)


def compile_tree(tree: Script) -> CompiledCode:
    """Generate and compile the Python function for a parsed script (raises CompileError)."""
    load_builtins()
    mirrored = _mirrored_names(tree)
    tracked: set = set()
    cache: dict = {}
    for _ in range(4):
        gen = _Gen(tree, tracked, mirrored, cache)
        source, line_pos = gen.generate()
        if gen.maybe_seen <= tracked:
            break
        tracked = tracked | gen.maybe_seen
    ns = _base_namespace()
    ns.update(gen.ns)
    try:
        code = compile(source, f"<platypus {tree.name}>", "exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
        raise CompileError(f"script too complex to compile ({exc.__class__.__name__}: {exc})",
                           script=tree.name) from exc
    exec(code, ns)
    return CompiledCode(ns["__pl_main"], source, line_pos, ns, gen.script_refs)
