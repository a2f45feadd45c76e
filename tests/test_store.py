"""The seller store: both backends, same scenarios, plus each one's failure modes."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from collect.errors import StoreError
from collect.models import Product
from collect.store import (
    BatchCounts,
    CsvStore,
    SightingRecord,
    SqliteStore,
    Store,
    open_store,
)

T1 = "2026-01-01T10:00:00.000Z"
T2 = "2026-01-01T11:00:00.000Z"
T3 = "2026-01-02T09:00:00.000Z"


def sighting(
    seller: str,
    asin: str = "B000000001",
    worker: int = 1,
    seen_at: str = T1,
    percent: float | None = 99.5,
    count: int | None = 1200,
) -> SightingRecord:
    return SightingRecord(seller, percent, count, asin, worker, seen_at)


@pytest.fixture(params=["sellers.db", "sellers.csv"], ids=["sqlite", "csv"])
def store_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / request.param


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    opened = open_store(store_path)
    yield opened
    opened.close()


def reopen(store: Store, path: Path) -> Store:
    store.close()
    return open_store(path)


def test_open_store_picks_backend_by_suffix(tmp_path: Path) -> None:
    """`.csv` (any case) makes a CSV store; anything else is SQLite."""
    assert isinstance(open_store(tmp_path / "a.CSV"), CsvStore)
    assert isinstance(open_store(tmp_path / "a.db"), SqliteStore)
    assert isinstance(open_store(tmp_path / "a"), SqliteStore)


def test_new_sellers_are_inserted(store: Store) -> None:
    """Sellers the store has never seen are inserted with all their fields."""
    result = store.apply_sightings(
        [sighting("Alice"), sighting("Bob", worker=2)], "run-1", T1
    )
    assert result.totals == BatchCounts(received=2, inserted=2)
    assert result.by_worker == {
        1: BatchCounts(received=1, inserted=1),
        2: BatchCounts(received=1, inserted=1),
    }
    row = store.get_seller("alice")
    assert row is not None
    assert (row.name, row.normalized_name) == ("Alice", "alice")
    assert (row.feedback_percent, row.feedback_count) == (99.5, 1200)
    assert (row.sightings, row.products) == (1, 1)
    assert (row.first_seen, row.last_seen, row.first_run, row.last_run) == (
        T1,
        T1,
        "run-1",
        "run-1",
    )
    assert store.seller_count() == 2


def test_batch_is_deduplicated_by_normalized_name(store: Store) -> None:
    """Spellings of one seller merge; the first sighting's worker gets the insert."""
    batch = [
        sighting("Alice", worker=1, seen_at=T1),
        sighting("ALICE", worker=2, seen_at=T2, percent=None, count=1300),
        sighting("a\u200blice ", worker=2, seen_at=T1, percent=98.0, count=None),
    ]
    result = store.apply_sightings(batch, "run-1", T1)
    assert result.totals == BatchCounts(received=3, deduped=2, inserted=1)
    assert result.by_worker == {
        1: BatchCounts(received=1, inserted=1),
        2: BatchCounts(received=2, deduped=2),
    }
    row = store.get_seller("Alice")
    assert row is not None
    # Display name as last seen; latest non-null feedback of each kind.
    assert (row.name, row.feedback_percent, row.feedback_count) == ("alice", 98.0, 1300)
    assert (row.sightings, row.products, row.first_seen, row.last_seen) == (
        3,
        1,
        T1,
        T2,
    )


def test_known_sellers_are_updated(store: Store) -> None:
    """A later batch adds sightings and products and keeps the first-seen facts."""
    store.apply_sightings([sighting("Alice", asin="A1")], "run-1", T1)
    result = store.apply_sightings(
        [
            sighting("alice", asin="A1", seen_at=T3, percent=None, count=None),
            sighting("Alice", asin="A2", worker=3, seen_at=T3, percent=None),
        ],
        "run-2",
        T3,
    )
    assert result.totals == BatchCounts(received=2, deduped=1, updated=1)
    assert result.by_worker == {
        1: BatchCounts(received=1, updated=1),
        3: BatchCounts(received=1, deduped=1),
    }
    row = store.get_seller("ALICE")
    assert row is not None
    assert (row.name, row.feedback_percent, row.feedback_count) == ("Alice", 99.5, 1200)
    assert (row.sightings, row.products) == (3, 2)
    assert (row.first_seen, row.last_seen, row.first_run, row.last_run) == (
        T1,
        T3,
        "run-1",
        "run-2",
    )
    assert store.seller_asins("alice") == ["A1", "A2"]


