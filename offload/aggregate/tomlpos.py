"""Where each key and value of a TOML document sits, for positioned rule errors.

`tomllib` reports syntax errors with a line and column but returns plain dicts
without positions, so semantic errors ("unknown method", "bad regex") would have
nowhere to point. `TomlPositions` scans the same text once (it is only run on
text tomllib has already accepted, so it can be lenient) and records, for every
key path, where the key and its value start. Paths use the same shape as the
parsed data: `("aggregate_rules", 0, "algorithms", "lat", "method")`; array
elements add their index: `("promql_rules", 1, "resolutions", 2)`.
"""

from __future__ import annotations

import bisect
import tomllib

from offload.aggregate.diagnostics import Locator

Path = tuple  # tuple[str | int, ...]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class TomlPositions(Locator):
    """Key and value positions (1-based line, column) of a TOML text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.keys: dict[Path, int] = {}
        self.values: dict[Path, int] = {}
        self._line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
        self._aot: dict[Path, int] = {}
        try:
            self._scan()
        except (IndexError, ValueError):
            # positions are a convenience: a scanner gap must never hide the real error
            pass

    # -- queries ------------------------------------------------------------------------
    def linecol(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def key(self, path: Path) -> tuple[int, int]:
        """Position of the key at `path`, else of its nearest recorded ancestor."""
        return self._find(path, self.keys, self.values)

    def value(self, path: Path) -> tuple[int, int]:
        """Position of the value at `path`, else of its key, else of an ancestor."""
        return self._find(path, self.values, self.keys)

    def inside(self, path: Path, offset: int) -> tuple[int, int]:
        """Position of character `offset` of the string at `path` (exact for literal strings)."""
        start = self.values.get(tuple(path))
        if start is None:
            return self.value(path)
        t = self.text
        if t.startswith(("'''", '"""'), start):
            s = start + 3
            # TOML trims a newline right after the opening delimiter
            s += 2 if t.startswith("\r\n", s) else 1 if t.startswith("\n", s) else 0
        elif t[start] in "\"'":
            s = start + 1
        else:
            s = start
        return self.linecol(min(s + offset, len(t)))

    def _find(self, path: Path, first: dict, second: dict) -> tuple[int, int]:
        p = tuple(path)
        while p:
            for table in (first, second):
                if p in table:
                    return self.linecol(table[p])
            p = p[:-1]
        return (1, 1)

    # -- scanner ------------------------------------------------------------------------
    def _scan(self) -> None:
        t, i, n = self.text, 0, len(self.text)
        current: Path = ()
        while i < n:
            i = self._skip_ws(i, newlines=True)
            if i >= n:
                break
            if t.startswith("[[", i):
                start = i
                keys, i = self._key(i + 2)
                i = t.index("]]", i) + 2
                base = self._resolve(keys[:-1]) + (keys[-1],)
                idx = self._aot.get(base, 0)
                self._aot[base] = idx + 1
                current = base + (idx,)
                self.keys.setdefault(base, start)
                self.keys[current] = start
            elif t[i] == "[":
                start = i
                keys, i = self._key(i + 1)
                i = t.index("]", i) + 1
                current = self._resolve(keys)
                self.keys[current] = start
            else:
                start = i
                keys, i = self._key(i)
                i = self._skip_ws(i)
                i += 1  # "="
                path = current + tuple(keys)
                self.keys[path] = start
                i = self._value(self._skip_ws(i), path)
            i = self._skip_line(i)

    def _resolve(self, keys: list[str]) -> Path:
        # inside a header, a name that is an array of tables means its latest element
        out: list = []
        for k in keys:
            out.append(k)
            if tuple(out) in self._aot:
                out.append(self._aot[tuple(out)] - 1)
        return tuple(out)

    def _skip_ws(self, i: int, newlines: bool = False) -> int:
        t, n = self.text, len(self.text)
        while i < n:
            c = t[i]
            if c in " \t\r" or (newlines and c == "\n"):
                i += 1
            elif c == "#" and newlines:
                i = self._skip_line(i)
            else:
                break
        return i

    def _skip_line(self, i: int) -> int:
        j = self.text.find("\n", i)
        return len(self.text) if j < 0 else j + 1

    def _skip_ws_comments(self, i: int) -> int:
        # inside arrays: whitespace, newlines and comments
        return self._skip_ws(i, newlines=True)

    def _key(self, i: int) -> tuple[list[str], int]:
        t = self.text
        keys: list[str] = []
        while True:
            i = self._skip_ws(i)
            if t[i] in "\"'":
                end = self._string_end(i)
                keys.append(tomllib.loads(f"k = {t[i:end]}")["k"])
                i = end
            else:
                j = i
                while j < len(t) and t[j] in _BARE:
                    j += 1
                keys.append(t[i:j])
                i = j
            i = self._skip_ws(i)
            if i < len(t) and t[i] == ".":
                i += 1
                continue
            return keys, i

    def _string_end(self, i: int) -> int:
        t = self.text
        for q in ('"""', "'''"):
            if t.startswith(q, i):
                j = t.index(q, i + 3)
                while t.startswith(q[0], j + 3):  # up to two extra quotes may close the string
                    j += 1
                return j + 3
        q = t[i]
        j = i + 1
        while t[j] != q:
            j += 2 if (q == '"' and t[j] == "\\") else 1
        return j + 1

    def _value(self, i: int, path: Path) -> int:
        t = self.text
        self.values[path] = i
        c = t[i]
        if c in "\"'":
            return self._string_end(i)
        if c == "[":
            i += 1
            idx = 0
            while True:
                i = self._skip_ws_comments(i)
                if t[i] == "]":
                    return i + 1
                i = self._value(i, path + (idx,))
                idx += 1
                i = self._skip_ws_comments(i)
                if t[i] == ",":
                    i += 1
        if c == "{":
            i += 1
            while True:
                i = self._skip_ws(i)
                if t[i] == "}":
                    return i + 1
                start = i
                keys, i = self._key(i)
                sub = path + tuple(keys)
                self.keys[sub] = start
                i = self._skip_ws(i) + 1  # "="
                i = self._value(self._skip_ws(i), sub)
                i = self._skip_ws(i)
                if t[i] == ",":
                    i += 1
        # scalar: number, bool, date
        j = i
        while j < len(t) and t[j] not in ",]}\n#":
            j += 1
        return j
