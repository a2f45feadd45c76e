"""One run per store: the lock, whatever path names the store."""

from __future__ import annotations

import os

import pytest

from collect.errors import StoreBusy
from collect.lock import store_lock


def test_second_holder_is_refused_with_the_first_named(tmp_path):
    """While one run holds the store, another is told which process has it."""
    store = str(tmp_path / "s.db")
    with (
        store_lock(store, "run-1", "2026-12-04T00:00:00.000Z"),
        pytest.raises(StoreBusy) as caught,
        store_lock(store, "run-2", "2026-12-04T00:00:01.000Z"),
    ):
        pass
    message = str(caught.value)
    assert f"pid {os.getpid()}" in message and "run-1" in message


@pytest.mark.parametrize("spelling", ["link", "dotted"], ids=str)
def test_another_path_to_the_same_store_meets_the_same_lock(tmp_path, spelling):
    """A symlink or a path with `..` still finds the running run's lock."""
    store = tmp_path / "s.db"
    store.touch()
    if spelling == "link":
        other = tmp_path / "alias.db"
        other.symlink_to(store)
    else:
        (tmp_path / "sub").mkdir()
        other = tmp_path / "sub" / ".." / "s.db"
    with (
        store_lock(str(store), "run-1", "t"),
        pytest.raises(StoreBusy),
        store_lock(str(other), "run-2", "t"),
    ):
        pass


def test_the_lock_is_free_again_after_the_run(tmp_path):
    """Leaving the block releases the lock; a killed process releases it too
    (flock), so the next run simply takes it."""
    store = str(tmp_path / "s.db")
    with store_lock(store, "run-1", "t"):
        pass
    with store_lock(store, "run-2", "t"):
        pass
