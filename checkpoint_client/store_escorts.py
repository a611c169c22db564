"""The local escort view (SQL used by ``store.Store``, inside its transactions).

An ESCORT_REQUIRED decision adds a row here in the same transaction as the crossing (status ``unsent``); once the
server accepts the crossing it has opened a request (``open``); sync then folds in the server's view —
the enterprise's answer (``answered``: staff, phone, arrival estimate) and hand-overs, also those of other devices
at this checkpoint. The enterprise's contact person and phone come only from the server's answer (``enterprise``,
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

from passcore.errors import InputError

__all__ = ["SCHEMA", "UNSEEN_REQUESTS", "UNSENT_HANDOVERS", "add_own", "hand_over", "listing", "merge"]

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
DONE = ("handed_over", "cancelled")
_COLUMNS = (
    "crossing_id, own, plate, decided_at, status, server_id, enterprise, staff_name, staff_phone, eta, "
    "answered_at, handed_over_at, handover_synced, handover_error"
)
UNSENT_HANDOVERS = (
    "SELECT crossing_id, server_id, handed_over_at FROM escort WHERE handed_over_at IS NOT NULL "
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
        found = conn.execute(
            "SELECT handed_over_at FROM escort WHERE crossing_id = ?", (item["crossing_id"],)
        ).fetchone()
        if found is None:  # another device of this checkpoint made the crossing
            conn.execute(
                f"INSERT INTO escort ({_COLUMNS}) VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",  # noqa: S608 (constants)
                (
                    item["crossing_id"],
                    item["plate"],
                    _utc(item["requested_at"]),
                    item["status"],
                    *answer,
                    server_handover,
                    int(server_handover is not None),
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
                "UPDATE escort SET status = ?, handed_over_at = ?, handover_synced = ? WHERE crossing_id = ?",
                (item["status"], server_handover, int(server_handover is not None), item["crossing_id"]),
            )
        elif server_handover is not None:  # the server has a hand-over: the first one stands, ours or not
            conn.execute(
                "UPDATE escort SET handed_over_at = ?, handover_synced = 1 WHERE crossing_id = ?",
                (server_handover, item["crossing_id"]),
            )
    return len(escorts)


def hand_over(conn: sqlite3.Connection, crossing_id: str, at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InputError("give the hand-over time with its time zone", code="HANDOVER_TIME_INVALID")
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
        "UPDATE escort SET status = 'handed_over', handed_over_at = ?, handover_synced = 0, handover_error = NULL "
        "WHERE crossing_id = ?",
        (_utc(at), crossing_id),
    )


def handover_result(
    conn: sqlite3.Connection, crossing_id: str, *, error: str | None, answer: Mapping[str, Any] | None
) -> None:
    if error is not None:
        conn.execute("UPDATE escort SET handover_error = ? WHERE crossing_id = ?", (error[:80], crossing_id))
        return
    at = _utc(answer.get("handed_over_at")) if answer else None
    conn.execute(
        "UPDATE escort SET handover_synced = 1, handed_over_at = coalesce(?, handed_over_at) WHERE crossing_id = ?",
        (at, crossing_id),
    )


def listing(conn: sqlite3.Connection, *, include_done: bool) -> list[dict[str, Any]]:
    where = "" if include_done else f"WHERE status NOT IN {DONE!r}"
    sql = f"SELECT {_COLUMNS} FROM escort {where} ORDER BY decided_at, crossing_id"  # noqa: S608 (constants)
    rows = conn.execute(sql).fetchall()
    result = []
    for row in rows:
        item = dict(zip(_COLUMNS.split(", "), row, strict=True))
        item["own"] = bool(item["own"])
        item["handover_synced"] = bool(item["handover_synced"])
        item["enterprise"] = json.loads(item["enterprise"]) if item["enterprise"] else None
        for key in ("decided_at", "eta", "answered_at", "handed_over_at"):
            item[key] = _moment(item[key])
        result.append(item)
    return result
