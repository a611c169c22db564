"""The local escort view (SQL used by ``store.Store``, inside its transactions).

An ESCORT_REQUIRED decision adds a row here in the same transaction as the crossing (status ``unsent``); once the
server accepts the crossing it has opened a request (``open``); sync then folds in the server's view —
the enterprise's answer (``answered``: staff, phone, arrival estimate) and hand-overs, also those of other devices
at this checkpoint. A hand-over records who took the vehicle over (the staff member's name and ID last four, checked
by ``passcore.handover``) and the officer signed in; the first hand-over stands, its identity with it. The enterprise's contact person and phone come only from the server's answer (``enterprise``,
kept as it gives it): the public trust bundle does not carry them. A hand-over recorded here wins over what the
server still says until the server confirms it.
Times are kept as UTC ISO text, so they sort; ``listing`` gives aware datetimes back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from passcore import handover
from passcore.errors import InputError

__all__ = [
    "HANDOVER_IDENTITY",
    "SCHEMA",
    "UNSEEN_REQUESTS",
    "UNSENT_HANDOVERS",
    "add_own",
    "hand_over",
    "handed_over_since",
    "listing",
    "merge",
]

SCHEMA = """
    CREATE TABLE escort (
        crossing_id TEXT PRIMARY KEY,
        own INTEGER NOT NULL,  -- 1: this device made the crossing
        plate TEXT NOT NULL,
        decided_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('unsent', 'open', 'answered', 'handed_over', 'cancelled')),
        server_id INTEGER UNIQUE,
        enterprise TEXT,  -- JSON {uscc, name, phone}
        staff_name TEXT NOT NULL DEFAULT '',
        staff_phone TEXT NOT NULL DEFAULT '',
        eta TEXT,
        answered_at TEXT,
        handed_over_at TEXT,
        handover_synced INTEGER NOT NULL DEFAULT 0,
        handover_error TEXT
    );
    CREATE INDEX escort_status ON escort (status, decided_at);
"""
# Store migration 5 (issue 12): who took the vehicle over. '' until a hand-over names them (so also for hand-overs
# recorded before the migration, and another device's whose server answer named nobody).
HANDOVER_IDENTITY = """
    ALTER TABLE escort ADD COLUMN handover_staff_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE escort ADD COLUMN handover_staff_id_last4 TEXT NOT NULL DEFAULT '';
    ALTER TABLE escort ADD COLUMN handover_officer TEXT
