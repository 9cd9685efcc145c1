"""Match-preserving rewrites of expanded grok regexes that make Python's backtracking `re` faster.

Grok expansions are written for RE2 (an automaton, indifferent to how a regex is spelled); sre
pays for every capture group it saves, for every position a lazy `.*?` tries, and for every
backtracking step of a greedy loop. Each rewrite below leaves the set of matches, the match
chosen (leftmost-first) and every reported capture unchanged:

On the RE2 text (so that `re` and the RE2 fallback keep the same groups):
* `decapture`: unnamed capturing groups `(...)` become `(?:...)`: grok reports named captures
  only, and RE2 syntax has no back-references that could refer to them.
* `absorb`: `(?P<g>.*)LIT` (GREEDYDATA followed by literal text) becomes `(?P<g>.*LIT)`; the
  caller cuts len(LIT) characters off that capture. Concatenation is associative, so the match
  is the same; sre then sees the loop directly followed by a literal and skips, when
  backtracking, every position where that literal cannot start (a closing group hides it).

On the Python text (they keep every group's span, so the RE2 fallback needs no change):
* a loop over a character set followed (through closing groups) by a literal it cannot match
  becomes possessive (`[^ ]+ ` -> `[^ ]++ `): giving characters back could only put a set
  character where the literal must be.
* a lazy `.*?` followed by a literal c becomes `[^c\\n]*+(?:c[^c\\n]*+)*?`: the candidate ends
  are the same positions (those where c follows) tried in the same increasing order, but the
  loop now steps from one c to the next instead of trying the rest of the regex at every
  character.
Patterns with inline flags are left alone.
"""

from __future__ import annotations

import re

__all__ = ["absorb", "decapture", "py_rewrites"]

_META = set(".^$*+?{}[]|()\\")


# ------------------------------------------------------------------ RE2 text

def _re2_class_end(p: str, i: int) -> int:
    """Index just past the RE2 character class starting at p[i] == '['."""
    i += 1
    if i < len(p) and p[i] == "^":
        i += 1
    if i < len(p) and p[i] == "]":  # a leading ] is literal
        i += 1
    while i < len(p):
        c = p[i]
        if c == "\\":
            i += 2
            continue
        if c == "[" and p.startswith("[:", i):
            end = p.find(":]", i + 2)
            if end >= 0:
                i = end + 2
                continue
        if c == "]":
            return i + 1
        i += 1
    raise ValueError("unterminated class")


