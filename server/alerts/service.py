"""Raising alerts: on crossing ingest, on an escort hand-over, by the periodic sweep and by chain verification.

Rules (``rules.py``) decide on facts gathered from the database (``facts.py``); this module stores what they
find, each finding once (its dedupe key is unique). Ingest calls ``on_ingest`` right after it has committed the records: a
failure here is logged and never costs a device its upload; the periodic sweep audits every record not marked
``audited_at`` (alerts and mark are committed together).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from passcore.reasons import ESCORT_REQUIRED
from server.alerts import chains, facts, rules
from server.alerts.facts import Limits
from server.alerts.models import ALERT_ACKNOWLEDGED, ALERT_CLOSED, ALERT_OPEN, Alert
from server.alerts.replay import ReplayContext
from server.checkpoints.models import Device
from server.crossings.models import ESCORT_ANSWERED, ESCORT_HANDED_OVER, ESCORT_OPEN, Crossing, EscortRequest
from server.problems import service as problems

__all__ = ["Limits", "escort_checked", "on_ingest", "raise_findings", "sweep", "verify_chains"]

logger = logging.getLogger(__name__)
GAP_FILLED_NOTE = "gap filled by a later upload"
ATTEMPTS = 3
AUDIT_GRACE = timedelta(minutes=1)  # an upload being audited right now is left to its own request
SWEEP_CROSSINGS = 5000  # per round; the next round takes the rest


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
    *,
    session: Session,
    device: Device,
    accepted: Sequence[str],
    conflicts: Sequence[tuple[str, str, str]] = (),
    now: datetime,
    limits: Limits | None = None,
) -> None:
    """Alerts for records just stored (their ids) and conflicts just kept: (crossing id, code, body). Committed.

    Never raises: the records are already stored, and the periodic sweep audits any that stay unmarked.
    """
    if not accepted and not conflicts:
        return
    for _attempt in range(ATTEMPTS):
        try:
            query = select(Crossing).where(col(Crossing.id).in_(accepted)).order_by(col(Crossing.seq))
            crossings = list(session.exec(query)) if accepted else []
            _audit(session, device, crossings, conflicts, now, limits or Limits())
            session.commit()
            return
        except OperationalError:
            # SQLite: another writer committed after this transaction's first read; a new one sees it.
            session.rollback()
        except Exception as err:  # the upload has succeeded; the sweep audits it again
            session.rollback()
            # The type only: a message could quote a record's contents.
            logger.error("audit of %d uploaded records failed: %s", len(accepted), type(err).__name__)
            return
    logger.error(
        "audit of %d uploaded records gave up after %d attempts: OperationalError", len(accepted), ATTEMPTS
    )


def _audit(
    session: Session,
    device: Device,
    crossings: list[Crossing],
    conflicts: Sequence[tuple[str, str, str]],
    now: datetime,
    limits: Limits,
) -> int:
    context = ReplayContext(session)
    findings = facts.crossing_findings(session, crossings, context) + facts.clone_findings(
        session, crossings, limits
    )
    wanted = [c.id for c in crossings if c.outcome == ESCORT_REQUIRED]
    if wanted:
        escorts = session.exec(select(EscortRequest).where(col(EscortRequest.crossing_id).in_(wanted)))
        findings += facts.escort_findings(session, escorts, now, context)
    if crossings:
        chain_findings, healed = chains.check_around(session, device, {c.seq for c in crossings}, now)
        findings += chain_findings
        _heal(session, healed, now)
    for crossing_id, code, body in conflicts:
        digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
        findings.append(
            rules.Finding(
                kind=rules.UPLOAD_CONFLICT,
                dedupe_key=f"{rules.UPLOAD_CONFLICT}:{device.id}:{crossing_id}:{digest}",
                occurred_at=now,
                crossing_id=crossing_id,
                device_id=device.id,
                checkpoint_id=device.checkpoint_id,
                detail={"code": code},
            )
        )
    raised = raise_findings(session, findings, now)
    if crossings:
        ids = [c.id for c in crossings]
        session.exec(update(Crossing).where(col(Crossing.id).in_(ids)).values(audited_at=now))
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


def sweep(*, session: Session, now: datetime, limits: Limits) -> int:
    """The periodic check: escorts waiting (or just handed over) past the limit, enterprises' problems past their
    deadline, and uploads whose audit never ran (the server stopped between storing and auditing them, or the
    audit failed). Committed; returns how many alerts are new."""
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
    query = (
        select(Crossing)
        .where(col(Crossing.audited_at).is_(None), col(Crossing.received_at) <= now - AUDIT_GRACE)
        .order_by(col(Crossing.device_id), col(Crossing.seq))
        .limit(SWEEP_CROSSINGS)
    )
    by_device: dict[str, list[Crossing]] = {}
    for crossing in session.exec(query):
        by_device.setdefault(crossing.device_id, []).append(crossing)
    for device_id, crossings in by_device.items():
        device = session.get(Device, device_id)
        if device is not None:
            raised += _audit(session, device, crossings, (), now, limits)
    session.commit()
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
