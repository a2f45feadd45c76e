"""Shared fixtures: the recorded samples that live beside the repository."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from collect.sandbox.server import SandboxConfig, SandboxHandle, start_sandbox

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


@pytest.fixture
def sandbox() -> Iterator[Callable[..., SandboxHandle]]:
    """Start sandboxes with config overrides; all are stopped after the test."""
    handles: list[SandboxHandle] = []

    def start(**overrides: Any) -> SandboxHandle:
        handle = start_sandbox(SandboxConfig(**overrides))
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
