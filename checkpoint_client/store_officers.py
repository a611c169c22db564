"""The laptop's officers and shifts (store schema 3, in ``store_sqlite``; used by ``shifts.Shifts`` and sync through
``OfficerBook``).

``officer`` holds the checkpoint's officers as the server last sent them (numbers, names, PIN hashes, active),
replaced whole at each sync; ``officers_synced`` in sync_state says a list was received at all, so a laptop that
never synced officers does not ask for a sign-in. ``shift`` is one officer's time on this device, from sign-in to
sign-out (``ended_at`` NULL while it runs: at most one such row). ``pin_failure`` counts wrong PINs per officer
number, on disk so that restarting the screen does not reset the back-off.
Times are UTC ISO text, so they sort.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from checkpoint_client.store_sqlite import Database, set_state, translate

__all__ = ["OfficerBook", "OfficerRow", "ShiftRow"]

SYNCED_KEY = "officers_synced"


@dataclass(frozen=True)
class OfficerRow:
    number: str
    name: str
    pin_hash: str
    active: bool


@dataclass(frozen=True)
class ShiftRow:
    id: int
    officer: str
    name: str
    device: str
    started_at: datetime
    ended_at: datetime | None
    ended_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "officer": self.officer,
            "name": self.name,
            "device": self.device,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "ended_by": self.ended_by,
        }


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _shift(row: Sequence[Any]) -> ShiftRow:
    sid, officer, name, device, started, ended, ended_by = row
    return ShiftRow(
        id=sid,
        officer=officer,
        name=name,
        device=device,
        started_at=datetime.fromisoformat(started),
        ended_at=datetime.fromisoformat(ended) if ended else None,
        ended_by=ended_by,
    )


_SHIFT = "SELECT id, officer, name, device, started_at, ended_at, ended_by FROM shift"


class OfficerBook:
    """The officers and shifts of one store (its ``Database``: one connection per thread, shared with it)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @contextmanager
    def _reading(self, doing: str) -> Iterator[sqlite3.Connection]:
        try:
            yield self._db.conn()
        except sqlite3.Error as err:
            raise translate(err, doing) from err

    # ---- officers (from sync) ------------------------------------------------------------------------------

    def replace(self, officers: Sequence[OfficerRow], *, synced_at: datetime) -> int:
        """The server's list replaces the held one (officers it no longer names are gone); how many. The open
        shift of an officer who is no longer active ends."""
        with self._db.write("saving the officers") as conn:
            conn.execute("DELETE FROM officer")
            conn.executemany(
                "INSERT INTO officer (number, name, pin_hash, active, updated_at) VALUES (?, ?, ?, ?, ?)",
                [(o.number, o.name, o.pin_hash, int(o.active), _utc(synced_at)) for o in officers],
            )
            set_state(conn, SYNCED_KEY, _utc(synced_at))
            # An officer deactivated (or removed) by the bureau is signed out here too.
            conn.execute(
                "UPDATE shift SET ended_at = max(started_at, ?), ended_by = 'deactivated' WHERE ended_at IS NULL "
                "AND officer NOT IN (SELECT number FROM officer WHERE active = 1)",
                (_utc(synced_at),),
            )
        return len(officers)

    def get(self, number: str) -> OfficerRow | None:
        rows = self._db.read("SELECT number, name, pin_hash, active FROM officer WHERE number = ?", (number,))
        return OfficerRow(rows[0][0], rows[0][1], rows[0][2], bool(rows[0][3])) if rows else None

    def count(self) -> int:
        return int(self._db.read("SELECT count(*) FROM officer")[0][0])

    def synced_at(self) -> str | None:
        rows = self._db.read("SELECT value FROM sync_state WHERE key = ?", (SYNCED_KEY,))
        return rows[0][0] if rows else None

    # ---- wrong PINs -------------------------------------------------------------------------------------------

    def failures(self, number: str) -> tuple[int, datetime | None]:
        rows = self._db.read("SELECT failures, last_at FROM pin_failure WHERE number = ?", (number,))
        return (int(rows[0][0]), datetime.fromisoformat(rows[0][1])) if rows else (0, None)

    def note_failure(self, number: str, at: datetime) -> int:
        """One more wrong PIN for ``number``; the count."""
        with self._db.write("noting a wrong PIN") as conn:
            conn.execute(
                "INSERT INTO pin_failure (number, failures, last_at) VALUES (?, 1, ?) ON CONFLICT (number) "
                "DO UPDATE SET failures = failures + 1, last_at = excluded.last_at",
                (number, _utc(at)),
            )
            return int(
                conn.execute("SELECT failures FROM pin_failure WHERE number = ?", (number,)).fetchone()[0]
            )

    # ---- shifts -----------------------------------------------------------------------------------------------

    def start_shift(self, officer: OfficerRow, *, device: str, at: datetime) -> ShiftRow:
        """End whatever shift is open (taken over) and start ``officer``'s; the wrong-PIN count is cleared."""
        with self._db.write("starting the shift") as conn:
            conn.execute(
                "UPDATE shift SET ended_at = ?, ended_by = 'taken_over' WHERE ended_at IS NULL", (_utc(at),)
            )
            conn.execute("DELETE FROM pin_failure WHERE number = ?", (officer.number,))
            cursor = conn.execute(
                "INSERT INTO shift (officer, name, device, started_at) VALUES (?, ?, ?, ?)",
                (officer.number, officer.name, device, _utc(at)),
            )
            row = conn.execute(f"{_SHIFT} WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return _shift(row)

    def end_shift(self, *, at: datetime, how: str = "sign_out") -> ShiftRow | None:
        """End the open shift (if any); it, ended."""
        with self._db.write("ending the shift") as conn:
            row = conn.execute(f"{_SHIFT} WHERE ended_at IS NULL", ()).fetchone()
            if row is None:
                return None
            # A clock set back must not end a shift before it began.
            end = max(_utc(at), row[4])
            conn.execute("UPDATE shift SET ended_at = ?, ended_by = ? WHERE id = ?", (end, how, row[0]))
            row = conn.execute(f"{_SHIFT} WHERE id = ?", (row[0],)).fetchone()
        return _shift(row)

    def open_shift(self) -> ShiftRow | None:
        rows = self._db.read(f"{_SHIFT} WHERE ended_at IS NULL")
        return _shift(rows[0]) if rows else None

    def shift(self, shift_id: int) -> ShiftRow | None:
        rows = self._db.read(f"{_SHIFT} WHERE id = ?", (shift_id,))
        return _shift(rows[0]) if rows else None

    def shifts(self, limit: int = 50) -> list[ShiftRow]:
        """The newest shifts first."""
        return [
            _shift(r) for r in self._db.read(f"{_SHIFT} ORDER BY started_at DESC, id DESC LIMIT ?", (limit,))
        ]

    # ---- what happened during a shift -------------------------------------------------------------------------

    def decisions_between(self, start: datetime, end: datetime | None) -> list[str]:
        """The stored records (JSON text) decided on this device from ``start`` until ``end`` (open: now)."""
        sql = "SELECT record FROM crossing WHERE decided_at >= ?"
        params: list[Any] = [_utc(start)]
        if end is not None:
            sql += " AND decided_at <= ?"
            params.append(_utc(end))
        return [row[0] for row in self._db.read(sql + " ORDER BY seq", params)]

    def handovers_between(self, start: datetime, end: datetime | None) -> list[dict[str, Any]]:
        """Escorts handed over in the window: crossing id, plate, time, who took the vehicle, the officer who
        recorded the hand-over (None when it came from another device through the server)."""
        with self._reading("reading hand-overs") as conn:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(escort)")}
            # Schema 5 (hand-over identity) says who took the vehicle and which officer recorded it.
            staff = "handover_staff_name" if "handover_staff_name" in columns else "staff_name"
            officer = "handover_officer" if "handover_officer" in columns else "NULL"
            sql = (
                f"SELECT crossing_id, plate, handed_over_at, {staff}, {officer} FROM escort "  # noqa: S608
                "WHERE handed_over_at IS NOT NULL AND handed_over_at >= ?"
            )
            params: list[Any] = [_utc(start)]
            if end is not None:
                sql += " AND handed_over_at <= ?"
                params.append(_utc(end))
            rows = conn.execute(sql + " ORDER BY handed_over_at", params).fetchall()
        return [
            {
                "crossing_id": r[0],
                "plate": r[1],
                "at": datetime.fromisoformat(r[2]),
                "staff_name": r[3],
                "officer": r[4],
            }
            for r in rows
        ]
