"""xml(): evaluate an XPath (the subset logs use) on XML text and store the first node's text.

Supported: absolute and relative location paths, `//` descendants, `*`, positional `[n]`,
attribute predicates `[@a]` / `[@a='v']`, child-text predicates `[tag='v']`, a final `/text()`
or `/@attr`. The XPath is checked at compile time.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..registry import MISSING, ArgKind, Param, builtin
from ._args import is_literal
from ._values import to_str

_STEP = re.compile(r"(//|/)?(text\(\)|@[\w.\-:]+|\.\.|\.|[\w\-:*][\w.\-:*]*)((?:\[[^\]]*\])*)")


def compile_xpath(xp: str):
    """(steps, final) where steps is [(descend, name, predicates)], final is ('text'|'attr'|'node', x)."""
    pos = 0
    steps = []
    final = ("node", None)
    xp = xp.strip()
    absolute = xp.startswith("/")
    while pos < len(xp):
        m = _STEP.match(xp, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"invalid XPath {xp!r}")
        sep, name, preds = m.groups()
        pos = m.end()
        if name == "text()":
            final = ("text", None)
            continue
        if name.startswith("@"):
            final = ("attr", name[1:])
            continue
        steps.append((sep == "//", name, re.findall(r"\[([^\]]*)\]", preds)))
    return absolute, steps, final


def _match_pred(el, pred: str, pos: int) -> bool:
    pred = pred.strip()
    if pred.isdigit():
        return pos == int(pred)
    if pred == "last()":
        return True
    m = re.fullmatch(r"@([\w.\-:]+)(?:\s*=\s*(['\"])(.*)\2)?", pred)
    if m:
        v = el.get(m.group(1))
        return v is not None and (m.group(3) is None or v == m.group(3))
    m = re.fullmatch(r"([\w.\-:]+)\s*=\s*(['\"])(.*)\2", pred)
    if m:
        return any((c.text or "") == m.group(3) for c in el.findall(m.group(1)))
    return False


def _apply(nodes, descend, name, preds):
    out = []
    for node in nodes:
        cands = list(node.iter()) [1:] if descend else list(node)
        if name == ".":
            cands = [node]
        cands = [c for c in cands if name in ("*", ".") or c.tag == name]
        for p in preds:
            if p.strip() == "last()":
                cands = cands[-1:]
            else:
                cands = [c for i, c in enumerate(cands, 1) if _match_pred(c, p, i)]
        out.extend(cands)
    return out


def evaluate(text: str, compiled) -> str | None:
    absolute, steps, final = compiled
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    doc = ET.Element("#document")
    doc.append(root)
    nodes = [doc]
    for descend, name, preds in steps:
        nodes = _apply(nodes, descend, name, preds)
        if not nodes:
            return None
    if not steps:
        nodes = [root]
    node = nodes[0]
    if final[0] == "attr":
        for n in nodes:
            v = n.get(final[1])
            if v is not None:
                return v
        return None
    if final[0] == "text":
        return node.text or ""
    return "".join(node.itertext())


def _check_xml(cc, args):
    xp = args[1]
    if not is_literal(xp, str):
        cc.error("xml: the XPath must be a string literal", xp)
    try:
        return {"xpath": compile_xpath(xp.value)}
    except ValueError as exc:
        cc.error(f"xml: {exc}", xp)


@builtin("xml", Param("key", ArgKind.KEY), Param("xpath", ArgKind.LIT, lit_types=(str,)), Param("new_key", ArgKind.KEY),
         check=_check_xml)
def xml(ctx, key, xpath, new_key):
    """Store the first XPath match's text at new_key."""
    v = ctx.read(key)
    if v is MISSING:
        return None
    if type(xpath) is str:
        xpath = compile_xpath(xpath)
    r = evaluate(to_str(v), xpath)
    if r is not None:
        ctx.set_field(new_key, r)
    return None