def test_last_seen_never_moves_back(store: Store) -> None:
    """A late-arriving older sighting does not rewind last_seen."""
    store.apply_sightings([sighting("Alice", seen_at=T3)], "run-1", T3)
    store.apply_sightings([sighting("Alice", seen_at=T1)], "run-1", T3)
    row = store.get_seller("alice")
    assert row is not None
    assert (row.last_seen, row.sightings) == (T3, 2)


def test_same_product_counts_once(store: Store) -> None:
    """Distinct products: the same ASIN across batches is one product."""
    for _ in range(3):
        store.apply_sightings([sighting("Alice", asin="A1")], "run-1", T1)
    row = store.get_seller("alice")
    assert row is not None
    assert (row.sightings, row.products) == (3, 1)


@pytest.mark.parametrize(
    "empty", ["", "   ", "\u200b\u200d", "\u202e", "\x00\x07"], ids=repr
)
def test_empty_names_are_dropped_and_counted(store: Store, empty: str) -> None:
    """A name with nothing visible is dropped, per worker, never stored."""
    result = store.apply_sightings(
        [sighting(empty, worker=4), sighting("Bob", worker=4)], "run-1", T1
    )
    assert result.by_worker == {4: BatchCounts(received=2, inserted=1, dropped=1)}
    assert store.seller_count() == 1


