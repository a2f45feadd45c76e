"""The seller store: every seller seen, keyed by normalized name, with its evidence.

Only the writer process writes to a store; `collect sellers` reads it. Two
backends share one protocol (`Store`) and one merge step (`merge_batch`), so a
batch of sightings means the same thing in both:

- `SqliteStore` (the default): one file in WAL mode, so a reader can export while
  a run is writing. Each batch is one transaction; a killed writer leaves the
  store as of its last commit.
- `CsvStore` (a path ending in `.csv`): the sellers file plus sidecars
  `<stem>.products.csv` and `<stem>.runs.csv`, held in memory and rewritten
  atomically on each change. Meant for small stores that people open in a
  spreadsheet.

Failures to open or write a store raise `collect.errors.StoreError` with a hint.
"""

from __future__ import annotations

import csv
import errno
import logging
import os
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from collect.cells import FORMULA_STARTS, spreadsheet_safe
from collect.errors import StoreError
from collect.models import Product
from collect.normalize import clean_display_name, normalize_seller_name

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ORDERS = ("evidence", "name", "recent")


# (job id, kind "amazon" | "ebay", task key, done at, payload JSON or None)
ProgressRecord = tuple[str, str, str, str, str | None]


@dataclass(frozen=True, slots=True)
class SightingRecord:
    """One seller seen on one eBay search page for one Amazon product."""

    seller: str
    feedback_percent: float | None
    feedback_count: int | None
    asin: str
    source_worker_id: int
    seen_at: str


@dataclass(frozen=True, slots=True)
class BatchCounts:
    """What became of the sightings of one batch (or of one worker's share of it).

    `received == deduped + inserted + updated + dropped`: a seller's first
    sighting in the batch counts as its insert or update, the others as deduped.
    """

    received: int = 0
    deduped: int = 0
    inserted: int = 0
    updated: int = 0
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class BatchResult:
    totals: BatchCounts
    by_worker: dict[int, BatchCounts]


@dataclass(frozen=True, slots=True)
class SellerRow:
    name: str
    normalized_name: str
    feedback_percent: float | None
    feedback_count: int | None
    sightings: int
    products: int
    first_seen: str
    last_seen: str
    first_run: str
    last_run: str


SELLER_COLUMNS = tuple(SellerRow.__dataclass_fields__)


class Store(Protocol):
    def apply_sightings(
        self,
        batch: list[SightingRecord],
        run_id: str,
        seen_at: str,
        progress: Sequence[ProgressRecord] = (),
    ) -> BatchResult: ...

    def add_products(
        self, products: list[Product], run_id: str, seen_at: str
    ) -> int: ...

    def seller_count(self) -> int: ...

    def get_seller(self, name: str) -> SellerRow | None: ...

    def seller_asins(self, name: str) -> list[str]: ...

    def iter_sellers(
        self,
        order: str = "evidence",
        *,
        min_products: int = 0,
        limit: int | None = None,
    ) -> Iterator[SellerRow]: ...

    def record_run_start(
        self, run_id: str, started_at: str, settings: dict[str, Any]
    ) -> None: ...

    def record_run_end(
        self, run_id: str, finished_at: str, status: str, totals: dict[str, Any]
    ) -> None: ...

    def get_run(self, run_id: str) -> dict[str, Any] | None: ...

    def record_progress(self, records: list[ProgressRecord]) -> None: ...

    def load_progress(self, job_id: str, kind: str) -> dict[str, str | None]: ...

    def searched_since(self, cutoff: str) -> set[str]: ...

    def latest_run(self) -> dict[str, Any] | None: ...

    def close(self) -> None: ...


def open_store(path: str | Path, *, busy_timeout: float = 5.0) -> Store:
    """Open (creating if needed) the store at `path`: CSV for `.csv`, else SQLite."""
    path = Path(path)
    if path.is_dir():
        raise StoreError(
            f"store path {path} is a folder", hint="give a file name, e.g. sellers.db"
        )
    if not path.parent.is_dir():
        raise StoreError(
            f"store folder {path.parent} does not exist",
            hint="create the folder first or choose another --store path",
        )
    if path.suffix.lower() == ".csv":
        return CsvStore(path)
    return SqliteStore(path, busy_timeout=busy_timeout)


