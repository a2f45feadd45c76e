"""Logging set-up shared by the CLI and the child processes: stderr only."""

from __future__ import annotations

import logging
import sys

FORMAT = "collect: %(levelname)s: %(message)s"


def setup_logging(level: int = logging.WARNING) -> None:
    """Send log records to stderr, never stdout, which carries only events."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    root.setLevel(level)
