"""The checkpoint's local store: every decision, hash-chained, on disk before it is shown; the outbox; escorts.

SQLite in WAL mode with ``synchronous=FULL``: when ``record_decision`` returns, its transaction has been fsync'd,
so neither kill -9 nor a power cut loses a decision the officer saw. A failed write (disk full above all) rolls
back completely and raises ``StoreError``: the decision is then NOT recorded and must not be acted on.

Each thread gets its own connection (the screen records decisions while a background thread syncs) and writers
take the write lock up front, so two writers never give out the same ``seq`` (see ``store_sqlite``). All client
SQL lives here, in ``store_sqlite.py`` and in ``store_escorts.py``. The raw QR text is never stored: the record keeps the
pass id and what the decision needs.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from checkpoint_client import store_escorts
from checkpoint_client.store_sqlite import SCHEMA_VERSION, Database, StoreError, set_state, translate
from passcore import crossing
from passcore.chain import GENESIS, ChainBroken, canonical, check_chain
from passcore.reasons import ESCORT_REQUIRED
from passcore.rules import Decision, Occupant

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "StoredCrossing"]


@dataclass(frozen=True)
class StoredCrossing:
    id: str
    seq: int
    hash: str
    record: dict[str, Any]  # exactly as uploaded (docs/api.md "Crossing records")
    synced: bool
    # pending | synced | conflict | invalid (refused by the server, which said why in sync_code)
    sync_status: str = "pending"
    sync_code: str | None = None
    sync_detail: str | None = None


def _stored(row: Sequence[Any]) -> StoredCrossing:
    seq, rid, digest, body, status, code, detail = row
    return StoredCrossing(
        id=rid,
        seq=seq,
        hash=digest,
        record=json.loads(body),
        synced=status is None,
        sync_status=status or "synced",
        sync_code=code,
        sync_detail=detail,
    )


_SELECT = (
    "SELECT c.seq, c.id, c.hash, c.record, o.status, o.code, o.detail "
    "FROM crossing c LEFT JOIN outbox o ON o.seq = c.seq"
)


class Store:
    """The local store at ``path``. Safe to share between threads; close() when done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = Database(path)

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating and migrating as needed) the store; its folder is private (0700), the file 0600."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not path.exists():
                path.touch(mode=0o600)  # SQLite gives -wal and -shm the database file's permissions
        except OSError as err:
            raise StoreError(f"cannot create the local store {path}: {err.strerror or err}") from err
        store = cls(path)
        try:
            store._db.migrate()
        except BaseException:
            store.close()
            raise
        return store

    # ---- decisions ------------------------------------------------------------------------------------------

    def record_decision(
        self,
        decision: Decision,
        *,
        occupants: Sequence[Occupant],
        verification: str | None,
        checks: dict[str, bool | None],
        vehicle_origin: str | None,
    ) -> StoredCrossing:
        """Chain, store and commit one decision (fsync'd) before returning it.

        Raises InputError(RECORD_INVALID) for a decision the server would refuse (nothing stored; correct the
        input) and StoreError (STORE_FULL, STORE_BUSY, STORE_FAILED) when it could not be written: the decision
        is then NOT recorded and nothing of it remains.
        """
        record_id = str(uuid.uuid4())
        contents = crossing.contents(
            decision,
            occupants=occupants,
            verification=verification,
            checks=checks,
            vehicle_origin=vehicle_origin,
        )
        with self._db.write("recording the decision") as conn:
            last = conn.execute("SELECT seq, hash FROM crossing ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
            record = crossing.link(contents, record_id=record_id, seq=seq, prev_hash=prev_hash)
            body = canonical(record).decode("utf-8")
            conn.execute(
                "INSERT INTO crossing (seq, id, hash, decided_at, plate, outcome, record) VALUES (?,?,?,?,?,?,?)",
                (
                    seq,
                    record_id,
                    record["hash"],
                    record["decided_at"],
                    record["plate"],
                    record["outcome"],
                    body,
                ),
            )
            conn.execute("INSERT INTO outbox (seq) VALUES (?)", (seq,))
            if record["outcome"] == ESCORT_REQUIRED:
                store_escorts.add_own(conn, record)
        return StoredCrossing(
            id=record_id, seq=seq, hash=record["hash"], record=json.loads(body), synced=False
        )

    def get(self, crossing_id: str) -> StoredCrossing | None:
        rows = self._db.read(f"{_SELECT} WHERE c.id = ?", (crossing_id,))
        return _stored(rows[0]) if rows else None

    def recent(self, limit: int = 20) -> list[StoredCrossing]:
        """The newest decisions first."""
        return [_stored(row) for row in self._db.read(f"{_SELECT} ORDER BY c.seq DESC LIMIT ?", (limit,))]

    def pending(self, limit: int = 500) -> list[StoredCrossing]:
        """The outbox (records not yet accepted by the server and not refused by it), oldest first."""
        sql = f"{_SELECT} WHERE o.status = 'pending' ORDER BY c.seq LIMIT ?"
        return [_stored(row) for row in self._db.read(sql, (limit,))]

    def pending_count(self) -> int:
        return int(self._db.read("SELECT count(*) FROM outbox WHERE status = 'pending'")[0][0])

    def refused(self) -> list[StoredCrossing]:
        """Records the server refused (conflict or invalid): kept, not resent, shown for the bureau to look at."""
        sql = f"{_SELECT} WHERE o.status IN ('conflict', 'invalid') ORDER BY c.seq"
        return [_stored(row) for row in self._db.read(sql)]

    def mark_synced(self, ids: Iterable[str]) -> None:
        """The server holds these records (accepted now, or a duplicate of an earlier upload)."""
        keys = [(rid,) for rid in ids]
        with self._db.write("marking records synced") as conn:
            conn.executemany("DELETE FROM outbox WHERE seq = (SELECT seq FROM crossing WHERE id = ?)", keys)
            store_escorts.mark_requested(conn, [rid for (rid,) in keys])

    def mark_refused(self, refusals: Iterable[tuple[str, str, str | None, str | None]]) -> None:
        """(id, "conflict"|"invalid", code, detail): stop resending these; keep them for the officer and the audit."""
        rows = [(status, code, (detail or "")[:300] or None, rid) for rid, status, code, detail in refusals]
        with self._db.write("marking records refused") as conn:
            conn.executemany(
                "UPDATE outbox SET status = ?, code = ?, detail = ? "
                "WHERE seq = (SELECT seq FROM crossing WHERE id = ?)",
                rows,
            )

    def verify(self) -> int:
        """Check the whole chain from seq 1 (and that each row's columns match its record); the count.

        Raises ChainBroken naming the first bad seq."""

        def rows() -> Iterator[dict[str, Any]]:
            cursor = self._db.conn().execute("SELECT seq, id, hash, record FROM crossing ORDER BY seq")
            for seq, rid, digest, body in cursor:
                record = json.loads(body)
                if (record.get("seq"), record.get("id"), record.get("hash")) != (seq, rid, digest):
                    raise ChainBroken(f"seq {seq}: the row does not match its record")
                yield record

        try:
            return check_chain(rows())
        except sqlite3.Error as err:
            raise translate(err, "reading the chain") from err

    # ---- escorts (the local view; SQL in store_escorts) --------------------------------------------------------

    def escorts(self, include_done: bool = False) -> list[dict[str, Any]]:
        """Escort requests of this checkpoint, oldest first; without ``include_done`` only those still waiting."""
        try:
            return store_escorts.listing(self._db.conn(), include_done=include_done)
        except sqlite3.Error as err:
            raise translate(err, "reading escorts") from err

    def record_handover(self, crossing_id: str, at: datetime) -> None:
        """The enterprise's staff took the vehicle over at ``at``; uploaded at the next sync. Repeats change
        nothing (the first hand-over stands)."""
        with self._db.write("recording the hand-over") as conn:
            store_escorts.hand_over(conn, crossing_id, at)

    def merge_escorts(self, escorts: Sequence[dict[str, Any]], *, server_time: str | None) -> int:
        """Fold the server's escort answers into the local view; remember ``server_time`` for the next fetch."""
        with self._db.write("saving escort answers") as conn:
            changed = store_escorts.merge(conn, escorts)
            if server_time is not None:
                set_state(conn, "escorts_since", server_time)
            return changed

    def handovers_to_upload(self) -> list[tuple[str, int, str]]:
        """(crossing_id, server escort id, at ISO) of hand-overs recorded here and not yet on the server."""
        return self._db.read(store_escorts.UNSENT_HANDOVERS)

    def handover_uploaded(
        self, crossing_id: str, *, error: str | None = None, answer: dict | None = None
    ) -> None:
        """The server took the hand-over (``answer``: its escort), or refused it for good (``error``: its code)."""
        with self._db.write("saving the hand-over upload") as conn:
            store_escorts.handover_result(conn, crossing_id, error=error, answer=answer)

    def waiting_for_request(self) -> int:
        """Own escort crossings the server has accepted but whose request this device has not seen yet."""
        return int(self._db.read(store_escorts.UNSEEN_REQUESTS)[0][0])

    # ---- sync bookmarks --------------------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        rows = self._db.read("SELECT value FROM sync_state WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_state(self, key: str, value: str | None) -> None:
        with self._db.write("saving the sync state") as conn:
            set_state(conn, key, value)

    def close(self) -> None:
        self._db.close()
