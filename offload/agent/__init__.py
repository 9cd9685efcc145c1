"""The reference host agent `offload-agent`: config, inputs (files, stdin, HTTP write API), router, daemon, send.

Names are imported on first use so that `offload-agent check` does not load the
HTTP server and the pipeline engine.
"""

from __future__ import annotations

import importlib

__all__ = [
    "Agent",
    "AgentConfig",
    "FileInput",
    "FileTailer",
    "LocalProcessor",
    "PositionStore",
    "Router",
    "StdinInput",
    "StdinReader",
    "load_config",
    "parse_config",
    "send_files",
]

_WHERE = {
    "Agent": "daemon",
    "AgentConfig": "config",
    "FileInput": "config",
    "StdinInput": "config",
    "load_config": "config",
    "parse_config": "config",
    "FileTailer": "tailer",
    "LocalProcessor": "local",
    "PositionStore": "positions",
    "Router": "router",
    "StdinReader": "stdin",
    "send_files": "send",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"offload.agent.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'offload.agent' has no attribute {name!r}")
