"""Shared fixtures: the recorded samples that live beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    """The recorded samples folder; tests that need it skip when it is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"recorded samples not found at ../shared/samples ({SAMPLES})")
    return SAMPLES
