"""Compile-time helpers for check hooks: what kind of expression an argument is.

The compiler hands each check hook a list of `ArgInfo`; these helpers answer the questions
§9.2 asks of an argument ("must be an identifier", "a string literal or an identifier", ...)
without depending on the parser's node classes beyond a few attribute names.
"""

from __future__ import annotations

from ..registry import ArgInfo

__all__ = ["ident_name", "is_ident", "is_literal"]


def _node_kind(node) -> str:
    return type(node).__name__.lower() if node is not None else ""


def ident_name(arg: ArgInfo | None) -> str | None:
    """The key name when the argument is an identifier or attribute path, else None."""
    if arg is None or arg.is_literal:
        return None
    if arg.key_name is not None:
        return arg.key_name
    kind = getattr(arg, "node_kind", None)
    if kind is not None:
        if kind not in ("ident", "attr"):
            return None
        from ..calls import key_name_of  # the core's own rule for key names
        return key_name_of(arg.node)
    node = arg.node
    kind = _node_kind(node)
    if "ident" in kind or "name" in kind or "attr" in kind or "path" in kind:
        for attr in ("key_name", "path", "name", "ident", "value"):
            v = getattr(node, attr, None)
            if isinstance(v, str):
                return "message" if v == "_" else v
    return None


def is_ident(arg: ArgInfo | None) -> bool:
    return ident_name(arg) is not None


def is_literal(arg: ArgInfo | None, *types: type) -> bool:
    if arg is None or not arg.is_literal:
        return False
    if not types:
        return True
    v = arg.value
    if bool in types or type(v) is not bool:
        return isinstance(v, types)
    return False