# --- the merge step both backends share -------------------------------------


@dataclass(slots=True)
class MergedSeller:
    """All sightings of one seller within one batch, folded into one change."""

    key: str
    name: str
    feedback_percent: float | None
    feedback_count: int | None
    sightings: int
    first_seen: str
    last_seen: str
    source_worker_id: int
    asins: dict[str, str] = field(default_factory=dict)  # asin -> first seen

    def add(self, record: SightingRecord, name: str, seen_at: str) -> None:
        self.name = name
        if record.feedback_percent is not None:
            self.feedback_percent = record.feedback_percent
        if record.feedback_count is not None:
            self.feedback_count = record.feedback_count
        self.sightings += 1
        self.first_seen = min(self.first_seen, seen_at)
        self.last_seen = max(self.last_seen, seen_at)
        self.asins.setdefault(record.asin, seen_at)


@dataclass(slots=True)
class MergedBatch:
    sellers: dict[str, MergedSeller]
    received: Counter[int]
    deduped: Counter[int]
    dropped: Counter[int]


def merge_batch(batch: Iterable[SightingRecord], seen_at: str) -> MergedBatch:
    """Fold a batch by normalized name, in arrival order (later wins)."""
    merged = MergedBatch({}, Counter(), Counter(), Counter())
    for record in batch:
        worker = record.source_worker_id
        merged.received[worker] += 1
        key = normalize_seller_name(record.seller)
        name = clean_display_name(record.seller)
        if not key or not name:
            merged.dropped[worker] += 1
            continue
        when = record.seen_at or seen_at
        seller = merged.sellers.get(key)
        if seller is None:
            seller = merged.sellers[key] = MergedSeller(
                key, name, None, None, 0, when, when, worker
            )
        else:
            merged.deduped[worker] += 1
        seller.add(record, name, when)
    return merged


def tally(merged: MergedBatch, known: Iterable[str]) -> BatchResult:
    """Count inserts and updates, given which keys the store already held."""
    known = set(known)
    inserted: Counter[int] = Counter()
    updated: Counter[int] = Counter()
    for key, seller in merged.sellers.items():
        target = updated if key in known else inserted
        target[seller.source_worker_id] += 1
    by_worker = {
        worker: BatchCounts(
            received=merged.received[worker],
            deduped=merged.deduped[worker],
            inserted=inserted[worker],
            updated=updated[worker],
            dropped=merged.dropped[worker],
        )
        for worker in sorted(merged.received)
    }
    return BatchResult(_sum_counts(by_worker.values()), by_worker)


def _sum_counts(parts: Iterable[BatchCounts]) -> BatchCounts:
    parts = list(parts)
    return BatchCounts(
        *(sum(getattr(part, name) for part in parts) for name in BatchCounts.__slots__)
    )


def _check_order(order: str) -> None:
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, not {order!r}")


# --- SQLite -------------------------------------------------------------------

