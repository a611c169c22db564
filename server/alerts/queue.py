"""The audit queue: durable work for the audit, written by ingest in the transaction that stores the records.

An entry is a crossing just stored or a conflicting upload just kept (``audit_queue``, models.py). Whoever audits
(a `checkpass worker`, the uploading request itself in the inline mode, the periodic sweep for leftovers) claims
entries, raises their alerts, marks the crossings ``audited_at`` and deletes the entries, all in one transaction:
a process killed half-way leaves every entry in the queue for the next claim, so each record's audit is
committed exactly once.

Claiming: PostgreSQL locks the claimed rows ``FOR UPDATE SKIP LOCKED``, so workers on several machines share the
queue and never take the same entry. SQLite has one writer at a time: a claim starts with a write, so a second
auditor waits for the first one's commit and then claims what is left.

This module is the table's only reader and writer; the audit itself is ``service.audit_entries``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, literal, text
from sqlmodel import Session, col, select

from server.alerts.models import AUDIT_CONFLICT, AUDIT_CROSSING, AuditQueueEntry
from server.crossings.models import Crossing
from server.db import is_in

__all__ = [
    "INLINE",
    "QUEUE",
    "Conflict",
    "QueueRace",
    "QueueStats",
    "claim",
    "digest",
    "enqueue",
    "enqueue_unqueued",
    "remove",
    "stats",
]

# The settings' audit_mode: who audits an upload. INLINE: its own request, right after committing it (one process
# does everything: the embedded demo, a small site). QUEUE: `checkpass worker` processes; ingest only queues.
INLINE, QUEUE = "inline", "queue"


@dataclass(frozen=True)
class QueueStats:
    """How much audit work waits, and for how long the oldest has waited (the audit lag)."""

    length: int
    oldest_enqueued_at: datetime | None
    lag_seconds: float  # now - the oldest entry's enqueued_at; 0 when the queue is empty

    def to_dict(self) -> dict[str, Any]:
        return {
            "length": self.length,
            "oldest_enqueued_at": self.oldest_enqueued_at.isoformat() if self.oldest_enqueued_at else None,
            "lag_seconds": round(self.lag_seconds, 3),
        }


def stats(session: Session, now: datetime) -> QueueStats:
    """The queue's length and lag at ``now``: one aggregate over the enqueued_at index (cheap at any length the
    queue reaches; it is read by /metrics on every scrape)."""
    length, oldest = session.exec(
        select(func.count(), func.min(AuditQueueEntry.enqueued_at))  # type: ignore[call-overload]
    ).one()
    if oldest is None:
        return QueueStats(0, None, 0.0)
    # A clock a little behind another server's is not a negative lag.
    return QueueStats(int(length), oldest, max(0.0, (now - oldest).total_seconds()))


@dataclass(frozen=True)
class Conflict:
    """A conflicting upload as ingest kept it: the crossing id it claimed, why it was refused, its body."""

    crossing_id: str
    code: str
    body: str


def digest(body: str) -> str:
    """What a conflict's alert is told apart by: the first 16 hex digits of its body's sha256."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def enqueue(
    session: Session,
    *,
    device_id: str,
    crossings: Sequence[str],
    conflicts: Sequence[Conflict],
    now: datetime,
) -> list[int]:
    """Queue the audit of crossings just stored (their ids) and conflicts just kept; returns the entries' ids.
    Not committed: the caller commits it with the records."""
    rows: list[dict[str, Any]] = [
        {"kind": AUDIT_CROSSING, "crossing_id": rid, "device_id": device_id, "enqueued_at": now}
        for rid in crossings
    ]
    rows += [
        {
            "kind": AUDIT_CONFLICT,
            "crossing_id": c.crossing_id,
            "device_id": device_id,
            "code": c.code,
            "digest": digest(c.body),
            "enqueued_at": now,
        }
        for c in conflicts
    ]
    if not rows:
        return []
    returned = session.execute(insert(AuditQueueEntry).returning(col(AuditQueueEntry.id)), rows)
    return [int(entry_id) for entry_id in returned.scalars()]


def enqueue_unqueued(session: Session, *, received_before: datetime, limit: int) -> int:
    """Queue crossings stored without an entry and never audited (written by something other than ingest, or
    before the queue existed), received before ``received_before`` (so an upload committing right now is left to
    its own entries). Each is queued at its time of receipt. Not committed; returns how many."""
    queued = exists().where(
        col(AuditQueueEntry.kind) == AUDIT_CROSSING, col(AuditQueueEntry.crossing_id) == col(Crossing.id)
    )
    missing = (
        select(  # type: ignore[call-overload]
            literal(AUDIT_CROSSING), col(Crossing.id), col(Crossing.device_id), col(Crossing.received_at)
        )
        .where(col(Crossing.audited_at).is_(None), col(Crossing.received_at) < received_before, ~queued)
        .order_by(col(Crossing.received_at))
        .limit(limit)
    )
    result = session.execute(
        insert(AuditQueueEntry).from_select(["kind", "crossing_id", "device_id", "enqueued_at"], missing)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _take_turn(session: Session) -> None:
    """SQLite: begin the transaction with a write, so it holds the database's one write lock from its first
    read on (pysqlite starts a transaction only at the first write). A second auditor waits here for the first
    one's commit and then reads what the first left, instead of auditing the same entries and failing at the end.
    An UPDATE that matches no row still takes the lock. PostgreSQL locks the rows it claims instead."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE audit_queue SET id = id WHERE 0 = 1"))


def claim(
    session: Session,
    *,
    limit: int,
    ids: Sequence[int] | None = None,
    enqueued_before: datetime | None = None,
) -> list[AuditQueueEntry]:
    """Up to ``limit`` entries, oldest first, locked for this transaction (entries another transaction holds are
    skipped, not waited for). ``ids``: only these (the inline mode's own entries); ``enqueued_before``: only
    entries queued before it (the sweep's leftovers)."""
    _take_turn(session)
    query = select(AuditQueueEntry).order_by(col(AuditQueueEntry.id)).limit(limit)
    if ids is not None:
        if not ids:
            return []
        query = query.where(col(AuditQueueEntry.id).in_(ids))
    if enqueued_before is not None:
        query = query.where(col(AuditQueueEntry.enqueued_at) < enqueued_before)
    # SKIP LOCKED: rows another worker claimed are not waited for; the next ones are taken instead. SQLite
    # ignores the clause (its writers take turns, see _take_turn).
    return list(session.exec(query.with_for_update(skip_locked=True)))


class QueueRace(Exception):
    """Claimed entries were gone at the end of their audit: another transaction audited them (cannot happen
    under the claim's locks; checked so that it can never commit an audit twice). The transaction is rolled back
    and the work claimed again."""


def remove(session: Session, entries: Sequence[AuditQueueEntry]) -> None:
    """Delete worked entries, in the transaction that audited them. Not committed."""
    ids = [entry.id for entry in entries]
    if not ids:
        return
    worked = delete(AuditQueueEntry).where(is_in(session, col(AuditQueueEntry.id), ids))
    # The entries are not used again: no RETURNING to take them out of the session.
    deleted = session.execute(worked.execution_options(synchronize_session=False))
    if deleted.rowcount != len(ids):  # type: ignore[attr-defined]
        raise QueueRace(f"{len(ids) - deleted.rowcount} of {len(ids)} claimed entries were already audited")  # type: ignore[attr-defined]
