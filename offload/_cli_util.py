"""Helpers shared by the two command-line front ends."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable


def delegate(target: str) -> Callable[[argparse.Namespace], int]:
    """Return a handler that imports `module:function` only when the command runs (fast --help)."""

    def run(args: argparse.Namespace) -> int:
        module_name, func_name = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                print(f"error: this command is not available in this build ({module_name})", file=sys.stderr)
                return 3
            raise
        return int(getattr(module, func_name)(args) or 0)

    return run