# Old SQLite builds cap a statement at 999 bound variables; newer ones allow
# 32766, but chunks of this size already make each look-up a single cheap query.
_MAX_VARIABLES = 999

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sellers (
    id INTEGER PRIMARY KEY,
    normalized_name TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    feedback_percent REAL,
    feedback_count INTEGER,
    sightings INTEGER NOT NULL,
    products INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    first_run TEXT NOT NULL,
    last_run TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sellers_by_evidence
    ON sellers (products DESC, sightings DESC, normalized_name);
CREATE TABLE IF NOT EXISTS seller_products (
    seller_id INTEGER NOT NULL REFERENCES sellers (id),
    asin TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    first_run TEXT NOT NULL,
    PRIMARY KEY (seller_id, asin)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS products (
    asin TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    price REAL,
    currency TEXT,
    node_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    first_run TEXT NOT NULL,
    last_run TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    settings TEXT NOT NULL,
    totals TEXT
);
CREATE TABLE IF NOT EXISTS progress (
    job_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    done_at TEXT NOT NULL,
    payload TEXT,
    PRIMARY KEY (job_id, kind, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS progress_by_key ON progress (kind, key, done_at);
"""

_INSERT_PROGRESS = "INSERT OR REPLACE INTO progress VALUES (?, ?, ?, ?, ?)"
_SELECT_SELLER = f"SELECT {', '.join(SELLER_COLUMNS)} FROM sellers"
_ORDER_SQL = {
    "evidence": "products DESC, sightings DESC, normalized_name",
    "name": "normalized_name",
    "recent": "last_seen DESC, normalized_name",
}
_INSERT_SELLER = """
INSERT INTO sellers (id, normalized_name, name, feedback_percent, feedback_count,
    sightings, products, first_seen, last_seen, first_run, last_run)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_UPDATE_SELLER = """
UPDATE sellers SET name = ?,
    feedback_percent = coalesce(?, feedback_percent),
    feedback_count = coalesce(?, feedback_count),
    sightings = sightings + ?, products = products + ?,
    last_seen = max(last_seen, ?), last_run = ?
WHERE id = ?
"""
_INSERT_PAIR = """
INSERT INTO seller_products (seller_id, asin, first_seen, first_run) VALUES (?, ?, ?, ?)
"""
_UPSERT_PRODUCT = """
INSERT INTO products (asin, title, price, currency, node_id, position,
    first_seen, last_seen, first_run, last_run)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (asin) DO UPDATE SET title = excluded.title, price = excluded.price,
    currency = excluded.currency, node_id = excluded.node_id,
    position = excluded.position, last_seen = excluded.last_seen,
    last_run = excluded.last_run
"""


_UPSERT_RUN_START = """
INSERT INTO runs (run_id, started_at, status, settings) VALUES (?, ?, 'running', ?)
ON CONFLICT (run_id) DO UPDATE SET started_at = excluded.started_at,
    status = excluded.status, settings = excluded.settings
"""
_UPSERT_RUN_END = """
INSERT INTO runs (run_id, started_at, finished_at, status, settings, totals)
VALUES (?, ?, ?, ?, '{}', ?)
ON CONFLICT (run_id) DO UPDATE SET finished_at = excluded.finished_at,
    status = excluded.status, totals = excluded.totals
"""


class SqliteStore:
    """The default store: one SQLite file, one transaction per batch."""

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        self.path = path
        with _sqlite_errors(path):
            # Autocommit mode: transactions are opened explicitly with BEGIN
            # IMMEDIATE, so a locked store fails at the start of a batch rather
            # than half-way through it.
            self._conn = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None
            )
        try:
            self._set_up()
        except BaseException:
            self._conn.close()
            raise

    def _set_up(self) -> None:
        # WAL lets `collect sellers` read while a run writes; NORMAL sync keeps
        # every commit atomic and, on power loss, loses at most the last commits.
        with _sqlite_errors(self.path):
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            # Sightings hit sellers at random, so every batch dirties pages all
            # over the file. A 64 MiB page cache and a checkpoint every ~40 MiB of
            # WAL (not SQLite's 4 MiB) measured 2-3x faster on 100,000 sellers.
            self._conn.execute("PRAGMA cache_size = -65536")
            self._conn.execute("PRAGMA wal_autocheckpoint = 10000")
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            self._check_schema_version()

    def _check_schema_version(self) -> None:
        row = self._conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'"
        ).fetchone()
        if row is None:
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        elif int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {row[0]}; this collect "
                f"knows versions up to {SCHEMA_VERSION}",
                hint="upgrade collect, or use another --store path",
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with _sqlite_errors(self.path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                # SQLite rolls back by itself on some errors (a full disk).
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def apply_sightings(
        self,
        batch: list[SightingRecord],
        run_id: str,
        seen_at: str,
        progress: Sequence[ProgressRecord] = (),
    ) -> BatchResult:
        """Apply one batch; `progress` (tasks whose sightings these are) commits in
        the same transaction, so a resumed run never counts a page twice."""
        merged = merge_batch(batch, seen_at)
        sellers = merged.sellers
        with self._transaction():
            known = self._lookup_ids(list(sellers))
            old_pairs = self._lookup_pairs(known, sellers)
            new_ids = self._insert_sellers(sellers, known, run_id)
            self._update_sellers(sellers, known, old_pairs, run_id)
            self._insert_pairs(sellers, known | new_ids, old_pairs, run_id)
            if progress:
                self._conn.executemany(_INSERT_PROGRESS, progress)
        return tally(merged, known)

    def _lookup_ids(self, keys: list[str]) -> dict[str, int]:
        known: dict[str, int] = {}
        for chunk in _chunks(keys, _MAX_VARIABLES):
            marks = ", ".join("?" * len(chunk))
            rows = self._conn.execute(
                "SELECT normalized_name, id FROM sellers "
                f"WHERE normalized_name IN ({marks})",
                chunk,
            )
            known.update(rows)
        return known

    def _lookup_pairs(
        self, known: dict[str, int], sellers: dict[str, MergedSeller]
    ) -> set[tuple[int, str]]:
        """The (seller id, ASIN) pairs of this batch that the store already has."""
        wanted = [
            (seller_id, asin)
            for key, seller_id in known.items()
            for asin in sellers[key].asins
        ]
        found: set[tuple[int, str]] = set()
        for chunk in _chunks(wanted, _MAX_VARIABLES // 2):
            values = ", ".join("(?, ?)" for _ in chunk)
            # A join on the primary key: one index probe per pair.
            rows = self._conn.execute(
                f"SELECT sp.seller_id, sp.asin FROM (VALUES {values}) AS v "
                "JOIN seller_products AS sp "
                "ON sp.seller_id = v.column1 AND sp.asin = v.column2",
                [value for pair in chunk for value in pair],
            )
            found.update(rows)
        return found

    def _insert_sellers(
        self, sellers: dict[str, MergedSeller], known: dict[str, int], run_id: str
    ) -> dict[str, int]:
        # Ids are handed out here rather than by SQLite so that the pairs of new
        # sellers can go in with one executemany, without a look-up per row.
        # Safe because the transaction holds the write lock.
        (next_id,) = self._conn.execute(
            "SELECT coalesce(max(id), 0) + 1 FROM sellers"
        ).fetchone()
        new_keys = [key for key in sellers if key not in known]
        new_ids = {key: next_id + offset for offset, key in enumerate(new_keys)}
        self._conn.executemany(
            _INSERT_SELLER,
            (_seller_values(new_ids[key], sellers[key], run_id) for key in new_keys),
        )
        return new_ids

    def _update_sellers(
        self,
        sellers: dict[str, MergedSeller],
        known: dict[str, int],
        old_pairs: set[tuple[int, str]],
        run_id: str,
    ) -> None:
        rows = []
        for key, seller_id in known.items():
            seller = sellers[key]
            new_products = sum(
                (seller_id, asin) not in old_pairs for asin in seller.asins
            )
            rows.append(
                (
                    seller.name,
                    seller.feedback_percent,
                    seller.feedback_count,
                    seller.sightings,
                    new_products,
                    seller.last_seen,
                    run_id,
                    seller_id,
                )
            )
        self._conn.executemany(_UPDATE_SELLER, rows)

    def _insert_pairs(
        self,
        sellers: dict[str, MergedSeller],
        ids: dict[str, int],
        old_pairs: set[tuple[int, str]],
        run_id: str,
    ) -> None:
        rows = (
            (ids[key], asin, first_seen, run_id)
            for key, seller in sellers.items()
            for asin, first_seen in seller.asins.items()
            if (ids[key], asin) not in old_pairs
        )
        self._conn.executemany(_INSERT_PAIR, rows)

    def add_products(self, products: list[Product], run_id: str, seen_at: str) -> int:
        latest = {product.asin: product for product in products}
        rows = [
            (*_product_values(p), seen_at, seen_at, run_id, run_id)
            for p in latest.values()
        ]
        with self._transaction():
            self._conn.executemany(_UPSERT_PRODUCT, rows)
        return len(rows)

    def seller_count(self) -> int:
        with _sqlite_errors(self.path):
            return self._conn.execute("SELECT count(*) FROM sellers").fetchone()[0]

    def get_seller(self, name: str) -> SellerRow | None:
        with _sqlite_errors(self.path):
            row = self._conn.execute(
                f"{_SELECT_SELLER} WHERE normalized_name = ?",
                (normalize_seller_name(name),),
            ).fetchone()
        return None if row is None else SellerRow(*row)

    def seller_asins(self, name: str) -> list[str]:
        with _sqlite_errors(self.path):
            rows = self._conn.execute(
                "SELECT sp.asin FROM seller_products AS sp "
                "JOIN sellers AS s ON s.id = sp.seller_id "
                "WHERE s.normalized_name = ? ORDER BY sp.asin",
                (normalize_seller_name(name),),
            )
            return [asin for (asin,) in rows]

    def iter_sellers(
        self,
        order: str = "evidence",
        *,
        min_products: int = 0,
        limit: int | None = None,
    ) -> Iterator[SellerRow]:
        _check_order(order)
        sql = f"{_SELECT_SELLER} WHERE products >= ? ORDER BY {_ORDER_SQL[order]}"
        params: list[int] = [min_products]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with _sqlite_errors(self.path):
            for row in self._conn.execute(sql, params):
                yield SellerRow(*row)

    def record_run_start(
        self, run_id: str, started_at: str, settings: dict[str, Any]
    ) -> None:
        with self._transaction():
            self._conn.execute(
                _UPSERT_RUN_START, (run_id, started_at, _json_text(settings))
            )

    def record_run_end(
        self, run_id: str, finished_at: str, status: str, totals: dict[str, Any]
    ) -> None:
        values = (run_id, finished_at, finished_at, status, _json_text(totals))
        with self._transaction():
            self._conn.execute(_UPSERT_RUN_END, values)

    def record_progress(self, records: list[ProgressRecord]) -> None:
        """Mark tasks done (after their sightings were committed)."""
        with self._transaction():
            self._conn.executemany(_INSERT_PROGRESS, records)

    def load_progress(self, job_id: str, kind: str) -> dict[str, str | None]:
        """The tasks of one kind a job finished: key -> payload."""
        with _sqlite_errors(self.path):
            rows = self._conn.execute(
                "SELECT key, payload FROM progress WHERE job_id = ? AND kind = ?",
                (job_id, kind),
            )
            return dict(rows.fetchall())

    def searched_since(self, cutoff: str) -> set[str]:
        """ASINs whose eBay search finished at or after `cutoff` (ISO time)."""
        with _sqlite_errors(self.path):
            rows = self._conn.execute(
                "SELECT DISTINCT key FROM progress WHERE kind = 'ebay' "
                "AND done_at >= ?",
                (cutoff,),
            )
            return {key for (key,) in rows}

    def latest_run(self) -> dict[str, Any] | None:
        """The most recently started run, or None for a new store."""
        with _sqlite_errors(self.path):
            row = self._conn.execute(
                "SELECT run_id, started_at, finished_at, status, settings, totals "
                "FROM runs ORDER BY started_at DESC LIMIT 1"
            ).fetchone()
        return None if row is None else _run_dict(*row)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with _sqlite_errors(self.path):
            row = self._conn.execute(
                "SELECT run_id, started_at, finished_at, status, settings, totals "
                "FROM runs WHERE run_id = ?",
                (run_id,),
            ).fetchone()
        return None if row is None else _run_dict(*row)

    def close(self) -> None:
        with _sqlite_errors(self.path):
            self._conn.close()


def _product_values(product: Product) -> tuple:
    return (
        product.asin,
        product.title,
        product.price,
        product.currency,
        product.node_id,
        product.position,
    )


def _seller_values(seller_id: int, seller: MergedSeller, run_id: str) -> tuple:
    return (
        seller_id,
        seller.key,
        seller.name,
        seller.feedback_percent,
        seller.feedback_count,
        seller.sightings,
        len(seller.asins),
        seller.first_seen,
        seller.last_seen,
        run_id,
        run_id,
    )


# SQLite primary result codes (the low byte of an extended code).
_SQLITE_HINTS = {
    sqlite3.SQLITE_BUSY: (
        "store {path} is locked by another process",
        "wait for the other collect run to finish, or use another --store path",
    ),
    sqlite3.SQLITE_LOCKED: (
        "store {path} is locked by another process",
        "wait for the other collect run to finish, or use another --store path",
    ),
    sqlite3.SQLITE_FULL: (
        "no space left to write store {path}",
        "free some disk space; the batch being written was rolled back",
    ),
    sqlite3.SQLITE_NOTADB: (
        "{path} is not a SQLite seller store",
        "choose another --store path (a name ending in .csv makes a CSV store)",
    ),
    sqlite3.SQLITE_CORRUPT: (
        "store {path} is damaged",
        "restore it from a backup, or try `sqlite3 {path} .recover`",
    ),
    sqlite3.SQLITE_CANTOPEN: (
        "cannot open store {path}",
        "check that the folder exists and is writable",
    ),
    sqlite3.SQLITE_READONLY: (
        "store {path} is read-only",
        "check the file's permissions, or use another --store path",
    ),
    sqlite3.SQLITE_IOERR: (
        "disk error while writing store {path}",
        "check free space and the device holding the store",
    ),
}


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """Turn SQLite's exceptions into a StoreError that says what to do."""
    try:
        yield
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        message, hint = _SQLITE_HINTS.get(
            code, ("cannot use store {path}", "check the file, or use another --store")
        )
        raise StoreError(
            f"{message.format(path=path)} ({exc})", hint=hint.format(path=path)
        ) from exc


# --- CSV ------------------------------------------------------------------------

SELLER_CSV_COLUMNS = (*SELLER_COLUMNS, "asins")
PRODUCT_CSV_COLUMNS = (
    "asin",
    "title",
    "price",
    "currency",
    "node_id",
    "position",
    "first_seen",
    "last_seen",
    "first_run",
    "last_run",
)
RUN_CSV_COLUMNS = (
    "run_id",
    "started_at",
    "finished_at",
    "status",
    "settings",
    "totals",
)

# Spreadsheets run a cell that starts with one of these as a formula. The store
# file is the one people double-click, so text cells get a leading quote on disk
# (reversibly: a leading quote of the text itself is doubled the same way).
# A leading quote is escaped too, so that reading the file back can undo it.
_STORED_STARTS = (*FORMULA_STARTS, "'")


@dataclass(slots=True)
class _CsvSeller:
    """A seller held in memory by the CSV store."""

    name: str
    normalized_name: str
    feedback_percent: float | None
    feedback_count: int | None
    sightings: int
    first_seen: str
    last_seen: str
    first_run: str
    last_run: str
    asins: dict[str, None]

    @classmethod
    def new(cls, seller: MergedSeller, run_id: str) -> _CsvSeller:
        return cls(
            seller.name,
            seller.key,
            seller.feedback_percent,
            seller.feedback_count,
            seller.sightings,
            seller.first_seen,
            seller.last_seen,
            run_id,
            run_id,
            dict.fromkeys(seller.asins),
        )

    def update(self, seller: MergedSeller, run_id: str) -> None:
        self.name = seller.name
        if seller.feedback_percent is not None:
            self.feedback_percent = seller.feedback_percent
        if seller.feedback_count is not None:
            self.feedback_count = seller.feedback_count
        self.sightings += seller.sightings
        self.last_seen = max(self.last_seen, seller.last_seen)
        self.last_run = run_id
        self.asins.update(dict.fromkeys(seller.asins))

    def row(self) -> SellerRow:
        return SellerRow(
            self.name,
            self.normalized_name,
            self.feedback_percent,
            self.feedback_count,
            self.sightings,
            len(self.asins),
            self.first_seen,
            self.last_seen,
            self.first_run,
            self.last_run,
        )


class CsvStore:
    """A store of three CSV files, loaded on open and rewritten on each change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.products_path = path.with_name(f"{path.stem}.products.csv")
        self.runs_path = path.with_name(f"{path.stem}.runs.csv")
        self._load()

    def _load(self) -> None:
        self._sellers = {
            seller.normalized_name: seller
            for seller in map(_parse_seller, _read_rows(self.path, SELLER_CSV_COLUMNS))
        }
        self._products = {
            row["asin"]: row
            for row in _read_rows(self.products_path, PRODUCT_CSV_COLUMNS)
        }
        self._runs = {
            row["run_id"]: row for row in _read_rows(self.runs_path, RUN_CSV_COLUMNS)
        }

    @contextmanager
    def _saving(self) -> Iterator[None]:
        """Reload from disk when a save fails, so memory never runs ahead of it."""
        try:
            yield
        except StoreError:
            self._load()
            raise

    def apply_sightings(
        self,
        batch: list[SightingRecord],
        run_id: str,
        seen_at: str,
        progress: Sequence[ProgressRecord] = (),
    ) -> BatchResult:
        merged = merge_batch(batch, seen_at)
        known = [key for key in merged.sellers if key in self._sellers]
        with self._saving():
            for key, seller in merged.sellers.items():
                current = self._sellers.get(key)
                if current is None:
                    self._sellers[key] = _CsvSeller.new(seller, run_id)
                else:
                    current.update(seller, run_id)
            rows = (_seller_cells(seller) for seller in self._sellers.values())
            _write_atomically(self.path, SELLER_CSV_COLUMNS, rows)
        return tally(merged, known)

    def add_products(self, products: list[Product], run_id: str, seen_at: str) -> int:
        latest = {product.asin: product for product in products}
        with self._saving():
            for product in latest.values():
                old = self._products.get(product.asin)
                first_seen = old["first_seen"] if old else seen_at
                first_run = old["first_run"] if old else run_id
                self._products[product.asin] = _product_cells(
                    product, first_seen, seen_at, first_run, run_id
                )
            _write_dict_rows(self.products_path, PRODUCT_CSV_COLUMNS, self._products)
        return len(latest)

    def seller_count(self) -> int:
        return len(self._sellers)

    def get_seller(self, name: str) -> SellerRow | None:
        seller = self._sellers.get(normalize_seller_name(name))
        return None if seller is None else seller.row()

    def seller_asins(self, name: str) -> list[str]:
        seller = self._sellers.get(normalize_seller_name(name))
        return [] if seller is None else sorted(seller.asins)

    def iter_sellers(
        self,
        order: str = "evidence",
        *,
        min_products: int = 0,
        limit: int | None = None,
    ) -> Iterator[SellerRow]:
        _check_order(order)
        rows = [s.row() for s in self._sellers.values() if len(s.asins) >= min_products]
        # Python compares str by code point, which is the byte order of UTF-8,
        # so this matches SQLite's BINARY collation exactly.
        rows.sort(key=lambda row: row.normalized_name)
        if order == "evidence":
            rows.sort(key=lambda row: (row.products, row.sightings), reverse=True)
        elif order == "recent":
            rows.sort(key=lambda row: row.last_seen, reverse=True)
        yield from rows[:limit]

    def record_run_start(
        self, run_id: str, started_at: str, settings: dict[str, Any]
    ) -> None:
        with self._saving():
            self._runs[run_id] = {
                "run_id": run_id,
                "started_at": started_at,
                "finished_at": "",
                "status": "running",
                "settings": _json_text(settings),
                "totals": "",
            }
            _write_dict_rows(self.runs_path, RUN_CSV_COLUMNS, self._runs)

    def record_run_end(
        self, run_id: str, finished_at: str, status: str, totals: dict[str, Any]
    ) -> None:
        with self._saving():
            run = self._runs.setdefault(
                run_id,
                {"run_id": run_id, "started_at": finished_at, "settings": "{}"},
            )
            run.update(finished_at=finished_at, status=status)
            run["totals"] = _json_text(totals)
            _write_dict_rows(self.runs_path, RUN_CSV_COLUMNS, self._runs)

    def record_progress(self, records: list[ProgressRecord]) -> None:
        """Progress is kept by the SQLite store only; see `load_progress`."""

    def load_progress(self, job_id: str, kind: str) -> dict[str, str | None]:
        raise StoreError(
            "a CSV store does not record progress",
            hint="use a SQLite store (a --store name not ending in .csv) "
            "for --resume and --skip-searched-within",
        )

    def searched_since(self, cutoff: str) -> set[str]:
        return set(self.load_progress("", "ebay"))

    def latest_run(self) -> dict[str, Any] | None:
        if not self._runs:
            return None
        latest = max(self._runs.values(), key=lambda run: run["started_at"])
        return self.get_run(latest["run_id"])

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        run = self._runs.get(run_id)
        if run is None:
            return None
        return _run_dict(*(run[column] or None for column in RUN_CSV_COLUMNS))

    def close(self) -> None:
        """Nothing to do: every change was written when it was made."""


def _read_rows(path: Path, columns: Sequence[str]) -> Iterator[dict[str, str]]:
    """The rows of one store file, text cells unescaped; none if it is missing."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _csv_error(path, exc) from exc
    with handle:
        try:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None:
                return  # an empty file, e.g. made with `touch`: an empty store
            if tuple(reader.fieldnames) != tuple(columns):
                raise StoreError(
                    f"{path} is not a collect CSV store (its columns are "
                    f"{', '.join(reader.fieldnames)})",
                    hint="choose another --store path",
                )
            for row in reader:
                yield {key: _unescape(value or "") for key, value in row.items()}
        except (UnicodeDecodeError, csv.Error) as exc:
            raise StoreError(
                f"{path} is not a readable CSV store ({exc})",
                hint="choose another --store path",
            ) from exc


def _parse_seller(row: dict[str, str]) -> _CsvSeller:
    try:
        return _CsvSeller(
            row["name"],
            row["normalized_name"],
            float(row["feedback_percent"]) if row["feedback_percent"] else None,
            int(row["feedback_count"]) if row["feedback_count"] else None,
            int(row["sightings"]),
            row["first_seen"],
            row["last_seen"],
            row["first_run"],
            row["last_run"],
            dict.fromkeys(row["asins"].split()),
        )
    except (KeyError, ValueError) as exc:
        raise StoreError(
            f"bad seller row in the CSV store: {exc}",
            hint="fix or remove the row; the file is plain CSV",
        ) from exc


def _seller_cells(seller: _CsvSeller) -> list[object]:
    row = seller.row()
    return [getattr(row, column) for column in SELLER_COLUMNS] + [
        " ".join(seller.asins)
    ]


def _product_cells(
    product: Product, first_seen: str, last_seen: str, first_run: str, last_run: str
) -> dict[str, str]:
    values = (*_product_values(product), first_seen, last_seen, first_run, last_run)
    return {
        column: "" if value is None else str(value)
        for column, value in zip(PRODUCT_CSV_COLUMNS, values, strict=True)
    }


def _write_dict_rows(
    path: Path, columns: Sequence[str], rows: dict[str, dict[str, str]]
) -> None:
    cells = ([row.get(column, "") for column in columns] for row in rows.values())
    _write_atomically(path, columns, cells)


def _write_atomically(
    path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """Write a whole file beside `path`, fsync it, then rename it over `path`.

    A reader (or a crash) sees either the old file or the new one, never a mix.
    """
    try:
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as exc:
        raise _csv_error(path, exc) from exc
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(
                [spreadsheet_safe(value, _STORED_STARTS) for value in row]
                for row in rows
            )
            handle.flush()
            os.fsync(handle.fileno())
        _copy_mode(path, temp_name)
        os.replace(temp_name, path)
        _fsync_folder(path.parent)
    except OSError as exc:
        _remove_quietly(temp_name)
        raise _csv_error(path, exc) from exc
    except BaseException:
        _remove_quietly(temp_name)
        raise


def _copy_mode(path: Path, temp_name: str) -> None:
    # mkstemp makes the file private (0600); keep the mode the user gave the store.
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    os.chmod(temp_name, mode)


def _fsync_folder(folder: Path) -> None:
    # The rename is only durable once the folder entry is on disk.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        logger.debug("could not remove temporary file %s", name)


def _csv_error(path: Path, exc: OSError) -> StoreError:
    if exc.errno == errno.ENOSPC:
        hint = "free some disk space; the file was left as it was before"
    else:
        hint = "check that the folder exists and is writable"
    return StoreError(f"cannot write CSV store {path} ({exc.strerror})", hint=hint)


def _unescape(text: str) -> str:
    return text[1:] if text.startswith("'") else text


# --- shared helpers -------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _json_text(value: dict[str, Any]) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _run_dict(
    run_id: str,
    started_at: str,
    finished_at: str | None,
    status: str,
    settings: str | None,
    totals: str | None,
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "started_at": started_at,
        "finished_at": finished_at,
        "status": status,
        "settings": orjson.loads(settings) if settings else {},
        "totals": orjson.loads(totals) if totals else None,
    }
