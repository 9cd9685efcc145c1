"""Run-time semantics of Platypus operators (platypus.md §6), called from generated code.

The compiler inlines the common, statically typed cases (int + int, str == literal, ...)
and calls these helpers for everything else, so they must be exact: cross-type equality,
ordering errors, int64 wrap-around, truncating division, byte-wise string slicing,
type-exact `in` on lists. Every failure raises ScriptRuntimeError; the runtime adds the
script position.
"""

from __future__ import annotations

from typing import Any, Callable

from .convert import point_value, type_name as tn, wrap_int64
from .registry import MISSING, ScriptRuntimeError

__all__ = [
    "add", "and_", "augidx", "deep_eq", "div", "eq", "fdiv", "ge", "gt", "idiv", "idx", "imod", "in_",
    "iter_", "le", "lt", "mkey", "mod", "mul", "multi_assign", "ne", "neg", "or_", "pos", "rp", "setidx",
    "slice_", "sub", "want_bool",
]

_NUMS = frozenset({int, float, bool})
_INTS = frozenset({int, bool})
Err = ScriptRuntimeError


def _arith_error(op: str, a: Any, b: Any) -> ScriptRuntimeError:
    return Err(f"unsupported operand type(s) for {op}: {tn(a)} and {tn(b)}")


def _arith(op: str, a: Any, b: Any) -> Any:
    """The general case of + - * / % for any operand types (§6.1)."""
    ta, tb = type(a), type(b)
    if ta is str or tb is str:
        if op == "+" and ta is str and tb is str:
            return a + b
        raise _arith_error(op, a, b)
    if ta not in _NUMS or tb not in _NUMS:
        raise _arith_error(op, a, b)
    if ta is float or tb is float:
        x, y = float(a), float(b)
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            if y == 0:
                raise Err("float division by zero")
            return x / y
        raise Err("float does not support modulo operations")
    x, y = int(a), int(b)
    if op == "+":
        return wrap_int64(x + y)
    if op == "-":
        return wrap_int64(x - y)
    if op == "*":
        return wrap_int64(x * y)
    if op == "/":
        return idiv(x, y)
    return imod(x, y)


def add(a: Any, b: Any) -> Any:
    ta = type(a)
    if ta is type(b) and (ta is int or ta is str):
        return wrap_int64(a + b) if ta is int else a + b
    if ta is float and type(b) is float:
        return a + b
    return _arith("+", a, b)


