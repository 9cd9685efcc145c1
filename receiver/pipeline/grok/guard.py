"""The tick guard: interrupt a Python `re` match that runs too long, so the caller can re-run it in RE2.

CPython's sre checks for pending signals while it backtracks, so a SIGALRM handler that raises
stops a runaway match. Arming a one-shot timer around every match costs ~2 µs (two setitimer
calls); instead a periodic 10 ms ITIMER_REAL tick counts time, and a match only records the tick
it started at (~0.1 µs). The handler raises `RegexTimeout` when a guarded match has been running
for `LIMIT_TICKS` ticks (20-30 ms). The timer disarms itself after ~1 s without guarded work.

Signals are delivered to the main thread only, so the guard is available only there, and only
if nobody else owns SIGALRM (the handler is installed once, and never over a foreign one).
"""

from __future__ import annotations

import atexit
import os
import signal
import threading

__all__ = ["NOT_AVAILABLE", "RegexTimeout", "available", "call", "run", "searcher", "LIMIT_TICKS", "TICK_S"]

TICK_S = 0.01
LIMIT_TICKS = 3
_IDLE_TICKS = 100


class RegexTimeout(Exception):
    """A guarded match ran past its budget."""


_main_ident = threading.main_thread().ident
_installed: bool | None = None  # our SIGALRM handler is in place (None: not tried yet)
_armed = False
_ticks = 0
_start = -1  # tick at which the running guarded match started; -1 = none running
_last_use = 0
_get_ident = threading.get_ident


def _on_tick(signum, frame) -> None:
    global _ticks, _armed
    _ticks += 1
    if _start >= 0:
        if _ticks - _start >= LIMIT_TICKS:
            raise RegexTimeout()
    elif _ticks - _last_use > _IDLE_TICKS:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _armed = False


def _disarm() -> None:
    global _armed
    if _armed:
        _armed = False
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        except (ValueError, OSError):
            pass


def _after_fork() -> None:
    # interval timers are not inherited by a forked child: re-arm there on first use
    global _main_ident, _armed
    _armed = False
    _main_ident = threading.main_thread().ident


atexit.register(_disarm)
os.register_at_fork(after_in_child=_after_fork)


def available() -> bool:
    """True when the calling thread can be interrupted by the guard."""
    global _installed
    if _get_ident() != _main_ident:  # a C call: this runs before every guarded match
        return False
    if _installed is None:
        try:
            if signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGALRM, _on_tick)
                _installed = True
            else:
                _installed = False
        except (ValueError, OSError):
            _installed = False
    return _installed


def _arm() -> None:
    global _armed, _installed
    if signal.getsignal(signal.SIGALRM) is not _on_tick:  # someone took SIGALRM over
        _installed = False
        raise RegexTimeout()
    _armed = True
    signal.setitimer(signal.ITIMER_REAL, TICK_S, TICK_S)


NOT_AVAILABLE = object()


def call(func, s, pos):
    """available() and run() in one call (they run before every guarded match): func(s, pos)
    under the guard, or NOT_AVAILABLE when this thread cannot be guarded."""
    global _start, _last_use
    if _get_ident() != _main_ident or not (_installed or available()):
        return NOT_AVAILABLE
    if not _armed:
        _arm()
    _start = _ticks
    try:
        return func(s, pos)
    finally:
        _start = -1
        _last_use = _ticks


def searcher(regex):
    """The `search(s, pos=0)` of a regex.Regex: `re` for inputs up to regex.short, `re` under the
    guard up to regex.guarded (RE2 after a timeout, or where this thread cannot be guarded),
    RE2 beyond. call() inlined, as this runs once per grok and match: one Python frame."""
    py_search = regex.py.search if regex.py is not None else None
    re2_search = regex._re2.search
    short = regex.short

    def search(s, pos=0):
        """First match at or after `pos` (leftmost-first, as RE2), or None."""
        global _start, _last_use
        n = len(s)
        if n <= short:
            return py_search(s, pos)
        if n <= regex.guarded and _get_ident() == _main_ident and (_installed or available()):
            try:
                if not _armed:
                    _arm()
                _start = _ticks
                return py_search(s, pos)
            except RegexTimeout:
                regex._timed_out()
            finally:
                _start = -1
                _last_use = _ticks
        return re2_search(s, pos)

    return search


def run(func, s, pos):
    """Call func(s, pos) under the guard; raises RegexTimeout when it runs too long."""
    global _start, _last_use
    if not _armed:
        _arm()
    _start = _ticks
    try:
        return func(s, pos)
    finally:
        _start = -1
        _last_use = _ticks
