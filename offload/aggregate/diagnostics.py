"""Positioned problems found in a rules file, and the error that carries them.

Every front end (TOML, PromQL inside TOML, YAML) reports into a `Diagnostics` list
instead of stopping at the first problem, so `rules check` prints all of them at
once as `FILE:LINE:COL: message`. Loading a file with problems raises `RulesError`
(a `ConfigError`), which still holds the whole list.
"""

from __future__ import annotations

from dataclasses import dataclass

from offload.errors import ConfigError


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem: 1-based line and column in the rules file (0 = unknown)."""

    line: int
    column: int
    message: str

    def render(self, filename: str) -> str:
        return f"{filename}:{self.line}:{self.column}: {self.message}"


class Diagnostics:
    """An ordered collection of problems; `add` never raises."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def add(self, pos: tuple[int, int], message: str) -> None:
        self.items.append(Diagnostic(pos[0], pos[1], message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def sorted(self) -> list[Diagnostic]:
        # stable sort by position keeps the insertion order of problems at one spot
        return sorted(self.items, key=lambda d: (d.line, d.column))


class RulesError(ConfigError):
    """A rules file that does not load; `diagnostics` lists every problem with its position."""

    def __init__(self, filename: str, diagnostics: list[Diagnostic]) -> None:
        self.filename = filename
        self.diagnostics = diagnostics
        first = diagnostics[0].render(filename) if diagnostics else filename
        more = f" (and {len(diagnostics) - 1} more)" if len(diagnostics) > 1 else ""
        super().__init__("aggregator.rules_file", first + more)

    def render(self) -> str:
        return "\n".join(d.render(self.filename) for d in self.diagnostics)


class Locator:
    """Positions of keys and values in a rules document (TOML or YAML front ends implement it)."""

    def key(self, path: tuple) -> tuple[int, int]:  # pragma: no cover - interface
        raise NotImplementedError

    def value(self, path: tuple) -> tuple[int, int]:  # pragma: no cover - interface
        raise NotImplementedError

    def inside(self, path: tuple, offset: int) -> tuple[int, int]:
        """Position of character `offset` inside the string value at `path`."""
        line, col = self.value(path)
        return line, col + 1 + offset


class Context:
    """What a front end needs while compiling rules: where things are, and where problems go."""

    def __init__(self, locator: Locator, diags: Diagnostics, default_window: int = 0,
                 series_limit: int = 1_000_000) -> None:
        self.locator = locator
        self.diags = diags
        self.default_window = default_window
        self.series_limit = series_limit

    def at_key(self, path: tuple, message: str) -> None:
        self.diags.add(self.locator.key(path), message)

    def at_value(self, path: tuple, message: str) -> None:
        self.diags.add(self.locator.value(path), message)

    def inside(self, path: tuple, offset: int, message: str) -> None:
        self.diags.add(self.locator.inside(path, offset), message)
