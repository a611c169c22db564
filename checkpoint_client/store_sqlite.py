"""SQLite plumbing for ``store.Store``: the schema and its migrations, one connection per thread, transactions
that are all or nothing, and SQLite's errors turned into ``StoreError`` with a stable code.

Every connection runs with ``synchronous=FULL`` (the WAL is fsync'd at each commit) and a busy timeout; writers
take the write lock when their transaction begins (``BEGIN IMMEDIATE``), so two writers — the screen and a
background sync, or two processes — never read the same "last seq" and never deadlock upgrading a read lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from checkpoint_client import store_escorts
from passcore.errors import CheckpassError

__all__ = ["SCHEMA_VERSION", "Database", "StoreError", "set_state"]

SQLITE_BUSY, SQLITE_FULL = 5, 13
BUSY_TIMEOUT_MS = 10_000
MIGRATIONS = (
    # 1: crossings (the chain), the outbox, the escort view, sync bookmarks.
    """
    CREATE TABLE crossing (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        id TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        plate TEXT NOT NULL,
        outcome TEXT NOT NULL,
        record TEXT NOT NULL  -- canonical JSON of the whole record, hash included: exactly what is uploaded
    );
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY REFERENCES crossing (seq),
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'conflict', 'invalid')),
        code TEXT,
        detail TEXT
    );
    CREATE INDEX outbox_status ON outbox (status, seq);
    """
    + store_escorts.SCHEMA
    + """
    CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: runs of purged decisions (store.Store.purge): what the chain needs of them, so what remains verifies.
    """
    CREATE TABLE purged_run (
        first_seq INTEGER PRIMARY KEY CHECK (first_seq >= 1),
        last_seq INTEGER NOT NULL CHECK (last_seq >= first_seq),
        prev_hash TEXT NOT NULL,  -- the prev_hash of the run's first record: the hash of the record before it
        last_hash TEXT NOT NULL  -- the hash of its last record: the prev_hash of the record after it
    );
    """,
    # 3: the checkpoint's officers as last synced, shifts on this device, wrong PINs (store_officers).
    """
    CREATE TABLE officer (
        number TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        pin_hash TEXT NOT NULL,
        active INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE shift (
        id INTEGER PRIMARY KEY,
        officer TEXT NOT NULL,
        name TEXT NOT NULL,  -- as it was at sign-in: a shift's paper trail names who was there then
        device TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        ended_by TEXT CHECK (ended_by IN ('sign_out', 'deactivated', 'taken_over'))
    );
    CREATE UNIQUE INDEX shift_open ON shift ((ended_at IS NULL)) WHERE ended_at IS NULL;
    CREATE INDEX shift_started ON shift (started_at);
    CREATE TABLE pin_failure (
        number TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_at TEXT NOT NULL
    );
    """,
    # 4: drafts of the vehicle on the form (checkpoint_client.drafts): what the officer typed, kept across a reload
    # or a crash until the vehicle is decided or dropped; names and temperatures: they expire after 12 h.
    """
    CREATE TABLE draft (
        key TEXT PRIMARY KEY,  -- pass:<pass id> | claimed:<id> | vehicle:<desk id> | nopass
        saved_at TEXT NOT NULL,  -- ISO, UTC
        form TEXT NOT NULL  -- JSON, shape-checked by drafts.check_form
    );
    CREATE INDEX draft_saved_at ON draft (saved_at);
    """,
    # 5: who took an escorted vehicle over (the enterprise's staff member: name and ID last four) and the officer
    # who recorded it (issue 12); purged with the escort row (store.Store.purge).
    store_escorts.HANDOVER_IDENTITY,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(CheckpassError):
    """The store could not do what was asked; for ``record_decision``: the decision was NOT recorded.

    ``code``: STORE_FULL (disk full), STORE_BUSY, STORE_TOO_NEW (made by a newer client) or STORE_FAILED."""

    code = "STORE_FAILED"


def translate(err: sqlite3.Error, doing: str) -> StoreError:
    code = (getattr(err, "sqlite_errorcode", 0) or 0) & 0xFF  # the primary result code
    if code == SQLITE_FULL:
        return StoreError(
            f"the disk is full: {doing} failed and nothing of it was written. Free space on this laptop, then "
            "try again / 磁盘已满：未能记录，请清理磁盘空间后重试",
            code="STORE_FULL",
        )
    if code == SQLITE_BUSY:
        return StoreError(f"the local store is busy: {doing} failed; try again", code="STORE_BUSY")
    return StoreError(f"the local store failed: {doing} failed ({err})", code="STORE_FAILED")


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; every write says BEGIN and COMMIT itself.
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous = FULL")  # per connection, so set on every one
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(
        "PRAGMA secure_delete = ON"
    )  # purged decisions are zeroed in the file, not left in free pages
    return conn


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # SQLite has rolled back by itself already (it does for some errors)


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT the migration's transaction half-way; run the statements one by one instead.
    return [part.strip() for part in script.split(";") if part.strip()]


def set_state(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        conn.execute("DELETE FROM sync_state WHERE key = ?", (key,))
    else:
        conn.execute(
            "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


class Database:
    """Connections to one SQLite file, one per thread (a connection is never used by two threads at once)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = _connect(self.path)
            except sqlite3.Error as err:
                raise translate(err, "opening the store") from err
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock from its start; committed at the end, or rolled back whole."""
        conn = self.conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            _rollback(conn)
            raise translate(err, doing) from err
        except BaseException:
            _rollback(conn)
            raise

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self.conn().execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise translate(err, "reading the store") from err

    def migrate(self) -> None:
        """Bring the schema to SCHEMA_VERSION (PRAGMA user_version), each step in the one transaction."""
        try:
            self.conn().execute("PRAGMA journal_mode = WAL")  # persistent: kept in the file
        except sqlite3.Error as err:
            raise translate(err, "opening the store") from err
        with self.write("upgrading the store") as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the local store {self.path} was made by a newer checkpoint client (schema {version}); "
                    "update this program",
                    code="STORE_TOO_NEW",
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def compact(self) -> None:
        """Rewrite the file (VACUUM) and truncate the WAL: rows deleted before leave no bytes on disk (moved
        cells can leave old bytes in a page's unused area even with secure_delete; the WAL keeps old pages)."""
        try:
            self.conn().execute("VACUUM")
            self.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as err:
            raise translate(err, "compacting the store") from err

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
