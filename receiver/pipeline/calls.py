"""Compile-time handling of built-in calls: binding arguments to parameters, kind checks,
and the `cc` object handed to a built-in's `check(cc, args)` hook (registry.py).

Binding (platypus.md §3.2, §9.1): positional arguments fill the parameters in order (a
trailing variadic parameter takes the rest), then named arguments bind by name; a
positional argument after a named one, an unknown name, a name given twice, a missing
required parameter or too many arguments are positioned CompileErrors. KEY arguments must
be key names (identifier, string literal, attribute/index path), LIT arguments literals.
"""

from __future__ import annotations

from typing import Any

from .errors import CompileError
from .nodes import (
    Attr, Call, DotRoot, Ident, Index, ListLit, Literal, MapLit, constant_value, is_constant, path_of,
)
from .registry import REQUIRED, ArgInfo, ArgKind, Builtin

__all__ = ["CompileContext", "BoundCall", "bind_call", "key_name_of", "node_kind"]


def node_kind(node: Any) -> str:
    """A short name of the argument's syntactic form, for check hooks."""
    if isinstance(node, Literal):
        v = node.value
        if v is None:
            return "nil"
        return {bool: "bool", int: "int", float: "float", str: "str"}[type(v)]
    return {
        Ident: "ident", Attr: "attr", Index: "index", DotRoot: "path", ListLit: "list", MapLit: "map",
        Call: "call",
    }.get(type(node), "expr")


def key_name_of(node: Any) -> str | None:
    """The key name a KEY argument denotes (`_` -> `message`), or None if it is not a key."""
    if isinstance(node, Literal):
        if type(node.value) is str:
            return "message" if node.value == "_" else node.value
        return None
    if isinstance(node, Ident):
        return "message" if node.name == "_" else node.name
    path = path_of(node)
    if path is None:
        return None
    out = "." if isinstance(_root(node), DotRoot) else ""
    for seg in path:
        if type(seg) is int:
            out += f"[{seg}]"
        elif isinstance(seg, str) and out and not out.endswith("."):
            out += "." + seg
        else:
            out += seg
    return out


def _root(node: Any) -> Any:
    while isinstance(node, (Attr, Index)):
        node = node.obj
    return node


class CompileContext:
    """The `cc` of a check hook: positioned errors and the grok pattern scopes (§10.3)."""

    def __init__(self, compiler: Any, call: Call, builtin: Builtin) -> None:
        self._compiler = compiler
        self.call = call
        self.builtin = builtin
        self.script_name = compiler.name

    def error(self, message: str, arg: ArgInfo | None = None) -> CompileError:
        """Raise a CompileError at `arg` (or at the call); returned for `raise cc.error(...)` style too."""
        line, col = (arg.line, arg.column) if arg is not None and arg.line else (self.call.line, self.call.col)
        name = self.builtin.name
        text = message if message.startswith(name) else f"{name}(): {message}"
        raise self._compiler.error(text, line, col)

    def lookup_pattern(self, name: str) -> Any:
        """The pattern `name` defined by add_pattern in this block or an enclosing one, else None."""
        for scope in reversed(self._compiler.pattern_scopes):
            if name in scope:
                return scope[name]
        return None

    def define_pattern(self, name: str, pattern: Any) -> None:
        """Define (or redefine) `name` in the current block scope."""
        self._compiler.pattern_scopes[-1][name] = pattern

    def add_script_ref(self, name: str) -> None:
        """Record that this script runs script `name` (`use`), for the store's bookkeeping."""
        self._compiler.script_refs.add(name)


class BoundCall:
    """A call with every parameter bound: `slots` is a list of (Param, node or None) in params order,
    `extra` the nodes a variadic parameter collected."""

    __slots__ = ("builtin", "slots", "extra", "infos")

    def __init__(self, builtin: Builtin, slots: list, extra: list) -> None:
        self.builtin = builtin
        self.slots = slots
        self.extra = extra
        self.infos: list[ArgInfo] = []


def bind_call(compiler: Any, call: Call, builtin: Builtin) -> BoundCall:
    """Bind the arguments of `call`; raise positioned CompileErrors for arity and kind mistakes."""
    params = builtin.params
    name = builtin.name
    bound: dict[str, Any] = {}
    extra: list = []
    variadic = params[-1] if params and params[-1].variadic else None
    fixed = params[:-1] if variadic else params
    pos_i = 0
    for arg in call.args:
        if arg.name is None:
            if pos_i < len(fixed):
                bound[fixed[pos_i].name] = arg
                pos_i += 1
            elif variadic is not None:
                extra.append(arg)
            else:
                raise compiler.error(
                    f"too many arguments in the call to {name}: it takes at most {len(fixed)}",
                    arg.line, arg.col)
        else:
            match = [p for p in fixed if p.name == arg.name]
            if not match:
                known = ", ".join(p.name for p in fixed) or "none"
                raise compiler.error(f"{name}() has no parameter named '{arg.name}' (parameters: {known})",
                                     arg.line, arg.col)
            if arg.name in bound:
                raise compiler.error(f"argument '{arg.name}' given twice in the call to {name}", arg.line, arg.col)
            bound[arg.name] = arg
    slots = []
    infos: list[ArgInfo] = []
    for p in fixed:
        arg = bound.get(p.name)
        if arg is None:
            if p.default is REQUIRED:
                raise compiler.error(f"missing argument '{p.name}' in the call to {name}", call.line, call.col)
            slots.append((p, None))
            infos.append(None)
            continue
        slots.append((p, arg.value))
        infos.append(_arg_info(compiler, name, p, arg))
    if variadic is not None:
        for arg in extra:
            infos.append(_arg_info(compiler, name, variadic, arg))
    bc = BoundCall(builtin, slots, [a.value for a in extra])
    bc.infos = infos
    return bc


def _arg_info(compiler: Any, fname: str, p: Any, arg: Any) -> ArgInfo:
    node = arg.value
    literal = is_constant(node)
    info = ArgInfo(p, literal, constant_value(node) if literal else None, None, arg.line, arg.col, node)
    info.node_kind = node_kind(node)
    if p.kind is ArgKind.KEY:
        key = key_name_of(node)
        if key is None:
            raise compiler.error(
                f"argument '{p.name}' of {fname} must be a key name (an identifier, a string or a path like a.b)",
                arg.line, arg.col)
        info.key_name = key
        info.path = path_of(node) if not isinstance(node, Literal) else [key]
    elif isinstance(node, DotRoot) or isinstance(_root(node), DotRoot):
        raise compiler.error("a leading '.' path such as .[0] is only accepted as a json path argument",
                             arg.line, arg.col)
    elif p.kind is ArgKind.LIT:
        if not literal:
            raise compiler.error(f"argument '{p.name}' of {fname} must be a literal", arg.line, arg.col)
        if p.lit_types and not _lit_ok(info.value, p.lit_types):
            want = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in p.lit_types)
            raise compiler.error(f"argument '{p.name}' of {fname} must be a {want} literal", arg.line, arg.col)
    return info


_TYPE_WORDS = {int: "int", float: "float", str: "string", bool: "bool", list: "list", dict: "map", type(None): "nil"}


def _lit_ok(value: Any, types: tuple) -> bool:
    t = type(value)
    if t in types:
        return True
    return t is int and float in types  # an int literal is accepted where a float is wanted
