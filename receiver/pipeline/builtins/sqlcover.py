"""sql_cover(): obfuscate SQL like DataDog's SQL obfuscator: literals become `?`, `IN (...)` lists
collapse to `( ? )`, comments go, whitespace is normalised."""

from __future__ import annotations

import re

from ..registry import MISSING, ArgKind, Param, builtin
from ._values import to_str

_TOKEN = re.compile(r"""
    (?P<comment>--[^\n]*|/\*.*?\*/|\#[^\n]*)
  | (?P<string>'(?:[^'\\]|''|\\.)*'|"(?:[^"\\]|""|\\.)*"(?!\w))
  | (?P<num>(?<![\w.$])[-+]?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?![\w.]))
  | (?P<ident>[A-Za-z_][\w$.]*|`[^`]*`|\[[^\]]*\])
  | (?P<ws>\s+)
  | (?P<op><=|>=|<>|!=|::|\|\||[^\s\w])
""", re.VERBOSE | re.DOTALL)
_UNTERMINATED = re.compile(r"'(?:[^'\\]|''|\\.)*\Z", re.DOTALL)


def obfuscate_sql(sql: str) -> str:
    toks: list[str] = []
    pos = 0
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if m is None:
            raise ValueError("cannot tokenize")
        pos = m.end()
        kind = m.lastgroup
        text = m.group(0)
        if kind in ("comment", "ws"):
            continue
        if kind in ("num",):
            if toks and toks[-1] in ("?",) and False:
                continue
            toks.append("?")
        elif kind == "string":
            toks.append("?" if text[0] == "'" else text)
        else:
            toks.append(text)
    out: list[str] = []
    i = 0
    while i < len(toks):
        t = toks[i]
        # collapse IN ( ?, ?, ... ) and VALUES lists of placeholders
        if t.upper() == "IN" and i + 1 < len(toks) and toks[i + 1] == "(":
            j = i + 2
            ok = True
            while j < len(toks) and toks[j] != ")":
                if toks[j] not in ("?", ","):
                    ok = False
                    break
                j += 1
            if ok and j < len(toks):
                out.extend([t, "(", "?", ")"])
                i = j + 1
                continue
        out.append(t)
        i += 1
    text = " ".join(out)
    text = text.replace(" , ", ", ").replace(" ,", ",")
    return text


@builtin("sql_cover", Param("key", ArgKind.KEY))
def sql_cover(ctx, key):
    """Obfuscate the key's SQL text; failure leaves it alone."""
    v = ctx.read(key)
    if v is MISSING:
        return None
    try:
        ctx.set_field(key, obfuscate_sql(to_str(v)))
    except ValueError:
        pass
    return None
