"""Shared fixtures. tests/support/ holds the real-process helpers (Dataway stand-in, process runner)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.dataway import DatawayStandIn  # noqa: E402
from support.procs import ProcessRunner  # noqa: E402


@pytest.fixture
def dataway():
    """A real HTTP Dataway stand-in on 127.0.0.1:<free port>; records every request it gets."""
    server = DatawayStandIn()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def procs(tmp_path):
    """Start console scripts as real processes; every one is killed at teardown."""
    runner = ProcessRunner(tmp_path)
    try:
        yield runner
    finally:
        runner.cleanup()