def sub(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        return wrap_int64(a - b)
    return _arith("-", a, b)


def mul(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        return wrap_int64(a * b)
    return _arith("*", a, b)


def div(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        return idiv(a, b)
    return _arith("/", a, b)


def mod(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        return imod(a, b)
    return _arith("%", a, b)


def idiv(a: int, b: int) -> int:
    """int64 division truncating toward zero (Go `/`)."""
    if not b:
        raise Err("integer division by zero")
    q = abs(a) // abs(b)
    return wrap_int64(-q if (a < 0) != (b < 0) else q)


def imod(a: int, b: int) -> int:
    """int64 remainder with the sign of the dividend (Go `%`)."""
    if not b:
        raise Err("integer modulo by zero")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def fdiv(a: Any, b: Any) -> float:
    """Division where at least one operand is a float and both are numbers."""
    y = float(b)
    if y == 0:
        raise Err("float division by zero")
    return float(a) / y


def neg(a: Any) -> Any:
    t = type(a)
    if t is int:
        return wrap_int64(-a)
    if t is float:
        return -a
    if t is bool:
        return -int(a)
    raise Err(f"unsupported operand type for unary -: {tn(a)}")


def pos(a: Any) -> Any:
    t = type(a)
    if t is int or t is float:
        return a
    if t is bool:
        return int(a)
    raise Err(f"unsupported operand type for unary +: {tn(a)}")


# -- comparison -----------------------------------------------------------------------------
def deep_eq(a: Any, b: Any) -> bool:
    """Go reflect.DeepEqual on script values: type-exact (1 != 1.0 != true)."""
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is list:
        return len(a) == len(b) and all(deep_eq(x, y) for x, y in zip(a, b))
    if ta is dict:
        return len(a) == len(b) and all(k in b and deep_eq(v, b[k]) for k, v in a.items())
    return a == b


def eq(a: Any, b: Any) -> bool:
    """`==` (§6.3): numbers compare as float64, str only with str, nil only with nil."""
    ta = type(a)
    if ta is int or ta is float or ta is bool:
        tb = type(b)
        if tb is int or tb is float or tb is bool:
            return float(a) == float(b)
        return False
    if ta is str:
        return type(b) is str and a == b
    if a is None:
        return b is None
    return deep_eq(a, b)


def ne(a: Any, b: Any) -> bool:
    return not eq(a, b)


def _order(op: str, a: Any, b: Any) -> tuple:
    ta, tb = type(a), type(b)
    if ta not in _NUMS or tb not in _NUMS:
        raise Err(f"not comparable: {tn(a)} {op} {tn(b)}")
    if ta is float or tb is float:
        return float(a), float(b)
    return int(a), int(b)


def lt(a: Any, b: Any) -> bool:
    x, y = _order("<", a, b)
    return x < y


def le(a: Any, b: Any) -> bool:
    x, y = _order("<=", a, b)
    return x <= y


def gt(a: Any, b: Any) -> bool:
    x, y = _order(">", a, b)
    return x > y


def ge(a: Any, b: Any) -> bool:
    x, y = _order(">=", a, b)
    return x >= y


def _logic_error(op: str, a: Any, b: Any) -> ScriptRuntimeError:
    if type(a) not in _NUMS or type(b) not in _NUMS:
        return Err(f"not comparable: {tn(a)} {op} {tn(b)}")
    return Err(f"unsupported operand type(s) for {op}: {tn(a)} and {tn(b)}")


def and_(a: Any, b: Any) -> bool:
    """`a && b` once `a` is known not to be false (§6.5)."""
    if a is True and type(b) is bool:
        return b
    raise _logic_error("&&", a, b)


def or_(a: Any, b: Any) -> bool:
    """`a || b` once `a` is known not to be true."""
    if a is False and type(b) is bool:
        return b
    raise _logic_error("||", a, b)


def want_bool(op: str, a: Any, b: Any) -> bool:
    """Right operand of && / || whose left is a statically known bool."""
    if type(b) is bool:
        return b
    raise _logic_error(op, a, b)


def in_(a: Any, b: Any) -> bool:
    """`a in b` (§6.6)."""
    tb = type(b)
    if tb is str or tb is dict:
        if type(a) is not str:
            raise Err(f"unsupported lhs data type for 'in' on {tn(b)}: {tn(a)}")
        return a in b
    if tb is list:
        ta = type(a)
        if ta is str or ta is int or ta is float or ta is bool or a is None:
            for e in b:
                if type(e) is ta and e == a:
                    return True
            return False
        return any(deep_eq(a, e) for e in b)
    raise Err(f"unsupported rhs data type for 'in': {tn(b)}")


# -- containers -----------------------------------------------------------------------------
def idx(base: Any, key: Any) -> Any:
    """`base[key]` (§6.8)."""
    tb = type(base)
    if tb is dict:
        if type(key) is not str:
            raise Err(f"map index must be a str, not {tn(key)}")
        return base.get(key)
    if tb is list:
        if type(key) is not int:
            raise Err(f"list index must be an int, not {tn(key)}")
        n = len(base)
        k = key + n if key < 0 else key
        if 0 <= k < n:
            return base[k]
        raise Err(f"list index out of range: {key} (length {n})")
    if base is MISSING:
        raise Err("cannot index an undefined variable")
    raise Err(f"unindexable type: {tn(base)}")


def _slot(cur: Any, key: Any) -> tuple:
    tc = type(cur)
    if tc is dict:
        if type(key) is not str:
            raise Err(f"map index must be a str, not {tn(key)}")
        return cur, key
    if tc is list:
        if type(key) is not int:
            raise Err(f"list index must be an int, not {tn(key)}")
        n = len(cur)
        k = key + n if key < 0 else key
        if 0 <= k < n:
            return cur, k
        raise Err(f"list index out of range: {key} (length {n})")
    if cur is MISSING:
        raise Err("cannot index an undefined variable")
    raise Err(f"cannot assign into an element of {tn(cur)}")


def setidx(base: Any, keys: tuple, value: Any) -> None:
    """`base[k1]...[kn] = value`: intermediate keys must exist, lists do not grow (§5.2)."""
    cur = base
    for k in keys[:-1]:
        c, s = _slot(cur, k)
        if type(c) is dict and s not in c:
            raise Err(f"key not found: {s!r}")
        cur = c[s]
    c, s = _slot(cur, keys[-1])
    c[s] = value


def augidx(base: Any, keys: tuple, op: Callable[[Any, Any], Any], value: Any) -> None:
    """`base[k1]...[kn] OP= value`: read, compute, write back."""
    cur = base
    for k in keys:
        cur = idx(cur, k)
    setidx(base, keys, op(cur, value))


def slice_(v: Any, start: Any, end: Any, step: Any) -> Any:
    """`v[start:end:step]` (§6.8); strings are sliced by byte (Latin-1 view of the bytes)."""
    tv = type(v)
    if tv is str:
        data: Any = v if v.isascii() else v.encode("utf-8")
    elif tv is list:
        data = v
    else:
        raise Err(f"unsliceable type: {tn(v)}")
    for b in (start, end, step):
        if b is not MISSING and type(b) is not int:
            raise Err(f"slice bounds must be int, not {tn(b)}")
    if step is MISSING:
        step = 1
    if step == 0:
        raise Err("slice step cannot be zero")
    n = len(data)
    if step > 0:
        s = 0 if start is MISSING else (start + n if start < 0 else start)
        e = n if end is MISSING else (end + n if end < 0 else end)
        s, e = max(s, 0), min(e, n)
        out = data[s:e:step] if s < e else data[0:0]
    else:
        s = n - 1 if start is MISSING else (start + n if start < 0 else start)
        e = -1 if end is MISSING else (end + n if end < 0 else end)
        s, lo = min(s, n - 1), max(e, -1)
        if s <= lo:
            out = data[0:0]
        else:
            out = data[s::step] if lo == -1 else data[s:lo:step]
    if type(out) is bytes:
        return out.decode("latin-1")
    return out


def iter_(v: Any) -> Any:
    """What `for x in v` walks: code points of a str, list elements, map keys (§6.9)."""
    t = type(v)
    if t is list or t is str:
        return v
    if t is dict:
        return list(v)
    raise Err(f"unsupported type: {tn(v)}, not iterable")


def mkey(k: Any) -> str:
    if type(k) is str:
        return k
    raise Err(f"map keys must be str, not {tn(k)}")


def multi_assign() -> None:
    raise Err("multiple assignment is not supported")


def rp(tags: dict, fields: dict, key: str) -> Any:
    """A point key read as a script value; nil when the point has no such key."""
    v = point_value(tags, fields, key)
    return None if v is MISSING else v
