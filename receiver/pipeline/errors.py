"""The exception tree of the pipeline engine (platypus.md §6.10).

    PipelineError
    ├── CompileError        the script is rejected; .line, .column, .source_line, .script
    └── ScriptError         a run of one point failed; .line, .column, .script, .reason

    ScriptRuntimeError      (registry.py) raised by built-ins and operator helpers to
    └── BudgetExceeded      abort the run of one point; the runtime turns it into a
                            positioned ScriptError message on the RunResult.

    ScriptExit              (BaseException) `exit()`: stops the script, not an error.

Both positioned errors render like a compiler: `name:line:col: message`, then the
source line and a caret under the column (the way Jinja and jmespath report).
"""

from __future__ import annotations

from .registry import ScriptRuntimeError

__all__ = [
    "BudgetExceeded", "CompileError", "PipelineError", "ScriptError", "ScriptExit", "ScriptRuntimeError",
    "render_position",
]


def render_position(script: str, line: int, column: int, message: str, source_line: str | None) -> str:
    """`script:line:col: message` plus the source line and a caret (when the line is known)."""
    head = f"{script}:{line}:{column}: {message}" if line else f"{script}: {message}"
    if not source_line or not line:
        return head
    text = source_line.rstrip("\r\n").replace("\t", " ")
    gutter = f"{line:>4} | "
    caret = " " * (len(gutter) - 2) + "| " + " " * max(column - 1, 0) + "^"
    return f"{head}\n{gutter}{text}\n{caret}"


class PipelineError(Exception):
    """Root of every error the pipeline engine raises."""


class CompileError(PipelineError):
    """A script failed to compile; carries the position and what was expected."""

    def __init__(self, message: str, line: int = 0, column: int = 0, source_line: str | None = None,
                 script: str = "<script>") -> None:
        self.reason = message
        self.line = line
        self.column = column
        self.source_line = source_line
        self.script = script
        super().__init__(render_position(script, line, column, message, source_line))


class ScriptError(PipelineError):
    """A run failed at a position of the script (the point keeps its changes so far)."""

    def __init__(self, message: str, line: int = 0, column: int = 0, source_line: str | None = None,
                 script: str = "<script>") -> None:
        self.reason = message
        self.line = line
        self.column = column
        self.source_line = source_line
        self.script = script
        super().__init__(render_position(script, line, column, message, None))

    def render(self) -> str:
        """The message with the source line and a caret."""
        return render_position(self.script, self.line, self.column, self.reason, self.source_line)


class BudgetExceeded(ScriptRuntimeError):
    """The run of one point exceeded its time budget (a runaway loop or a slow built-in)."""


class ScriptExit(BaseException):
    """Raised by `ctx.exit()`: ends the script successfully. A BaseException so that a
    built-in's `except Exception` cannot swallow it."""
