"""Retention: personal and health data older than the policy's ``retention_days`` is removed, wherever it is.

Old means: claimed *or* received before the cutoff. A device states its records' decision times itself, so a record
dated in the future (2099) would otherwise never be old; its time of receipt is the server's own.

What goes (docs/design.md "Retention"):
- crossings: every field the crossing-record contract marks personal (``passcore.crossing.Personal``: occupants'
  names, temperatures, origins and travel histories), in the record's body and in conflicting uploads, and the
  names and phones of the enterprise staff sent for an escorted vehicle, and the name and ID ending of the one who
  took it over (the officer's number stays, like the crossing's);
- applications and issued passes: the people (``server.retention.issued``);
- alerts: the notes staff wrote on them, free text that may name anyone;
- notices and their deliveries: a rejection's reason or an answer may name people;
- quarantine tasks (issue 14): the passenger's name and the quarantine place (the row and its dates stay, for the
  counts); a bus record's passengers are blanked with the rest of its body (``anonymise``).
What stays is what statistics and chain verification need: the record's columns (time, checkpoint, device, plate,
pass, enterprise, outcome, versions, hashes), its reasons and checks, how many people were aboard in which roles,
and whether each had a fever. A purged body no longer hashes to ``record_hash`` — ``purged_at`` says why — so
before a body is purged its hash is checked once more and an edit raises an alert (the last chance to prove it).
After a purge that changed anything, ``db.reclaim`` leaves no earlier version of the rows in the database files.
Idempotent: a second run finds nothing to do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from passcore.crossing import anonymise
from passcore.policy import Policy
from server import db
from server.accounts import reset as password_resets
from server.accounts import throttle
from server.alerts import rules
from server.alerts import service as alerts
from server.alerts.models import Alert, AlertEvent
from server.crossings import partitions
from server.crossings.models import Crossing, CrossingConflict, EscortRequest
from server.notices import service as notices
from server.notices.models import Notice
from server.policy import service as policy_service
from server.policy.models import PolicyVersion
from server.quarantine import service as quarantine
from server.retention import issued

__all__ = ["PurgeReport", "purge"]

BATCH = (
    issued.BATCH
)  # committed batch by batch: a long purge holds no lock for long and resumes where it stopped
PURGED_TABLES = (
    "crossing",
    "crossing_conflict",
    "escort_request",
    "application",
    "application_event",
    "issued_pass",
    "revocation",
    "person_hash",
    "alert",
    "alert_event",
    "notice",
    "notice_delivery",
    "login_attempt",
    "registration_attempt",
    "quarantine_task",
)


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    retention_days: int
    crossings: int
    conflicts: int
    escorts: int
    edited: int  # bodies found edited just before they were purged (each raised an alert)
    dry_run: bool
    applications: int = 0
    passes: int = 0
    alerts: int = 0  # alerts whose notes were removed
    notices: int = 0  # portal notices (and their e-mail/webhook deliveries) made before the cutoff
    attempts: int = (
        0  # sign-in and registration attempts (an account and an address) past every throttle window
    )
    quarantine: int = 0  # quarantine tasks whose name and place were blanked (issue 14)
    reclaimed: dict[str, Any] = field(default_factory=dict)  # what db.reclaim did (nothing on a dry run)
    # PostgreSQL: the day partitions of crossing replaced whole by an anonymised copy (their rows are counted in
    # ``crossings``); on a dry run, those that would be.
    partitions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cutoff"] = self.cutoff.isoformat()
        return data

    @property
    def changed(self) -> int:
        return (
            (self.crossings + self.conflicts + self.escorts + self.applications + self.passes + self.alerts)
            + self.attempts
            + self.notices
            + self.quarantine
        )


def _thresholds(session: Session) -> dict[int, Decimal]:
    return {
        version: Policy.from_dict(json.loads(text)).fever_threshold_c
        for version, text in session.exec(select(PolicyVersion.version, PolicyVersion.body_json))
    }


def _old_crossing(cutoff: datetime) -> Any:
    return or_(col(Crossing.decided_at) < cutoff, col(Crossing.received_at) < cutoff)


def _old_escort(cutoff: datetime) -> Any:
    """Requests of old crossings (``requested_at`` is the claimed decision time), or requested long ago."""
    return or_(
        col(EscortRequest.requested_at) < cutoff,
        col(EscortRequest.crossing_id).in_(select(Crossing.id).where(_old_crossing(cutoff))),
    )


def _staffed() -> Any:
    return (
        (EscortRequest.staff_name != "")
        | (EscortRequest.staff_phone != "")
        | (EscortRequest.handover_staff_name != "")
        | (EscortRequest.handover_staff_id_last4 != "")
    )


def _old_alert(cutoff: datetime) -> Any:
    noted = (col(Alert.note) != "") | col(Alert.id).in_(
        select(AlertEvent.alert_id).where(AlertEvent.note != "")
    )
    return or_(col(Alert.occurred_at) < cutoff, col(Alert.created_at) < cutoff) & noted


class _Anonymiser:
    """One crossing's body anonymised, after a last check of its hash (an edit raises an alert): the same for
    the row-by-row purge and the whole-partition one."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.thresholds = _thresholds(session)
        self.default = Policy().fever_threshold_c
        self.now = now
        self.findings: list[Any] = []
        self.count = 0

    def __call__(self, row: Any) -> str:
        """The anonymised body of ``row`` (a Crossing, or a partition's row as a dict)."""

        def get(name: str) -> Any:
            return row[name] if isinstance(row, dict) else getattr(row, name)

        body_json = get("body_json")
        if hashlib.sha256(body_json.encode("utf-8")).hexdigest() != get("record_hash"):
            problem = rules.ChainProblem(rules.BODY_EDITED, get("seq"), get("id"))
            self.findings.append(
                rules.chain_finding(get("device_id"), get("checkpoint_id"), problem, self.now)
            )
        threshold = self.thresholds.get(get("policy_version"), self.default)
        return json.dumps(anonymise(json.loads(body_json), threshold), ensure_ascii=False, sort_keys=True)

    def rows(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """A partition's rows as its anonymised copy holds them (``count``: how many this anonymised)."""
        for row in rows:
            if row["purged_at"] is None:
                row.update(body_json=self(row), purged_at=self.now)
                self.count += 1
            yield row


def _purge_partitions(session: Session, cutoff: datetime, now: datetime) -> tuple[list[str], int, int]:
    """PostgreSQL: each day partition received wholly before the cutoff that still holds unpurged rows is replaced
    by an anonymised copy, one transaction each (server/crossings/partitions.py): its old file goes with every
    personal byte in it, no VACUUM FULL needed. Returns the partitions replaced, the rows anonymised and the
    bodies found edited."""
    handled: list[str] = []
    purged = edited = 0
    connection = session.connection()
    for partition in partitions.whole_days_before(connection, cutoff):
        anonymised = _Anonymiser(session, now)
        partitions.replace(session.connection(), partition, anonymised.rows)
        alerts.raise_findings(session, anonymised.findings, now)
        session.commit()
        handled.append(partition.name)
        purged += anonymised.count
        edited += len(anonymised.findings)
    session.commit()
    return handled, purged, edited


def _purge_crossings(session: Session, cutoff: datetime, now: datetime) -> tuple[int, int]:
    """Row by row, in batches: SQLite, and on PostgreSQL what the whole partitions left (old by decided_at in a
    recent partition, or in the default partition)."""
    purged = edited = 0
    while True:
        query = (
            select(Crossing)
            .where(_old_crossing(cutoff), col(Crossing.purged_at).is_(None))
            .order_by(col(Crossing.received_at), col(Crossing.id))
            .limit(BATCH)
        )
        batch = list(session.exec(query))
        if not batch:
            return purged, edited
        anonymised = _Anonymiser(session, now)
        for crossing in batch:
            crossing.body_json = anonymised(crossing)
            crossing.purged_at = now
            session.add(crossing)
        alerts.raise_findings(session, anonymised.findings, now)
        edited += len(anonymised.findings)
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


def _purge_escorts(session: Session, cutoff: datetime) -> int:
    result = session.execute(
        update(EscortRequest)
        .where(_old_escort(cutoff), _staffed())
        .values(staff_name="", staff_phone="", handover_staff_name="", handover_staff_id_last4="")
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def _purge_alert_notes(session: Session, cutoff: datetime) -> int:
    ids = list(session.exec(select(Alert.id).where(_old_alert(cutoff))))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        session.execute(update(Alert).where(col(Alert.id).in_(chunk)).values(note=""))
        session.execute(update(AlertEvent).where(col(AlertEvent.alert_id).in_(chunk)).values(note=""))
        session.commit()
    return len(ids)


def _count(session: Session, query: Any) -> int:
    return int(session.exec(query).one())


def _dry_run(session: Session, cutoff: datetime, days: int, now: datetime) -> PurgeReport:
    def old(model: Any, *where: Any) -> int:
        return _count(session, select(func.count()).select_from(model).where(*where))

    return PurgeReport(
        cutoff,
        days,
        crossings=old(Crossing, _old_crossing(cutoff), col(Crossing.purged_at).is_(None)),
        conflicts=old(
            CrossingConflict,
            col(CrossingConflict.received_at) < cutoff,
            col(CrossingConflict.purged_at).is_(None),
        ),
        escorts=old(EscortRequest, _old_escort(cutoff), _staffed()),
        edited=0,
        dry_run=True,
        applications=issued.count_applications(session, cutoff),
        passes=issued.count_passes(session, cutoff),
        alerts=old(Alert, _old_alert(cutoff)),
        attempts=throttle.forget(session=session, now=now, dry_run=True),
        notices=old(Notice, col(Notice.created_at) < cutoff),
        quarantine=quarantine.count_old(session, cutoff),
        partitions=[p.name for p in partitions.whole_days_before(session.connection(), cutoff)],
    )


def purge(
    *, session: Session, now: datetime, dry_run: bool = False, full_vacuum: bool = False
) -> PurgeReport:
    """Remove everything personal past the retention period of the policy in force. Commits batch by batch, then
    reclaims the space the old versions took (``full_vacuum``: VACUUM FULL on PostgreSQL, see ``db.reclaim``)."""
    days = policy_service.current(session).retention_days
    cutoff = now - timedelta(days=days)
    if dry_run:
        return _dry_run(session, cutoff, days, now)
    escorts = _purge_escorts(session, cutoff)
    whole_days, by_partition, edited_in_days = _purge_partitions(session, cutoff, now)
    crossings, edited = _purge_crossings(session, cutoff, now)
    crossings, edited = crossings + by_partition, edited + edited_in_days
    conflicts = _purge_conflicts(session, cutoff, now)
    applications = issued.purge_applications(session, cutoff, now)
    passes = issued.purge_passes(session, cutoff, now)
    notes = _purge_alert_notes(session, cutoff)
    forgotten = notices.forget(session, cutoff)
    tasks = quarantine.forget(session, cutoff, now)
    attempts = throttle.forget(session=session, now=now)
    password_resets.forget(session=session, now=now)  # requests past any throttling window (issue 13)
    report = PurgeReport(
        cutoff,
        days,
        crossings,
        conflicts,
        escorts,
        edited,
        False,
        applications,
        passes,
        notes,
        attempts=attempts,
        notices=forgotten,
        quarantine=tasks,
        partitions=whole_days,
    )
    session.commit()  # no transaction of ours left open: VACUUM FULL would wait for it forever
    if report.changed or full_vacuum:
        engine = session.get_bind()
        tables = [name for name in PURGED_TABLES if name in Crossing.metadata.tables]
        reclaimed = db.reclaim(engine, tables, full=full_vacuum)  # type: ignore[arg-type]
        report = PurgeReport(**{**asdict(report), "reclaimed": reclaimed})
    return report
