"""Platypus built-in functions (platypus.md §9). Importing this package registers every built-in
in `receiver.pipeline.registry.BUILTINS`; each module owns one family of functions."""

from . import encoding, grokfns, jsonfns, keys, strings, timefns  # noqa: F401  (registration)
from . import aggfns, extras, sqlcover, useragent, windowfns, xmlfns  # noqa: F401

__all__: list[str] = []
