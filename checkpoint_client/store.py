"""The checkpoint's local store: every decision, hash-chained, on disk before it is shown; the outbox; escorts.

SQLite in WAL mode with ``synchronous=FULL``: when ``record_decision`` returns, its transaction has been fsync'd,
so neither kill -9 nor a power cut loses a decision the officer saw. A failed write (disk full above all) rolls
back completely and raises ``StoreError``: the decision is then NOT recorded and must not be acted on.

Each thread gets its own connection (the screen records decisions while a background thread syncs) and writers
take the write lock up front, so two writers never give out the same ``seq`` (see ``store_sqlite``). All client
SQL lives here, in ``store_sqlite.py`` and in ``store_escorts.py``. The raw QR text is never stored: the record keeps the
pass id and what the decision needs.

Retention (``purge``): decisions the server holds are deleted once older than the policy's retention; what the chain
needs of them stays in ``purged_run`` (per run of consecutive purged records: the first's ``prev_hash`` and the
last's ``hash``), so the records that remain still verify link by link and the next decision continues the chain.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checkpoint_client import store_escorts
from checkpoint_client.store_officers import OfficerBook
from checkpoint_client.store_sqlite import SCHEMA_VERSION, Database, StoreError, set_state, translate
from passcore import crossing
from passcore.chain import GENESIS, ChainBroken, canonical, record_hash
from passcore.reasons import ESCORT_REQUIRED
from passcore.rules import Decision, Occupant

__all__ = ["SCHEMA_VERSION", "LocalPurge", "Store", "StoreError", "StoredCrossing"]


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
# The chain's last link: the newest record, or the end of the newest purged run when that is newer.
_LAST = (
    "SELECT seq, hash FROM (SELECT seq, hash FROM crossing UNION ALL SELECT last_seq, last_hash FROM purged_run) "
    "ORDER BY seq DESC LIMIT 1"
)
# An escort the server knows all about (nothing of it left to upload).
_ESCORT_DONE = "status != 'unsent' AND NOT (handed_over_at IS NOT NULL AND handover_synced = 0 AND handover_error IS NULL)"


@dataclass(frozen=True)
class LocalPurge:
    cutoff: str  # ISO, UTC
    decisions: int  # deleted now
    escorts: int
    kept_unsynced: int  # older than the cutoff but not on the server yet (pending or refused): never purged

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _runs(rows: Sequence[tuple[int, str, str]], existing: Sequence[tuple[int, int, str, str]]) -> list[tuple]:
    """Runs (first_seq, last_seq, prev_hash, last_hash) of purged records: ``existing`` with ``rows`` (seq,
    prev_hash, hash) added, adjacent runs joined."""
    pieces = sorted([*existing, *((seq, seq, prev, digest) for seq, prev, digest in rows)])
    runs: list[tuple] = []
    for first, last, prev, digest in pieces:
        if runs and runs[-1][1] + 1 == first:
            runs[-1] = (runs[-1][0], last, runs[-1][2], digest)
        else:
            runs.append((first, last, prev, digest))
    return runs


class Store:
    """The local store at ``path``. Safe to share between threads; close() when done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = Database(path)
        self.officers = OfficerBook(self._db)  # officers and shifts (store_officers)

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating and migrating as needed) the store; its folder is private (0700), the file 0600 (a
        folder or file made before is tightened: the bundle import may have made db/ first)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(path.parent, 0o700)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            # SQLite gives -wal and -shm the database file's permissions; older ones are tightened here.
            for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                if file.exists():
                    os.chmod(file, 0o600)
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
        officer: str | None = None,
        repeat_of: str | None = None,
        claimed: dict[str, Any] | None = None,
        referral: str | None = None,
        bus: dict[str, Any] | None = None,
    ) -> StoredCrossing:
        """Chain, store and commit one decision (fsync'd) before returning it. ``officer``, ``repeat_of``,
        ``claimed``, ``referral`` and ``bus`` (a bus's manifest and roll call, issue 14) go into the record as
        ``passcore.crossing.contents`` takes them.

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
            officer=officer,
            repeat_of=repeat_of,
            claimed=claimed,
            referral=referral,
            **({"bus": bus} if bus is not None else {}),  # a freight record is written as before
        )
        with self._db.write("recording the decision") as conn:
            last = conn.execute(_LAST).fetchone()
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

    def last_decision_for_pass(self, pass_id: str, since: datetime) -> StoredCrossing | None:
        """This device's newest decision for ``pass_id`` decided at or after ``since`` (a repeat), else None.

        The pass id lives in the record's JSON only (the store's migration numbers belong to other work), so this
        scans the records (a day at a busy checkpoint is a few thousand rows; retention keeps it from growing)."""
        moment = since.astimezone(UTC)
        sql = f"{_SELECT} WHERE json_extract(c.record, '$.pass_id') = ? ORDER BY c.seq DESC LIMIT 1"
        rows = self._db.read(sql, (pass_id,))
        if not rows:
            return None
        found = _stored(rows[0])
        # The newest by storage order: a record whose clock said otherwise is not a repeat of now.
        decided = datetime.fromisoformat(found.record["decided_at"])
        return found if decided >= moment else None

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
        """Check the whole chain from seq 1 (and that each row's columns match its record); the count of records
        still held. A purged run stands in for its records: it must start where the chain is and link on to the
        next record (its contents are gone, so they are not checked).

        Raises ChainBroken naming the first bad seq."""

        def links() -> Iterator[tuple[int, int, str, str, dict[str, Any] | None]]:
            conn = self._db.conn()
            cursor = conn.execute(
                "SELECT seq, seq, '', '', id, hash, record FROM crossing UNION ALL "
                "SELECT first_seq, last_seq, prev_hash, last_hash, NULL, NULL, NULL FROM purged_run ORDER BY 1"
            )
            for first, last, prev, digest, rid, row_hash, body in cursor:
                if body is None:
                    yield first, last, prev, digest, None
                    continue
                record = json.loads(body)
                if (record.get("seq"), record.get("id"), record.get("hash")) != (first, rid, row_hash):
                    raise ChainBroken(f"seq {first}: the row does not match its record")
                yield first, first, record.get("prev_hash"), record.get("hash"), record

        try:
            return _check(links())
        except sqlite3.Error as err:
            raise translate(err, "reading the chain") from err

    def purge(self, cutoff: datetime) -> LocalPurge:
        """Delete the decisions decided before ``cutoff`` that the server holds, and the escorts of before it it
        knows all about; keep what the chain needs (``purged_run``). A decision stored before an old one is old
        too: the chain's order is the order of storage, whatever the laptop's clock said (a record dated 2099 is
        purged with those around it). Pending and refused decisions are never purged. Then the file is rewritten
        (VACUUM) and the WAL truncated, so nothing of them remains on disk."""
        moment = cutoff.astimezone(UTC)
        with self._db.write("purging old decisions") as conn:
            rows = conn.execute(
                "SELECT c.seq, c.decided_at, o.seq IS NULL FROM crossing c LEFT JOIN outbox o ON o.seq = c.seq"
            ).fetchall()
            old = [seq for seq, decided_at, _ in rows if datetime.fromisoformat(decided_at) < moment]
            newest_old = max(old, default=0)
            doomed = [seq for seq, _, synced in rows if synced and seq <= newest_old]
            kept = sum(1 for seq, _, synced in rows if not synced and seq <= newest_old)
            links = []
            for seq in doomed:
                (body,) = conn.execute("SELECT record FROM crossing WHERE seq = ?", (seq,)).fetchone()
                record = json.loads(body)
                links.append((seq, record["prev_hash"], record["hash"]))
            existing = conn.execute(
                "SELECT first_seq, last_seq, prev_hash, last_hash FROM purged_run"
            ).fetchall()
            conn.executemany("DELETE FROM crossing WHERE seq = ?", [(seq,) for seq in doomed])
            conn.execute("DELETE FROM purged_run")
            conn.executemany("INSERT INTO purged_run VALUES (?, ?, ?, ?)", _runs(links, existing))
            escorts = conn.execute(
                f"DELETE FROM escort WHERE decided_at < ? AND {_ESCORT_DONE}",  # noqa: S608 (constants)
                (moment.isoformat(),),
            ).rowcount
        if doomed or escorts:
            self._db.compact()
        return LocalPurge(moment.isoformat(), len(doomed), escorts, kept)

    # ---- escorts (the local view; SQL in store_escorts) --------------------------------------------------------

    def escorts(self, include_done: bool = False) -> list[dict[str, Any]]:
        """Escort requests of this checkpoint, oldest first; without ``include_done`` only those still waiting."""
        try:
            return store_escorts.listing(self._db.conn(), include_done=include_done)
        except sqlite3.Error as err:
            raise translate(err, "reading escorts") from err

    def record_handover(
        self,
        crossing_id: str,
        at: datetime,
        *,
        staff_name: str,
        staff_id_last4: str,
        officer: str | None = None,
    ) -> None:
        """The enterprise's staff member ``staff_name`` (ID ending ``staff_id_last4``) took the vehicle over at
        ``at``, recorded by ``officer`` (the officer signed in, if any); uploaded at the next sync. Raises
        InputError with nothing recorded for a bad identity (passcore.handover). Repeats change nothing (the
        first hand-over stands)."""
        with self._db.write("recording the hand-over") as conn:
            store_escorts.hand_over(
                conn, crossing_id, at, staff_name=staff_name, staff_id_last4=staff_id_last4, officer=officer
            )

    def handed_over_since(self, since: datetime, limit: int = 5) -> list[dict[str, Any]]:
        """The latest hand-overs at or after ``since``, newest first."""
        try:
            return store_escorts.handed_over_since(self._db.conn(), since, limit)
        except sqlite3.Error as err:
            raise translate(err, "reading escorts") from err

    def merge_escorts(self, escorts: Sequence[dict[str, Any]], *, server_time: str | None) -> int:
        """Fold the server's escort answers into the local view; remember ``server_time`` for the next fetch."""
        with self._db.write("saving escort answers") as conn:
            changed = store_escorts.merge(conn, escorts)
            if server_time is not None:
                set_state(conn, "escorts_since", server_time)
            return changed

    def handovers_to_upload(self) -> list[tuple[str, int, str, str, str, str | None]]:
        """(crossing_id, server escort id, at ISO, staff name, staff ID last four, officer) of hand-overs recorded
        here and not yet on the server."""
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


def _check(links: Iterable[tuple[int, int, str, str, dict[str, Any] | None]]) -> int:
    """``passcore.chain.check_chain`` over records and purged runs in seq order; how many records."""
    previous, expected, count = GENESIS, 1, 0
    for first, last, prev, digest, record in links:
        if first != expected:
            raise ChainBroken(
                f"seq {expected} is missing from the chain (found {first}): a record is missing"
            )
        if prev != previous:
            raise ChainBroken(f"seq {first}: prev_hash does not link to the previous record")
        if record is not None:
            if record_hash(record) != digest:
                raise ChainBroken(
                    f"seq {first}: the hash does not match the content (the record was changed)"
                )
            count += 1
        previous, expected = digest, last + 1
    return count