"""
DONE = ("handed_over", "cancelled")
_COLUMNS = (
    "crossing_id, own, plate, decided_at, status, server_id, enterprise, staff_name, staff_phone, eta, "
    "answered_at, handed_over_at, handover_synced, handover_error, handover_staff_name, handover_staff_id_last4, "
    "handover_officer"
)
UNSENT_HANDOVERS = (
    "SELECT crossing_id, server_id, handed_over_at, handover_staff_name, handover_staff_id_last4, handover_officer "
    "FROM escort WHERE handed_over_at IS NOT NULL "
    "AND handover_synced = 0 AND handover_error IS NULL AND server_id IS NOT NULL ORDER BY handed_over_at"
)
UNSEEN_REQUESTS = "SELECT count(*) FROM escort WHERE own = 1 AND status = 'open' AND server_id IS NULL"


def _utc(value: str | datetime | None) -> str | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).isoformat()


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def add_own(conn: sqlite3.Connection, record: Mapping[str, Any]) -> None:
    """The escort wait starts with this decision (the server opens the request when the crossing arrives)."""
    enterprise = (
        json.dumps({"uscc": record["enterprise"], "name": None, "contact": None, "phone": None})
        if record["enterprise"]
        else None
    )
    conn.execute(
        "INSERT INTO escort (crossing_id, own, plate, decided_at, status, enterprise) VALUES (?, 1, ?, ?, 'unsent', ?)",
        (record["id"], record["plate"], _utc(record["decided_at"]), enterprise),
    )


def mark_requested(conn: sqlite3.Connection, crossing_ids: Sequence[str]) -> None:
    conn.executemany(
        "UPDATE escort SET status = 'open' WHERE crossing_id = ? AND status = 'unsent'",
        [(rid,) for rid in crossing_ids],
    )


def _server_identity(item: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """Who the server says took the vehicle over (an older server, or a hand-over without it: nobody named)."""
    taken = item.get("handover") or {}
    return (taken.get("staff_name") or "", taken.get("staff_id_last4") or "", taken.get("officer"))


def merge(conn: sqlite3.Connection, escorts: Sequence[Mapping[str, Any]]) -> int:
    """Fold escort requests as the server answers them (GET /api/v1/escorts) into the view; how many."""
    for item in escorts:
        answer = (
            item["id"],
            json.dumps(item["enterprise"], ensure_ascii=False) if item.get("enterprise") else None,
            item.get("staff_name") or "",
            item.get("staff_phone") or "",
            _utc(item.get("eta")),
            _utc(item.get("answered_at")),
        )
        server_handover = _utc(item.get("handed_over_at"))
        identity = _server_identity(item) if server_handover is not None else ("", "", None)
        found = conn.execute(
            "SELECT handed_over_at FROM escort WHERE crossing_id = ?", (item["crossing_id"],)
        ).fetchone()
        if found is None:  # another device of this checkpoint made the crossing
            conn.execute(
                f"INSERT INTO escort ({_COLUMNS}) VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",  # noqa: S608 (constants)
                (
                    item["crossing_id"],
                    item["plate"],
                    _utc(item["requested_at"]),
                    item["status"],
                    *answer,
                    server_handover,
                    int(server_handover is not None),
                    *identity,
                ),
            )
            continue
        conn.execute(
            "UPDATE escort SET server_id = ?, enterprise = coalesce(?, enterprise), staff_name = ?, "
            "staff_phone = ?, eta = ?, answered_at = ? WHERE crossing_id = ?",
            (*answer, item["crossing_id"]),
        )
        if found[0] is None:  # nothing recorded here: the server's status stands
            conn.execute(
                "UPDATE escort SET status = ?, handed_over_at = ?, handover_synced = ?, handover_staff_name = ?, "
                "handover_staff_id_last4 = ?, handover_officer = ? WHERE crossing_id = ?",
                (
                    item["status"],
                    server_handover,
                    int(server_handover is not None),
                    *identity,
                    item["crossing_id"],
                ),
            )
        elif server_handover is not None:  # the server has a hand-over: the first one stands, ours or not
            _take_servers(conn, item["crossing_id"], server_handover, identity)
    return len(escorts)


def _take_servers(
    conn: sqlite3.Connection, crossing_id: str, at: str, identity: tuple[str, str, str | None]
) -> None:
    conn.execute(
        "UPDATE escort SET handed_over_at = ?, handover_synced = 1 WHERE crossing_id = ?", (at, crossing_id)
    )
    if identity[0]:  # an older server names nobody: what was typed here is kept rather than blanked
        conn.execute(
            "UPDATE escort SET handover_staff_name = ?, handover_staff_id_last4 = ?, handover_officer = ? "
            "WHERE crossing_id = ?",
            (*identity, crossing_id),
        )


def hand_over(
    conn: sqlite3.Connection,
    crossing_id: str,
    at: datetime,
    *,
    staff_name: str,
    staff_id_last4: str,
    officer: str | None,
) -> None:
    """Record the hand-over: raises InputError (nothing changed) for a bad time or identity, an unknown or
    cancelled request, a time before the decision. A request already handed over keeps its first hand-over."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError("give the hand-over time with its time zone", code="HANDOVER_TIME_INVALID")
    identity = (
        handover.staff_name(staff_name),
        handover.staff_id_last4(staff_id_last4),
        handover.officer(officer),
    )
    found = conn.execute(
        "SELECT status, decided_at, handed_over_at FROM escort WHERE crossing_id = ?", (crossing_id,)
    ).fetchone()
    if found is None:
        raise InputError(f"no escort request for crossing {crossing_id[:40]!r}", code="ESCORT_UNKNOWN")
    status, decided_at, handed_over_at = found
    if handed_over_at is not None:
        return  # already handed over: the first hand-over stands
    if status == "cancelled":
        raise InputError("this escort request was cancelled by the bureau", code="ESCORT_CLOSED")
    if at < datetime.fromisoformat(decided_at):
        raise InputError("the hand-over cannot precede the decision", code="HANDOVER_BEFORE_REQUEST")
    conn.execute(
        "UPDATE escort SET status = 'handed_over', handed_over_at = ?, handover_synced = 0, handover_error = NULL, "
        "handover_staff_name = ?, handover_staff_id_last4 = ?, handover_officer = ? WHERE crossing_id = ?",
        (_utc(at), *identity, crossing_id),
    )


def handover_result(
    conn: sqlite3.Connection, crossing_id: str, *, error: str | None, answer: Mapping[str, Any] | None
) -> None:
    if error is not None:
        conn.execute("UPDATE escort SET handover_error = ? WHERE crossing_id = ?", (error[:80], crossing_id))
        return
    at = _utc(answer.get("handed_over_at")) if answer else None
    conn.execute("UPDATE escort SET handover_synced = 1 WHERE crossing_id = ?", (crossing_id,))
    if at is not None and answer is not None:  # another device's hand-over may have reached the server first
        _take_servers(conn, crossing_id, at, _server_identity(answer))


def _rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    result = []
    for row in conn.execute(sql, params).fetchall():
        item = dict(zip(_COLUMNS.split(", "), row, strict=True))
        item["own"] = bool(item["own"])
        item["handover_synced"] = bool(item["handover_synced"])
        item["enterprise"] = json.loads(item["enterprise"]) if item["enterprise"] else None
        for key in ("decided_at", "eta", "answered_at", "handed_over_at"):
            item[key] = _moment(item[key])
        result.append(item)
    return result


def handed_over_since(conn: sqlite3.Connection, since: datetime, limit: int) -> list[dict[str, Any]]:
    """The latest hand-overs at or after ``since``, newest first (the panel shows them with the total wait)."""
    sql = (
        f"SELECT {_COLUMNS} FROM escort WHERE status = 'handed_over' AND handed_over_at >= ? "  # noqa: S608 (constants)
        "ORDER BY handed_over_at DESC, crossing_id LIMIT ?"
    )
    return _rows(conn, sql, (_utc(since), limit))


def listing(conn: sqlite3.Connection, *, include_done: bool) -> list[dict[str, Any]]:
    """Oldest request first: the vehicle that has waited longest is the most urgent."""
    where = "" if include_done else f"WHERE status NOT IN {DONE!r}"
    return _rows(conn, f"SELECT {_COLUMNS} FROM escort {where} ORDER BY decided_at, crossing_id")  # noqa: S608 (constants)
