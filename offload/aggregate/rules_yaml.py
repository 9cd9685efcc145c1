"""YAML rules files (optional: needs PyYAML), for people coming from Levitate's rule files.

A `.yaml`/`.yml` rules file is either a list of PromQL rules, exactly as Levitate writes them:

    - promql: 'sum by (stack, le) (http_requests_duration_seconds_bucket{service="pushnotifs"}[2m])'
      as: pushnotifs_http_requests_duration:2m

or a mapping with the same keys as the TOML form (`default_window`, `aggregate_rules`,
`promql_rules`, ...). Either way it compiles through `rules_toml.compile_document`, so
both spellings mean the same; positions come from PyYAML's node marks.
"""

from __future__ import annotations

from offload.aggregate.diagnostics import Context, Diagnostics, Locator
from offload.aggregate.rules import RuleSet

__all__ = ["parse", "available"]

try:
    import yaml
except ImportError:  # PyYAML is optional
    yaml = None  # type: ignore[assignment]


def available() -> bool:
    return yaml is not None


class YamlPositions(Locator):
    """Key and value marks of a YAML document, by path."""

    def __init__(self, text: str, root) -> None:
        self.lines = text.splitlines()
        self.keys: dict[tuple, tuple[int, int]] = {}
        self.values: dict[tuple, object] = {}
        if root is not None:
            # a bare list is read as promql_rules (rules_toml.compile_document)
            self._walk(root, ("promql_rules",) if isinstance(root, yaml.SequenceNode) else ())

    def _walk(self, node, path: tuple) -> None:
        self.values[path] = node
        if isinstance(node, yaml.MappingNode):
            for knode, vnode in node.value:
                key = knode.value
                self.keys[path + (key,)] = (knode.start_mark.line + 1, knode.start_mark.column + 1)
                self._walk(vnode, path + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, path + (i,))

    def _find(self, path: tuple, prefer_key: bool) -> tuple[int, int]:
        p = tuple(path)
        while p:
            if prefer_key and p in self.keys:
                return self.keys[p]
            if p in self.values:
                m = self.values[p].start_mark
                return m.line + 1, m.column + 1
            if p in self.keys:
                return self.keys[p]
            p = p[:-1]
        return (1, 1)

    def key(self, path: tuple) -> tuple[int, int]:
        return self._find(path, True)

    def value(self, path: tuple) -> tuple[int, int]:
        return self._find(path, False)

    def inside(self, path: tuple, offset: int) -> tuple[int, int]:
        node = self.values.get(tuple(path))
        if not isinstance(node, yaml.ScalarNode):
            return self.value(path)
        m = node.start_mark
        if node.style in ("|", ">"):
            # block scalar: content starts on the next line at the block's indentation
            before = node.value[:offset]
            line = m.line + 1 + before.count("\n")
            first = self.lines[m.line + 1] if m.line + 1 < len(self.lines) else ""
            indent = len(first) - len(first.lstrip(" "))  # the block's indentation
            return line + 1, indent + len(before.rsplit("\n", 1)[-1]) + 1
        skip = 1 if node.style in ("'", '"') else 0
        return m.line + 1, m.column + 1 + skip + offset


def parse(text: str, diags: Diagnostics) -> RuleSet | None:
    """Parse YAML rules text; every problem is added to diags."""
    from offload.aggregate.rules_toml import compile_document

    if yaml is None:
        diags.add((1, 1), "YAML rules files need PyYAML (pip install pyyaml); or write the rules in TOML")
        return None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        pos = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        diags.add(pos, f"YAML syntax error: {problem}")
        return None
    if data is None:
        diags.add((1, 1), "the file defines no rules")
        return None
    return compile_document(data, Context(YamlPositions(text, root), diags))
