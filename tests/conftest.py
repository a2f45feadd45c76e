"""Shared fixtures: the recorded samples that live beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The recorded samples live beside the repository; COLLECT_SAMPLES points elsewhere.
SAMPLES = Path(
    os.environ.get("COLLECT_SAMPLES")
    or Path(__file__).resolve().parents[2] / "shared" / "samples"
)


@pytest.fixture(scope="session")
def samples() -> Path:
    """The recorded samples folder; tests that need it skip when it is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(
            f"recorded samples not found at {SAMPLES} "
            "(put them in ../shared/samples or set COLLECT_SAMPLES)"
        )
    return SAMPLES
