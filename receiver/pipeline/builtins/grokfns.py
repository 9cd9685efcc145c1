"""grok() and add_pattern() (§9.2, §10): patterns are compiled once, in the check hook."""

from __future__ import annotations

from ..grok import GrokError, compile_grok
from ..registry import MISSING, ArgKind, Param, builtin
from ._args import is_literal
from ._values import to_str

KEY, LIT = ArgKind.KEY, ArgKind.LIT


def _check_grok(cc, args):
    pat = args[1]
    if not is_literal(pat, str):
        cc.error("grok: the pattern must be a string literal", pat)
    trim = args[2]
    if trim is not None and not is_literal(trim, bool):
        cc.error("grok: trim_space must be a bool literal", trim)
    lookup = getattr(cc, "lookup_pattern", None)
    try:
        g = compile_grok(pat.value, lookup)
    except GrokError as exc:
        cc.error(f"grok: {exc}", pat)
    return {"pattern": g}


@builtin("grok", Param("key", KEY), Param("pattern", LIT, lit_types=(str,)),
         Param("trim_space", LIT, default=True, lit_types=(bool,)), check=_check_grok)
def grok(ctx, key, pattern, trim_space):
    """Match the key's value against the grok pattern; set every capture as a field."""
    v = ctx.read(key)
    if v is MISSING:
        return False
    m = pattern.regex.search(v if type(v) is str else to_str(v))
    if m is None:
        return False
    pt = ctx.point
    (pattern.store if trim_space else pattern.store_untrimmed)(m, pt.tags, pt.fields, ctx)
    return True


def _check_add_pattern(cc, args):
    name, pat = args
    if not is_literal(name, str):
        cc.error("add_pattern: the name must be a string literal", name)
    if not is_literal(pat, str):
        cc.error("add_pattern: the pattern must be a string literal", pat)
    cc.define_pattern(name.value, pat.value)
    return None


@builtin("add_pattern", Param("name", LIT, lit_types=(str,)), Param("pattern", LIT, lit_types=(str,)),
         check=_check_add_pattern)
def add_pattern(ctx, name, pattern):
    """Compile-time only: the pattern was defined by the check hook."""
    return None