HOSTILE_NAMES = [
    pytest.param('=HYPERLINK("http://evil.example","x")', id="formula"),
    pytest.param("+cmd|' /C calc'!A0", id="plus-dde"),
    pytest.param("-2+3", id="minus"),
    pytest.param("@SUM(1)", id="at"),
    pytest.param("'quoted", id="leading-quote"),
    pytest.param("shop_🛒_deals👍", id="emoji"),
    pytest.param("عربي_seller", id="rtl-letters"),
    pytest.param("x" * 10_000, id="10kB"),
    pytest.param('comma, "quote"', id="csv-syntax"),
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_round_trip(store: Store, store_path: Path, name: str) -> None:
    """Hostile names are stored as seen and read back unchanged after reopening."""
    store.apply_sightings([sighting(name)], "run-1", T1)
    store = reopen(store, store_path)
    try:
        (row,) = list(store.iter_sellers())
        assert row.name == name
        assert row.normalized_name == name.casefold()
    finally:
        store.close()


def test_evidence_order(store: Store) -> None:
    """Distinct products desc, then sightings desc, then normalized name."""
    store.apply_sightings(
        [
            sighting("zed", asin="A1"),
            sighting("zed", asin="A2"),
            sighting("Amy", asin="A1"),
            sighting("Amy", asin="A1"),
            sighting("amos", asin="A1"),
            sighting("Bea", asin="A3"),
            sighting("Bea", asin="A3"),
            sighting("carl", asin="A3"),
        ],
        "run-1",
        T1,
    )
    names = [row.normalized_name for row in store.iter_sellers()]
    assert names == ["zed", "amy", "bea", "amos", "carl"]
    assert [r.normalized_name for r in store.iter_sellers(min_products=2)] == ["zed"]
    assert [r.normalized_name for r in store.iter_sellers(limit=2)] == ["zed", "amy"]
    assert [r.normalized_name for r in store.iter_sellers("name")] == sorted(names)


def test_unknown_order_is_refused(store: Store) -> None:
    """A typo in the order name is an error, not a silent default."""
    with pytest.raises(ValueError, match="order must be one of"):
        list(store.iter_sellers("size"))


def test_everything_survives_reopening(store: Store, store_path: Path) -> None:
    """Sellers, products and runs are on disk after close."""
    store.record_run_start("run-1", T1, {"workers": 4})
    store.apply_sightings([sighting("Alice", asin="A1"), sighting("Bob")], "run-1", T1)
    store.add_products([Product("A1", "Mug", 9.99, "USD", 1, "172282")], "run-1", T1)
    store.record_run_end("run-1", T2, "complete", {"sightings": 2})
    before = list(store.iter_sellers())

    store = reopen(store, store_path)
    try:
        assert list(store.iter_sellers()) == before
        assert store.seller_asins("alice") == ["A1"]
        assert store.get_run("run-1") == {
            "run_id": "run-1",
            "started_at": T1,
            "finished_at": T2,
            "status": "complete",
            "settings": {"workers": 4},
            "totals": {"sightings": 2},
        }
    finally:
        store.close()


def test_products_are_upserted_by_asin(store: Store) -> None:
    """The same ASIN twice (even in one call) is one product, latest data wins."""
    stored = store.add_products(
        [
            Product("A1", "Old title", 5.0, "USD", 3, "1"),
            Product("A1", "New title", 6.0, "USD", 2, "1"),
            Product("A2", "Other", None, None, 1, "2"),
        ],
        "run-1",
        T1,
    )
    assert stored == 2
    assert (
        store.add_products([Product("A1", "Newest", 7.0, "USD", 1, "1")], "r2", T2) == 1
    )


def test_unknown_run_is_none(store: Store) -> None:
    """get_run answers None for a run the store never saw."""
    assert store.get_run("nope") is None


def test_run_end_without_start_is_recorded(store: Store) -> None:
    """A run whose start was never recorded still gets its end."""
    store.record_run_end("run-9", T2, "abandoned", {})
    run = store.get_run("run-9")
    assert run is not None
    assert (run["status"], run["started_at"], run["totals"]) == ("abandoned", T2, {})


def test_large_batch_spans_lookup_chunks(store: Store) -> None:
    """Batches bigger than SQLite's variable limit look up and update correctly."""
    first = [sighting(f"seller{i}", asin="A1") for i in range(2500)]
    assert store.apply_sightings(first, "run-1", T1).totals.inserted == 2500
    second = [sighting(f"SELLER{i}", asin=f"A{i % 3}") for i in range(3000)]
    result = store.apply_sightings(second, "run-2", T2)
    assert result.totals == BatchCounts(received=3000, inserted=500, updated=2500)
    assert store.seller_count() == 3000
    row = store.get_seller("seller2")  # i % 3 == 2: a new product
    assert row is not None
    assert (row.sightings, row.products) == (2, 2)
    row = store.get_seller("seller3")  # i % 3 == 0: A0, new as well
    assert row is not None
    assert row.products == 2
    row = store.get_seller("seller1")  # i % 3 == 1: A1 again
    assert row is not None
    assert row.products == 1


# --- SQLite only ------------------------------------------------------------------


def test_sqlite_settings_and_schema_version(tmp_path: Path) -> None:
    """WAL journal, schema_version recorded in meta."""
    path = tmp_path / "s.db"
    open_store(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT value FROM meta").fetchall() == [("1",)]
    conn.close()


def test_sqlite_newer_schema_is_refused(tmp_path: Path) -> None:
    """A store written by a newer collect is not silently misread."""
    path = tmp_path / "s.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99") as caught:
        open_store(path)
    assert caught.value.hint == "upgrade collect, or use another --store path"


def test_sqlite_rejects_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    """Any other file at the store path is a clear StoreError with a hint."""
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a database\n" * 100)
    with pytest.raises(StoreError, match="is not a SQLite seller store") as caught:
        open_store(path)
    assert caught.value.hint is not None
    assert ".csv" in caught.value.hint
    assert path.read_bytes() == b"this is not a database\n" * 100


def test_sqlite_locked_store_is_a_store_error(tmp_path: Path) -> None:
    """Another process holding the write lock gives StoreError, not a traceback."""
    path = tmp_path / "s.db"
    store = SqliteStore(path, busy_timeout=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="locked by another process"):
            store.apply_sightings([sighting("Alice")], "run-1", T1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.apply_sightings([sighting("Alice")], "run-1", T1).totals.inserted == 1
    store.close()


def test_sqlite_full_disk_rolls_back_the_batch(tmp_path: Path) -> None:
    """A full disk is StoreError with a hint; the store keeps its last commit."""
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    store.apply_sightings([sighting("Alice")], "run-1", T1)
    # max_page_count makes SQLite report SQLITE_FULL exactly as a full disk does.
    (pages,) = store._conn.execute("PRAGMA page_count").fetchone()
    store._conn.execute(f"PRAGMA max_page_count = {pages}")
    batch = [sighting(f"seller-{i}-" + "x" * 200) for i in range(2000)]
    with pytest.raises(StoreError, match="no space left") as caught:
        store.apply_sightings(batch, "run-1", T1)
    assert caught.value.hint == (
        "free some disk space; the batch being written was rolled back"
    )
    assert store.seller_count() == 1
    store.close()


def test_sqlite_folder_missing(tmp_path: Path) -> None:
    """A store path in a folder that does not exist says so."""
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "missing" / "s.db")


def test_store_path_is_a_folder(tmp_path: Path) -> None:
    """A folder given as the store path says so."""
    with pytest.raises(StoreError, match="is a folder"):
        open_store(tmp_path)


# --- CSV only ---------------------------------------------------------------------


def test_csv_files_and_formula_escaping(tmp_path: Path) -> None:
    """Sellers file with asins, products sidecar; formulas quoted on disk."""
    path = tmp_path / "sellers.csv"
    store = open_store(path)
    store.apply_sightings(
        [sighting("=EVIL()", asin="A1"), sighting("=evil()", asin="A2")], "run-1", T1
    )
    store.add_products([Product("A1", "Mug", 9.99, "USD", 1, "172282")], "run-1", T1)
    assert path.read_text(encoding="utf-8").splitlines() == [
        "name,normalized_name,feedback_percent,feedback_count,sightings,products,"
        "first_seen,last_seen,first_run,last_run,asins",
        f"'=evil(),'=evil(),99.5,1200,2,2,{T1},{T1},run-1,run-1,A1 A2",
    ]
    assert (tmp_path / "sellers.products.csv").read_text().splitlines()[1] == (
        f"A1,Mug,9.99,USD,172282,1,{T1},{T1},run-1,run-1"
    )
    assert sorted(os.listdir(tmp_path)) == ["sellers.csv", "sellers.products.csv"]


def test_csv_with_other_columns_is_refused(tmp_path: Path) -> None:
    """A CSV that is not ours is refused rather than overwritten."""
    path = tmp_path / "contacts.csv"
    path.write_text("email,phone\na@b.c,123\n")
    with pytest.raises(StoreError, match="is not a collect CSV store"):
        open_store(path)
    assert path.read_text() == "email,phone\na@b.c,123\n"


def test_csv_empty_file_is_an_empty_store(tmp_path: Path) -> None:
    """A file made with `touch` is an empty store."""
    path = tmp_path / "new.csv"
    path.touch()
    assert open_store(path).seller_count() == 0


def test_csv_binary_file_is_refused(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 text are a StoreError."""
    path = tmp_path / "blob.csv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(StoreError, match="not a readable CSV store"):
        open_store(path)


def test_csv_failed_write_keeps_file_and_memory_in_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC during a rewrite: StoreError, old file intact, no temp file left."""
    path = tmp_path / "sellers.csv"
    store = open_store(path)
    store.apply_sightings([sighting("Alice")], "run-1", T1)
    before = path.read_bytes()

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(StoreError, match="No space left on device") as caught:
        store.apply_sightings([sighting("Bob")], "run-1", T1)
    assert (
        caught.value.hint == "free some disk space; the file was left as it was before"
    )
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["sellers.csv"]
    assert store.seller_count() == 1
