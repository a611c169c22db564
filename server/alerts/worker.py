"""`checkpass worker`'s loop: claim a batch of the audit queue, audit it, commit; again until told to stop.

Each batch is one transaction (claim, audit, audited_at, delete: ``service.audit_entries``), so a worker killed at
any point leaves its batch queued whole and another worker (or its restart) claims it again. Several workers, on
any machines, share one PostgreSQL queue (the claim skips rows another holds); on SQLite they take turns.

The loop reports each batch twice through ``report``: when it is claimed (before any of its audit is done; the
kill test waits for this) and when it is committed. A stop request (SIGTERM) lets the batch in hand finish.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from server.alerts import queue
from server.alerts import service as alerts
from server.alerts.models import AUDIT_CONFLICT
from server.crossings import partitions

__all__ = ["ATTEMPTS", "Claimed", "Done", "WorkerStopped", "run", "work_batch"]

logger = logging.getLogger(__name__)
ATTEMPTS = 5  # of one batch, when the database refuses it (a deadlock between workers, SQLite busy)


@dataclass(frozen=True)
class Claimed:
    """A batch just claimed: nothing of its audit is done yet."""

    entries: int
    first_id: int
    last_id: int
    lag_seconds: float  # how long its oldest entry had waited when it was claimed

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": "claimed",
            "entries": self.entries,
            "first_id": self.first_id,
            "last_id": self.last_id,
            "lag_seconds": round(self.lag_seconds, 3),
        }


@dataclass(frozen=True)
class Done:
    """A batch committed: its crossings audited, its conflicts raised, its entries gone."""

    entries: int
    crossings: int
    conflicts: int
    alerts: int  # new alerts
    lag_seconds: float  # as claimed

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": "audited",
            "entries": self.entries,
            "crossings": self.crossings,
            "conflicts": self.conflicts,
            "alerts": self.alerts,
            "lag_seconds": round(self.lag_seconds, 3),
        }


class WorkerStopped(Exception):
    """The database refused a batch ``ATTEMPTS`` times in a row (it is gone, or something keeps failing)."""


def work_batch(
    engine: Engine,
    *,
    size: int,
    limits: alerts.Limits,
    clock: Callable[[], datetime],
    report: Callable[[Claimed | Done], None],
) -> Done | None:
    """Claim up to ``size`` entries, audit and commit them; None when the queue is empty. A refusal by the
    database (deadlock, SQLite busy, a lost connection) rolls the batch back and claims again."""
    for attempt in range(ATTEMPTS):
        with Session(engine, expire_on_commit=False) as session:
            try:
                now = clock()
                entries = queue.claim(session, limit=size)
                if not entries:
                    session.rollback()
                    return None
                oldest = min(entry.enqueued_at for entry in entries)
                lag = max(0.0, (now - oldest).total_seconds())
                ids = [entry.id or 0 for entry in entries]
                report(Claimed(len(entries), min(ids), max(ids), lag))
                raised = alerts.audit_entries(session, entries, now, limits)
                session.commit()
            except (OperationalError, queue.QueueRace) as err:
                session.rollback()
                # The type only: a message could quote a record's contents.
                logger.warning("audit batch rolled back (attempt %d): %s", attempt + 1, type(err).__name__)
                continue
        conflicts = sum(entry.kind == AUDIT_CONFLICT for entry in entries)
        done = Done(len(entries), len(entries) - conflicts, conflicts, raised, lag)
        report(done)
        return done
    raise WorkerStopped(f"the database refused an audit batch {ATTEMPTS} times in a row")


def run(
    engine: Engine,
    *,
    size: int,
    limits: alerts.Limits,
    idle_seconds: float,
    once: bool,
    stop: threading.Event,
    clock: Callable[[], datetime],
    report: Callable[[Claimed | Done], None],
) -> int:
    """Work batches until ``stop`` is set (checked between batches, so a batch in hand always finishes) or, with
    ``once``, until the queue is empty. An empty queue is looked at again after ``idle_seconds``. Returns how many
    entries were audited."""
    audited = 0
    ahead = partitions.Keeper(engine)
    while not stop.is_set():
        ahead.tick(clock())  # crossing's next days' partitions (PostgreSQL), once an hour
        done = work_batch(engine, size=size, limits=limits, clock=clock, report=report)
        if done is not None:
            audited += done.entries
            continue
        if once:
            break
        stop.wait(idle_seconds)
    return audited
