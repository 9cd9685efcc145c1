"""Logging set-up shared by the agent's commands: plain text on stderr, one line per record."""

from __future__ import annotations

import logging
import sys

__all__ = ["setup_logging"]


def setup_logging(level: str = "info") -> None:
    """Log to stderr at `level`; httpx/httpcore stay at WARNING (they log one line per request)."""
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
