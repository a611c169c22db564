"""Raising alerts: on crossing ingest, on an escort hand-over, by the periodic sweep and by chain verification.

Rules (``rules.py``) decide on facts gathered from the database (``facts.py``); this module stores what they
find, each finding once (its dedupe key is unique). Ingest stores its records and their entries in the audit
queue (``queue.py``) in one transaction; ``audit_entries`` audits claimed entries, marks the crossings
``audited_at`` and deletes the entries in the auditor's transaction: the uploading request right after its commit
(``on_ingest``, the inline mode: a failure is logged and never costs a device its upload), a `checkpass worker`
(``server.alerts.worker``, the queue mode), or the periodic sweep, which works what is left in the queue.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from passcore.reasons import ESCORT_REQUIRED
from server import workdays
from server.alerts import chains, facts, queue, rules
from server.alerts.facts import Limits
from server.alerts.models import (
    ALERT_ACKNOWLEDGED,
    ALERT_CLOSED,
    ALERT_OPEN,
    AUDIT_CONFLICT,
    AUDIT_CROSSING,
    Alert,
    AuditQueueEntry,
)
from server.alerts.replay import ReplayContext
from server.checkpoints.models import Device
from server.crossings.models import ESCORT_ANSWERED, ESCORT_HANDED_OVER, ESCORT_OPEN, Crossing, EscortRequest
from server.db import is_in, lock_name
from server.problems import service as problems
from server.quarantine import service as quarantine

__all__ = [
    "Limits",
    "audit_entries",
    "escort_checked",
    "on_ingest",
    "raise_findings",
    "sweep",
    "verify_chains",
    "work_queue",
]

logger = logging.getLogger(__name__)
GAP_FILLED_NOTE = "gap filled by a later upload"
ATTEMPTS = 3
AUDIT_GRACE = timedelta(minutes=1)  # an upload being audited right now is left to its own request
SWEEP_CROSSINGS = 5000  # per round; the next round takes the rest
SWEEP_BATCH = 500  # queue entries per transaction when the sweep works the queue


def raise_findings(session: Session, findings: Iterable[rules.Finding], now: datetime) -> int:
    """Store the findings not raised before; returns how many are new. Not committed."""
    unique = {finding.dedupe_key: finding for finding in findings}
    if not unique:
        return 0
    query = select(Alert.dedupe_key).where(col(Alert.dedupe_key).in_(unique))
    known = set(session.exec(query))
    fresh = [finding for key, finding in unique.items() if key not in known]
    if not fresh:
        return 0
    try:
        with session.begin_nested():
            session.exec(insert(Alert), params=[_row(finding, now) for finding in fresh])
        return len(fresh)
    except IntegrityError:
        pass
    # Another worker raised some of them at the same moment: its rows win, ours are dropped one by one.
    raised = 0
    for finding in fresh:
        try:
            with session.begin_nested():
                session.exec(insert(Alert), params=[_row(finding, now)])
            raised += 1
        except IntegrityError:
            continue
    return raised


def _row(finding: rules.Finding, now: datetime) -> dict[str, Any]:
    return {
        "kind": finding.kind,
        "status": ALERT_OPEN,
        "dedupe_key": finding.dedupe_key[:200],
        "crossing_id": finding.crossing_id,
        "device_id": finding.device_id,
        "pass_id": finding.pass_id,
        "checkpoint_id": finding.checkpoint_id,
        "occurred_at": finding.occurred_at,
        "detail": json.dumps(finding.detail, ensure_ascii=False, sort_keys=True),
        "created_at": now,
        "note": "",
    }


def _heal(session: Session, keys: Sequence[str], now: datetime) -> None:
    if keys:
        session.exec(
            update(Alert)
            .where(col(Alert.dedupe_key).in_(keys), col(Alert.status).in_((ALERT_OPEN, ALERT_ACKNOWLEDGED)))
            .values(status=ALERT_CLOSED, acted_at=now, note=GAP_FILLED_NOTE)
        )


def on_ingest(
    *, session: Session, entries: Sequence[int], now: datetime, limits: Limits | None = None
) -> None:
    """The inline mode: the uploading request audits the queue entries it has just committed (their ids), as a
    worker would. Committed. Entries another auditor holds are skipped: it audits them.

    Never raises: the records are already stored, and their entries stay queued for the sweep if this fails.
    """
    if not entries:
        return
    for _attempt in range(ATTEMPTS):
        try:
            claimed = queue.claim(session, limit=len(entries), ids=entries)
            audit_entries(session, claimed, now, limits or Limits())
            session.commit()
            return
        except (OperationalError, queue.QueueRace):
            # SQLite: another writer committed after this transaction's first read; PostgreSQL: a deadlock with
            # another auditor raising the same alerts. A new transaction sees what the other committed.
            session.rollback()
        except Exception as err:  # the upload has succeeded; the sweep audits it again
            session.rollback()
            # The type only: a message could quote a record's contents.
            logger.error("audit of %d uploaded records failed: %s", len(entries), type(err).__name__)
            return
    logger.error(
        "audit of %d uploaded records gave up after %d attempts: OperationalError", len(entries), ATTEMPTS
    )


def audit_entries(session: Session, entries: Sequence[AuditQueueEntry], now: datetime, limits: Limits) -> int:
    """Audit claimed queue entries (replay, chains, clones, escorts, conflicts), mark their crossings audited and
    delete the entries; returns how many alerts are new. Not committed: the caller commits all of it at once, so
    an auditor that dies half-way leaves the entries queued and nothing of their audit stored.

    PostgreSQL: two auditors never check one device's chain at once. Each first takes a lock per device (in one
    order: no deadlock between them), so one that closes a gap alert sees the alert another has just raised for
    the same device (READ COMMITTED reads what was committed before each statement)."""
    by_device: dict[str, list[AuditQueueEntry]] = {}
    for entry in entries:
        by_device.setdefault(entry.device_id, []).append(entry)
    for device_id in sorted(by_device):
        lock_name(session, f"audit-device:{device_id}")
    raised = 0
    for device_id in sorted(by_device):
        device = session.get(Device, device_id)
        if device is None:  # never deleted while its crossings exist; nothing to audit without it
            continue
        work = by_device[device_id]
        crossings = _queued_crossings(session, [e for e in work if e.kind == AUDIT_CROSSING])
        conflicts = [
            _Conflict(e.crossing_id, e.code or "", e.digest or "", e.enqueued_at)
            for e in work
            if e.kind == AUDIT_CONFLICT
        ]
        raised += _audit(session, device, crossings, conflicts, now, limits)
    queue.remove(session, entries)
    return raised


def _queued_crossings(session: Session, entries: Sequence[AuditQueueEntry]) -> list[Crossing]:
    """The crossings of queue entries, in their device's order. An entry is queued at its crossing's received_at,
    so the lookup also names the range of receipt times: PostgreSQL then reads only the partitions of those days
    (crossing is partitioned by received_at) instead of probing every day's id index for each id. A crossing
    not found there (an entry queued at another time: never made so, but the audit must not skip a record) is
    looked up by id alone."""
    if not entries:
        return []
    ids = [e.crossing_id for e in entries]
    times = [e.enqueued_at for e in entries]
    query = select(Crossing).where(is_in(session, col(Crossing.id), ids))
    found = list(session.exec(query.where(col(Crossing.received_at).between(min(times), max(times)))))
    if len(found) < len(set(ids)):
        have = {c.id for c in found}
        missing = [i for i in ids if i not in have]
        found += session.exec(select(Crossing).where(is_in(session, col(Crossing.id), missing)))
    return sorted(found, key=lambda c: c.seq)


@dataclass(frozen=True)
class _Conflict:
    crossing_id: str
    code: str
    digest: str  # of the refused body (queue.digest)
    received_at: datetime  # when the upload came: the alert's time


def _audit(
    session: Session,
    device: Device,
    crossings: list[Crossing],
    conflicts: Sequence[_Conflict],
    now: datetime,
    limits: Limits,
) -> int:
    context = ReplayContext(session)
    findings = facts.crossing_findings(session, crossings, context) + facts.clone_findings(
        session, crossings, limits
    )
    wanted = [c.id for c in crossings if c.outcome == ESCORT_REQUIRED]
    if wanted:
        escorts = session.exec(
            select(EscortRequest).where(is_in(session, col(EscortRequest.crossing_id), wanted))
        )
        findings += facts.escort_findings(session, escorts, now, context)
    if crossings:
        chain_findings, healed = chains.check_around(session, device, {c.seq for c in crossings}, now)
        findings += chain_findings
        _heal(session, healed, now)
    for conflict in conflicts:
        findings.append(
            rules.Finding(
                kind=rules.UPLOAD_CONFLICT,
                dedupe_key=f"{rules.UPLOAD_CONFLICT}:{device.id}:{conflict.crossing_id}:{conflict.digest}",
                occurred_at=conflict.received_at,
                crossing_id=conflict.crossing_id,
                device_id=device.id,
                checkpoint_id=device.checkpoint_id,
                detail={"code": conflict.code},
            )
        )
    raised = raise_findings(session, findings, now)
    if crossings:
        ids = [c.id for c in crossings]
        received = [c.received_at for c in crossings]  # pruned to their days' partitions, as in the lookup
        session.exec(
            update(Crossing)
            .where(
                is_in(session, col(Crossing.id), ids),
                col(Crossing.received_at).between(min(received), max(received)),
            )
            .values(audited_at=now)
            # Nothing reads these objects' audited_at in this transaction: no RETURNING to keep them in step.
            .execution_options(synchronize_session=False)
        )
    return raised


def work_queue(
    session: Session, *, now: datetime, limits: Limits, enqueued_before: datetime, most: int, batch: int
) -> int:
    """Work queued entries older than ``enqueued_before``, ``batch`` per transaction, at most ``most``; returns
    how many alerts are new. Each batch is committed."""
    raised = done = 0
    while done < most:
        claimed = queue.claim(session, limit=min(batch, most - done), enqueued_before=enqueued_before)
        if not claimed:
            session.rollback()
            break
        raised += audit_entries(session, claimed, now, limits)
        session.commit()
        done += len(claimed)
    return raised


def escort_checked(*, session: Session, escort: EscortRequest, now: datetime) -> None:
    """After a hand-over: was it later than the limit? Committed; never raises (the hand-over stands, and the
    sweep looks at recent hand-overs again)."""
    try:
        raise_findings(session, facts.escort_findings(session, [escort], now, ReplayContext(session)), now)
        session.commit()
    except Exception as err:  # the hand-over is recorded already
        session.rollback()
        logger.error("escort wait check failed: %s", type(err).__name__)


def _problems_overdue(session: Session, now: datetime) -> list[rules.Finding]:
    return [
        rules.problem_overdue_finding(
            problem_id=problem.id,
            due_on=problem.due_on,
            department_id=problem.department_id,
            checkpoint_id=problem.checkpoint_id,
            now=now,
        )
        for problem in problems.overdue(session, now)
        if problem.id is not None
    ]


def _quarantine_overdue(session: Session, now: datetime) -> list[rules.Finding]:
    return [
        rules.quarantine_overdue_finding(
            task_id=task.id,
            due_at=task.due_at.astimezone(workdays.LOCAL),  # the detail says it in Beijing time
            crossing_id=task.crossing_id,
            checkpoint_id=task.checkpoint_id,
            pass_id=task.pass_id,
            enterprise=task.enterprise_uscc,
        )
        for task in quarantine.overdue(session, now)
        if task.id is not None
    ]


def sweep(*, session: Session, now: datetime, limits: Limits, work: bool = True) -> int:
    """The periodic check: escorts waiting (or just handed over) past the limit, enterprises' problems past their
    deadline, quarantine arrivals not confirmed in time (issue 14), and audit work left behind. Crossings never
    audited and not queued (stored by something other than ingest) are queued; with ``work`` (the inline mode:
    no worker runs) the queue's entries older than a minute are audited too (a request that stored them failed
    to audit them, or the server stopped in between). Committed; returns how many alerts are new."""
    recent = now - 2 * limits.interval
    escorts = session.exec(
        select(EscortRequest).where(
            col(EscortRequest.status).in_((ESCORT_OPEN, ESCORT_ANSWERED))
            | (
                (col(EscortRequest.status) == ESCORT_HANDED_OVER)
                & (col(EscortRequest.handed_over_at) >= recent)
            )
        )
    ).all()
    raised = raise_findings(
        session, facts.escort_findings(session, escorts, now, ReplayContext(session)), now
    )
    raised += raise_findings(session, _problems_overdue(session, now), now)
    raised += raise_findings(session, _quarantine_overdue(session, now), now)
    queue.enqueue_unqueued(session, received_before=now - AUDIT_GRACE, limit=SWEEP_CROSSINGS)
    session.commit()
    if work:
        raised += work_queue(
            session,
            now=now,
            limits=limits,
            enqueued_before=now - AUDIT_GRACE,
            most=SWEEP_CROSSINGS,
            batch=SWEEP_BATCH,
        )
    return raised


def verify_chains(*, session: Session, now: datetime) -> list[chains.ChainReport]:
    """Every device's chain from its first record; the first bad record of each raises an alert. Committed."""
    reports = chains.verify_all(session)
    findings = [
        rules.chain_finding(r.device_id, r.checkpoint_id, r.problem, now) for r in reports if r.problem
    ]
    raise_findings(session, findings, now)
    session.commit()
    return reports
