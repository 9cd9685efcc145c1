"""Grok for the pipeline engine: the default pattern library, pattern expansion and typed
captures (compiler.py), and RE2-semantics regexes run by `re` where safe (regex.py, guard.py)."""

from .compiler import Grok, GrokError, compile_grok
from .library import DEFAULT_PATTERNS
from .regex import Regex, RegexError, compile_regex

__all__ = ["DEFAULT_PATTERNS", "Grok", "GrokError", "Regex", "RegexError", "compile_grok", "compile_regex"]