def _re2_tokens(p: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of an RE2 pattern; kinds: lit (one literal char, text = the char),
    esc, class, open (capturing), named, group (other `(?...`), close, quant, other."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(p)
    while i < n:
        c = p[i]
        if c == "\\":
            if p.startswith("\\Q", i):
                end = p.find("\\E", i + 2)
                j = n if end < 0 else end + 2
                out.append(("other", p[i:j]))
                i = j
                continue
            nxt = p[i + 1:i + 2]
            if nxt and not nxt.isalnum() and nxt.isascii() and nxt.isprintable():
                out.append(("lit", p[i:i + 2]))
                i += 2
                continue
            m = re.compile(r"\\(?:x\{[0-9A-Fa-f]+\}|x[0-9A-Fa-f]{2}|[pP]\{[^}]*\}|[pP].|[0-7]{1,3}|.)", re.DOTALL).match(p, i)
            out.append(("esc", m.group(0)))
            i = m.end()
            continue
        if c == "[":
            j = _re2_class_end(p, i)
            out.append(("class", p[i:j]))
            i = j
            continue
        if c == "(":
            if p.startswith("(?P<", i) or p.startswith("(?<", i):
                j = p.index(">", i) + 1
                out.append(("named", p[i:j]))
            elif p.startswith("(?", i):
                k = i + 2
                while k < n and p[k] not in ":)":
                    k += 1
                out.append(("group", p[i:k + 1]))
                j = k + 1
            else:
                out.append(("open", "("))
                j = i + 1
            i = j
            continue
        if c == ")":
            out.append(("close", ")"))
            i += 1
            continue
        if c in "*+?":
            j = i + 1
            if j < n and p[j] == "?":
                j += 1
            out.append(("quant", p[i:j]))
            i = j
            continue
        if c == "{":
            m = re.compile(r"\{\d+(?:,\d*)?\}\??").match(p, i)
            if m:
                out.append(("quant", m.group(0)))
                i = m.end()
                continue
            out.append(("lit", "{"))
            i += 1
            continue
        out.append(("lit" if c not in _META else "other", c))
        i += 1
    return out


def decapture(p: str) -> str:
    """The RE2 pattern with every unnamed capturing group made non-capturing."""
    return "".join("(?:" if k == "open" else t for k, t in _re2_tokens(p))


def absorb(p: str) -> tuple[str, dict[str, int]]:
    """Move the literal text after each `(?P<name>.*)` / `(?P<name>.+)` into the group;
    returns the new RE2 text and {name: number of characters to cut off its capture}."""
    if re.search(r"\(\?[imsU-]", p):
        return p, {}
    toks = _re2_tokens(p)
    out: list[str] = []
    chops: dict[str, int] = {}
    i, n = 0, len(toks)
    while i < n:
        k, t = toks[i]
        if (k == "named" and i + 3 < n and toks[i + 1] == ("other", ".") and toks[i + 2][0] == "quant"
                and toks[i + 2][1] in ("*", "+") and toks[i + 3][0] == "close"):
            j = i + 4
            lits = []
            while j < n and toks[j][0] == "lit" and not (j + 1 < n and toks[j + 1][0] == "quant"):
                lits.append(toks[j][1])
                j += 1
            if lits:
                name = t[t.index("<") + 1:-1]
                out.append(t + "." + toks[i + 2][1] + "".join(lits) + ")")
                chops[name] = len(lits)
                i = j
                continue
        out.append(t)
        i += 1
    return "".join(out), chops


# ------------------------------------------------------------------ Python text (translate() output)

_PY_TOKEN = re.compile(
    r"\\U[0-9a-fA-F]{8}|\\.|\[(?:\\.|[^\]\\])*\]|\(\?(?:P<\w+>|[:=!]|<[=!])|\("
    r"|\{\d+(?:,\d*)?\}[?+]?|[*+?][?+]?|.", re.DOTALL)
_SET_ESCAPES = {"\\d", "\\D", "\\w", "\\W"}


def _literal(tok: str) -> str | None:
    if len(tok) == 1 and tok not in _META:
        return tok
    if len(tok) == 2 and tok[0] == "\\" and not tok[1].isalnum() and tok[1].isascii():
        return tok[1]
    return None


def _is_quant(tok: str | None) -> bool:
    return tok is not None and (tok[0] in "*+?" or (tok[0] == "{" and len(tok) > 1 and tok[1].isdigit()))


def py_rewrites(p: str) -> str:
    """Possessive set loops and stepping lazy `.*?` (see the module docstring)."""
    if re.search(r"\(\?[aiLmsux-]", p):
        return p
    toks = _PY_TOKEN.findall(p)
    if "".join(toks) != p:  # pragma: no cover - the tokenizer must cover every character
        return p
    n = len(toks)
    # the kind of group each `)` closes: only plain and named groups are transparent
    closes: dict[int, str] = {}
    stack: list[str] = []
    for i, t in enumerate(toks):
        if t.startswith("("):
            stack.append(t)
        elif t == ")":
            closes[i] = stack.pop() if stack else "?"

    def next_literal(j: int) -> str | None:
        """The literal that must match right after token j-1 (through transparent closes)."""
        while j < n and toks[j] == ")":
            if closes.get(j) not in ("(?:", "(") and not closes.get(j, "").startswith("(?P<"):
                return None
            if j + 1 < n and _is_quant(toks[j + 1]):
                return None
            j += 1
        if j >= n:
            return None
        lit = _literal(toks[j])
        if lit is None or (j + 1 < n and _is_quant(toks[j + 1])):
            return None
        return lit

    out = list(toks)
    for i in range(n - 1):
        t, q = toks[i], toks[i + 1]
        if q not in ("*", "+", "*?", "+?") and not (q[0] == "{" and q[-1] == "}"):
            continue
        if i > 0 and toks[i - 1] == "\\":  # pragma: no cover - escapes are single tokens
            continue
        c = next_literal(i + 2)
        if c is None:
            continue
        if t == "." and q in ("*?", "+?"):
            if c == "\n":
                continue
            x = re.escape(c)
            step = f"[^{x}\\n]*+(?:{x}[^{x}\\n]*+)*?"
            out[i], out[i + 1] = ("", step) if q == "*?" else (".", step)
            continue
        if q.endswith("?"):
            continue
        is_set = t == "." or t in _SET_ESCAPES or (t[0] == "[" and len(t) > 1)
        if not is_set:
            lit = _literal(t)
            if lit is None:
                continue
            is_set = True
            t = re.escape(lit)
        try:
            matches = re.fullmatch(t, c, re.ASCII) is not None
        except re.error:  # pragma: no cover
            continue
        if not matches:
            out[i + 1] = q + "+"
    return "".join(out)
