"""The default grok pattern library (§10.2), loaded from the data file patterns/default."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_PATTERNS", "load_pattern_file", "parse_patterns"]


def parse_patterns(text: str) -> dict[str, str]:
    """Parse pattern-file text: one `NAME pattern` per line, blank lines and '#' comments skipped."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, pattern = line.partition(" ")
        out[name] = pattern.lstrip(" ")
    return out


def load_pattern_file(path: str | Path) -> dict[str, str]:
    return parse_patterns(Path(path).read_text(encoding="utf-8"))


DEFAULT_PATTERNS: dict[str, str] = load_pattern_file(Path(__file__).with_name("patterns") / "default")
