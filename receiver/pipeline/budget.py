"""The per-point time budget (safety): no script run may hold a worker much past its deadline.

`Context.deadline` is `time.monotonic()` at the start of a run plus the budget (100 ms by
default). Generated loops count steps in a local and call `budget_check` every
LOOP_CHECK_EVERY steps (an iteration that calls built-ins counts CALL_WEIGHT steps);
innermost `for x in value` loops instead get their iterable from `checked_iter`, which is
free for short sequences and looks at the clock every LOOP_CHECK_EVERY items of long ones.
Built-ins with long loops of their own call `ctx.check_deadline()`.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

from .errors import BudgetExceeded
from .ops import iter_

__all__ = ["CALL_WEIGHT", "DEFAULT_BUDGET", "LOOP_CHECK_EVERY", "SMALL_LOOP", "budget_check", "checked_iter",
           "over_budget"]

DEFAULT_BUDGET = 0.1  # seconds of run time per point
LOOP_CHECK_EVERY = 256  # loop steps between two looks at the clock
CALL_WEIGHT = 16  # steps an iteration that calls built-ins counts for
SMALL_LOOP = 1024  # a counted innermost loop of at most this many iterations needs no check

_monotonic = time.monotonic


def over_budget(ctx: Any) -> BudgetExceeded:
    return BudgetExceeded(f"run time budget of {ctx.budget * 1000:g} ms exceeded")


def budget_check(ctx: Any) -> int:
    """Called by loops every LOOP_CHECK_EVERY steps: raise once the deadline has passed."""
    if _monotonic() > ctx.deadline:
        raise over_budget(ctx)
    return LOOP_CHECK_EVERY


def checked_iter(ctx: Any, value: Any, weight: int) -> Any:
    """The iterable of an innermost `for x in value` loop (type-checked like ops.iter_). Its
    length bounds the loop; a long one is wrapped so the deadline is watched while iterating."""
    seq = iter_(value)
    if len(seq) * weight <= LOOP_CHECK_EVERY:
        return seq
    return _deadline_iter(ctx, seq, max(1, LOOP_CHECK_EVERY // weight))


def _deadline_iter(ctx: Any, seq: Any, every: int) -> Iterator[Any]:
    for i, item in enumerate(seq):
        if i % every == 0 and _monotonic() > ctx.deadline:
            raise over_budget(ctx)
        yield item
