"""The script store: script files on disk -> compiled Scripts, compiled once and hot-reloaded.

Layout (DESIGN.md): logging scripts are `<dir>/<name>.p`, other categories
`<dir>/<category>/<name>.p`. `get()` answers from memory and looks at the file again at most
once per `check_interval` seconds (a stat; the file is read and hashed only when the stat
changed, and recompiled only when the content changed). A file that stops compiling keeps
its last good version running; the error is logged, counted in `compile_errors` and in
the Prometheus counter `pipeline_script_compile_errors_total{script}`.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

from prometheus_client import Counter

from .errors import CompileError
from .runtime import DEFAULT_BUDGET, Script, compile_script

__all__ = ["COMPILE_ERRORS", "ScriptStore"]

log = logging.getLogger(__name__)

COMPILE_ERRORS = Counter(
    "pipeline_script_compile_errors", "Pipeline script (re)loads that failed to compile", ["script"])


def _valid(part: str) -> bool:
    return bool(part) and "/" not in part and "\\" not in part and "\x00" not in part and not part.startswith(".")


class _Entry:
    __slots__ = ("path", "label", "checked", "sig", "digest", "script", "error")

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.checked = float("-inf")
        self.sig: tuple | None = None
        self.digest: bytes | None = None
        self.script: Script | None = None
        self.error: str | None = None


class ScriptStore:
    """Compiled scripts of one scripts directory, keyed by (category, name)."""

    def __init__(self, scripts_dir: str | Path, *, budget: float = DEFAULT_BUDGET, check_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.dir = Path(scripts_dir)
        self.budget = budget
        self.check_interval = check_interval
        self.compile_errors = 0
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def path_for(self, category: str, name: str) -> Path | None:
        """Where the script for (category, name) lives; None for names that could escape the directory."""
        if not _valid(name) or not _valid(category):
            return None
        if category == "logging":
            return self.dir / f"{name}.p"
        return self.dir / category / f"{name}.p"

    def get(self, category: str, name: str) -> Script | None:
        """The compiled script for (category, name), or None when there is no (good) script."""
        e = self._entries.get((category, name))
        if e is not None and self._clock() - e.checked < self.check_interval:
            return e.script
        with self._lock:
            return self._refresh(category, name)

    def error(self, category: str, name: str) -> str | None:
        """The last compile error of that script file, if its current content does not compile."""
        e = self._entries.get((category, name))
        return e.error if e is not None else None

    def reload(self) -> None:
        """Forget what was seen on disk: the next get() re-reads every file (recompiling changed ones)."""
        with self._lock:
            for e in self._entries.values():
                e.checked = float("-inf")
                e.sig = None

    def _refresh(self, category: str, name: str) -> Script | None:
        key = (category, name)
        e = self._entries.get(key)
        if e is None:
            path = self.path_for(category, name)
            if path is None:
                return None
            label = f"{name}.p" if category == "logging" else f"{category}/{name}.p"
            e = self._entries[key] = _Entry(path, label)
        now = self._clock()
        if now - e.checked < self.check_interval:
            return e.script  # another thread refreshed it meanwhile
        e.checked = now
        try:
            st = os.stat(e.path)
        except OSError:
            e.sig = e.digest = e.script = e.error = None  # deleted: points pass unprocessed
            return None
        sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        if sig == e.sig:
            return e.script
        try:
            data = e.path.read_bytes()
        except OSError as exc:
            log.warning("cannot read pipeline script %s: %s", e.path, exc)
            return e.script
        e.sig = sig
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if digest == e.digest:
            return e.script
        e.digest = digest
        try:
            script = compile_script(data.decode("utf-8-sig", "replace"), e.label, self.budget)
        except CompileError as exc:
            self.compile_errors += 1
            COMPILE_ERRORS.labels(script=e.label).inc()
            e.error = str(exc)
            kept = "keeping the last good version" if e.script is not None else "not loaded"
            log.error("pipeline script %s does not compile (%s):\n%s", e.label, kept, exc)
            return e.script
        script.resolver = functools.partial(self.get, category)
        e.script, e.error = script, None
        return script
