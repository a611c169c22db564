"""Retention: personal and health data in crossings older than the policy's ``retention_days`` is anonymised.

What goes: every field the crossing-record contract marks personal (``passcore.crossing.Personal``: occupants'
names, temperatures, origins and travel histories), in the record's body and in conflicting uploads, and the names
and phones of the enterprise staff who took an escorted vehicle over. What stays is what
statistics and chain verification need: the record's columns (time, checkpoint, device, plate, pass, enterprise,
outcome, versions, hashes), its reasons and checks, how many people were aboard in which roles, and whether each
had a fever. A purged body no longer hashes to ``record_hash`` — ``purged_at`` says why — so before a body is
purged its hash is checked once more and an edit raises an alert (the last chance to prove it).
Idempotent: a second run finds nothing to do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from passcore.crossing import anonymise
from passcore.policy import Policy
from server.alerts import rules
from server.alerts import service as alerts
from server.crossings.models import Crossing, CrossingConflict, EscortRequest
from server.policy import service as policy_service
from server.policy.models import PolicyVersion

__all__ = ["PurgeReport", "purge"]

BATCH = 500  # committed batch by batch: a long purge holds no lock for long and resumes where it stopped


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    retention_days: int
    crossings: int
    conflicts: int
    escorts: int
    edited: int  # bodies found edited just before they were purged (each raised an alert)
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cutoff"] = self.cutoff.isoformat()
        return data


def _thresholds(session: Session) -> dict[int, Decimal]:
    return {
        version: Policy.from_dict(json.loads(text)).fever_threshold_c
        for version, text in session.exec(select(PolicyVersion.version, PolicyVersion.body_json))
    }


def _purge_crossings(session: Session, cutoff: datetime, now: datetime) -> tuple[int, int]:
    thresholds = _thresholds(session)
    default = Policy().fever_threshold_c
    purged = edited = 0
    while True:
        query = (
            select(Crossing)
            .where(col(Crossing.decided_at) < cutoff, col(Crossing.purged_at).is_(None))
            .order_by(col(Crossing.decided_at), col(Crossing.id))
            .limit(BATCH)
        )
        batch = list(session.exec(query))
        if not batch:
            return purged, edited
        findings = []
        for crossing in batch:
            if hashlib.sha256(crossing.body_json.encode("utf-8")).hexdigest() != crossing.record_hash:
                problem = rules.ChainProblem(rules.BODY_EDITED, crossing.seq, crossing.id)
                findings.append(rules.chain_finding(crossing.device_id, crossing.checkpoint_id, problem, now))
                edited += 1
            body = json.loads(crossing.body_json)
            threshold = thresholds.get(crossing.policy_version, default)
            crossing.body_json = json.dumps(anonymise(body, threshold), ensure_ascii=False, sort_keys=True)
            crossing.purged_at = now
            session.add(crossing)
        alerts.raise_findings(session, findings, now)
        session.exec(
            update(EscortRequest)
            .where(col(EscortRequest.crossing_id).in_([c.id for c in batch]))
            .values(staff_name="", staff_phone="")
        )
        session.commit()
        purged += len(batch)


def _purge_conflicts(session: Session, cutoff: datetime, now: datetime) -> int:
    default = Policy().fever_threshold_c
    purged = 0
    while True:
        query = (
            select(CrossingConflict)
            .where(col(CrossingConflict.received_at) < cutoff, col(CrossingConflict.purged_at).is_(None))
            .order_by(col(CrossingConflict.id))
            .limit(BATCH)
        )
        batch = list(session.exec(query))
        if not batch:
            return purged
        for conflict in batch:
            try:
                body = json.loads(conflict.body_json)
            except ValueError:
                body = {}
            body = anonymise(body, default) if isinstance(body, dict) else {}
            conflict.body_json = json.dumps(body, ensure_ascii=False, sort_keys=True)
            conflict.purged_at = now
            session.add(conflict)
        session.commit()
        purged += len(batch)


def _count(session: Session, query: Any) -> int:
    return int(session.exec(query).one())


def purge(*, session: Session, now: datetime, dry_run: bool = False) -> PurgeReport:
    """Anonymise everything past the retention period of the policy in force. Commits batch by batch."""
    days = policy_service.current(session).retention_days
    cutoff = now - timedelta(days=days)
    old_crossings = (
        select(func.count())
        .select_from(Crossing)
        .where(col(Crossing.decided_at) < cutoff, col(Crossing.purged_at).is_(None))
    )
    old_conflicts = (
        select(func.count())
        .select_from(CrossingConflict)
        .where(col(CrossingConflict.received_at) < cutoff, col(CrossingConflict.purged_at).is_(None))
    )
    if dry_run:
        old_ids = select(Crossing.id).where(
            col(Crossing.decided_at) < cutoff, col(Crossing.purged_at).is_(None)
        )
        old_escorts = (
            select(func.count())
            .select_from(EscortRequest)
            .where(
                col(EscortRequest.crossing_id).in_(old_ids),
                (EscortRequest.staff_name != "") | (EscortRequest.staff_phone != ""),
            )
        )
        return PurgeReport(
            cutoff,
            days,
            _count(session, old_crossings),
            _count(session, old_conflicts),
            _count(session, old_escorts),
            0,
            True,
        )
    staffed = (
        select(func.count())
        .select_from(EscortRequest)
        .join(Crossing, col(Crossing.id) == col(EscortRequest.crossing_id))
        .where(
            col(Crossing.decided_at) < cutoff,
            col(Crossing.purged_at).is_(None),
            (EscortRequest.staff_name != "") | (EscortRequest.staff_phone != ""),
        )
    )
    escorts = _count(session, staffed)
    crossings, edited = _purge_crossings(session, cutoff, now)
    conflicts = _purge_conflicts(session, cutoff, now)
    return PurgeReport(cutoff, days, crossings, conflicts, escorts, edited, False)
