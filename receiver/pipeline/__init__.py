"""The Platypus pipeline engine: compile DataKit pipeline scripts to Python and run them on points.

    script = compile_script(source, "nginx.p")        # CompileError with line/column/caret
    result = script.run(point, "logging")              # RunResult(point, dropped, error, extra)
    store = ScriptStore("pipelines")                   # <dir>/<name>.p, <dir>/<category>/<name>.p
    batch = run_batch(store, "logging", points)        # BatchResult(points, dropped, errors, ...)

Phases: lexer -> parser (nodes) -> analysis + compiler (Python source, one function per
script) -> runtime (Context for built-ins, post-processing). Built-in functions live in
`builtins/` and register themselves through `registry.builtin`.
"""

from .batch import BatchResult, run_batch
from .errors import BudgetExceeded, CompileError, PipelineError, ScriptError, ScriptRuntimeError
from .runtime import DEFAULT_BUDGET, Context, RunResult, Script, compile_script
from .store import ScriptStore

__all__ = [
    "BatchResult", "BudgetExceeded", "CompileError", "Context", "DEFAULT_BUDGET", "PipelineError", "RunResult",
    "Script", "ScriptError", "ScriptRuntimeError", "ScriptStore", "compile_script", "run_batch",
]
