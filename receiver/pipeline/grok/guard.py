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

__all__ = ["RegexTimeout", "available", "run", "LIMIT_TICKS", "TICK_S"]

TICK_S = 0.01
LIMIT_TICKS = 3
_IDLE_TICKS = 100


class RegexTimeout(Exception):
    """A guarded match ran past its budget."""


_main = threading.main_thread()
_state = {"installed": None, "armed": False}
_ticks = 0
_start = -1  # tick at which the running guarded match started; -1 = none running
_last_use = 0


def _on_tick(signum, frame) -> None:
    global _ticks
    _ticks += 1
    if _start >= 0:
        if _ticks - _start >= LIMIT_TICKS:
            raise RegexTimeout()
    elif _ticks - _last_use > _IDLE_TICKS:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _state["armed"] = False


def _disarm() -> None:
    if _state["armed"]:
        _state["armed"] = False
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        except (ValueError, OSError):
            pass


def _after_fork() -> None:
    # interval timers are not inherited by a forked child: re-arm there on first use
    global _main
    _state["armed"] = False
    _main = threading.main_thread()


atexit.register(_disarm)
os.register_at_fork(after_in_child=_after_fork)


def available() -> bool:
    """True when the calling thread can be interrupted by the guard."""
    if threading.current_thread() is not _main:
        return False
    installed = _state["installed"]
    if installed is None:
        try:
            if signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGALRM, _on_tick)
                installed = True
            else:
                installed = False
        except (ValueError, OSError):
            installed = False
        _state["installed"] = installed
    return installed


def run(func, s, pos):
    """Call func(s, pos) under the guard; raises RegexTimeout when it runs too long."""
    global _start, _last_use
    if not _state["armed"]:
        if signal.getsignal(signal.SIGALRM) is not _on_tick:  # someone took SIGALRM over
            _state["installed"] = False
            raise RegexTimeout()
        _state["armed"] = True
        signal.setitimer(signal.ITIMER_REAL, TICK_S, TICK_S)
    _start = _ticks
    try:
        return func(s, pos)
    finally:
        _start = -1
        _last_use = _ticks
