"""Crossing ingest: batches of hash-chained records from checkpoint devices, idempotent by the device's ids.

The records and their audit work (server/alerts/queue.py) are committed together before the device hears back;
the audit runs after, in the request itself (the inline mode) or in `checkpass worker` processes (the queue mode).
Each record is answered on its own: ``accepted`` (stored now), ``duplicate`` (stored before with identical
content: a retried upload), ``conflict`` (its id, or its device counter, is already taken by other content: refused
and kept in ``crossing_conflict`` for the audit) or ``invalid`` (malformed, or its hash does not match its content).
A batch costs one query for what already exists and one multi-row insert per table, whatever its size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, insert, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from passcore.chain import GENESIS, canonical
from passcore.crossing import CrossingRecord, references
from passcore.errors import InputError
from passcore.reasons import ESCORT_REQUIRED
from server.alerts import queue
from server.alerts import service as alerts
from server.audit import rollup
from server.checkpoints.models import Device
from server.crossings.buses import bus_columns
from server.crossings.models import Crossing, CrossingConflict, CrossingKey, EscortRequest
from server.enterprises.models import Enterprise
from server.notices import announce
from server.quarantine import service as quarantine

__all__ = ["ACCEPTED", "CONFLICT", "DUPLICATE", "INVALID", "RecordOutcome", "ingest"]

ACCEPTED, DUPLICATE, CONFLICT, INVALID = "accepted", "duplicate", "conflict", "invalid"
ATTEMPTS = 3


@dataclass(frozen=True)
class RecordOutcome:
    index: int
    id: str | None
    status: str
    code: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class _Checked:
    """A record that passed every check that needs no database."""

    index: int
    record: CrossingRecord
    body: str  # canonical JSON without `hash`: what the hash covers, stored as the crossing's body
    raw: dict[str, Any]
    plate: str
    enterprise: str | None
    decided_at: datetime

    @property
    def full(self) -> str:
        """Canonical JSON with `hash`: kept as received when the record is a conflict (rare: made on demand)."""
        return canonical(self.raw).decode()


def _invalid(index: int, rid: str | None, code: str, detail: str) -> RecordOutcome:
    return RecordOutcome(index, rid, INVALID, code, detail[:300])


def _check(index: int, raw: object) -> _Checked | RecordOutcome:
    rid = raw.get("id") if isinstance(raw, dict) else None
    rid = rid[:36] if isinstance(rid, str) else None
    try:
        record = CrossingRecord.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        return _invalid(index, rid, "SCHEMA_INVALID", f"{where}: {first['msg']}")
    assert isinstance(raw, dict)  # a validated record was an object
    # The hash is checked over the raw JSON values, exactly as the device wrote them (not a re-serialisation).
    try:
        body = canonical({k: v for k, v in raw.items() if k != "hash"})
    except ValueError:
        return _invalid(index, rid, "SCHEMA_INVALID", "text that cannot be stored")
    if hashlib.sha256(body).hexdigest() != record.hash:
        return _invalid(index, rid, "HASH_MISMATCH", "the hash does not match the record's content")
    if record.seq == 1 and record.prev_hash != GENESIS:
        return _invalid(index, rid, "CHAIN_START_INVALID", "the first record's prev_hash must be 64 zeros")
    try:
        plate, enterprise = references(record)
    except InputError as err:
        return _invalid(index, rid, err.code, err.message)
    decided_at = datetime.fromisoformat(record.decided_at)
    return _Checked(index, record, body.decode(), raw, plate, enterprise, decided_at)


def _existing(
    session: Session, device_id: str, checked: list[_Checked]
) -> tuple[dict[str, tuple[str, str]], dict[int, str]]:
    """Stored crossings that share an id with the batch, or a counter of this device: one query, on crossing_key
    (unpartitioned: it sees every day's crossings, where the partitioned crossing table could not say so)."""
    if not checked:
        return {}, {}
    query = select(CrossingKey.id, CrossingKey.device_id, CrossingKey.seq, CrossingKey.record_hash).where(
        or_(
            col(CrossingKey.id).in_({c.record.id for c in checked}),
            and_(
                col(CrossingKey.device_id) == device_id,
                col(CrossingKey.seq).in_({c.record.seq for c in checked}),
            ),
        )
    )
    by_id: dict[str, tuple[str, str]] = {}
    by_seq: dict[int, str] = {}
    for rid, owner, seq, digest in session.exec(query):
        by_id[rid] = (owner, digest)
        if owner == device_id:
            by_seq[seq] = rid
    return by_id, by_seq


def _known_enterprises(session: Session, usccs: set[str]) -> set[str]:
    # Only verified enterprises receive escort requests: an unverified registration could be an impostor's.
    if not usccs:
        return set()
    query = select(Enterprise.uscc).where(col(Enterprise.uscc).in_(usccs), col(Enterprise.verified).is_(True))
    return set(session.exec(query))


def _conflict(
    found: tuple[str, str] | None, device_id: str, record: CrossingRecord, by_seq: dict[int, str]
) -> tuple[str, str] | None:
    """Why a record that is not a plain duplicate cannot be stored, if it cannot."""
    if found is None:
        holder = by_seq.get(record.seq)
        return (
            None if holder is None else ("SEQ_TAKEN", f"seq {record.seq} is already used by record {holder}")
        )
    if found[0] != device_id:
        return "OTHER_DEVICE", "this id was uploaded by another device"
    return "CONTENT_DIFFERS", "this id was uploaded before with different content"


def _crossing_row(item: _Checked, device: Device, now: datetime) -> dict[str, Any]:
    record = item.record
    return {
        "id": record.id,
        "device_id": device.id,
        "checkpoint_id": device.checkpoint_id,  # from the token, never from the body
        "seq": record.seq,
        "prev_hash": record.prev_hash,
        "record_hash": record.hash,
        "decided_at": item.decided_at,
        "received_at": now,
        "outcome": record.outcome,
        "plate": item.plate,
        "pass_id": record.pass_id,
        "enterprise_uscc": item.enterprise,
        "policy_version": record.policy_version,
        "bundle_version": record.bundle_version,
        "officer": record.officer,
        "body_json": item.body,
        **bus_columns(item.raw, item.decided_at),  # kind, bus wait, passenger counts (issue 14)
    }


def _key_row(row: dict[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in ("id", "device_id", "seq", "record_hash", "received_at")}


def _store(session: Session, device: Device, checked: list[_Checked], now: datetime) -> list[RecordOutcome]:
    by_id, by_seq = _existing(session, device.id, checked)
    outcomes: list[RecordOutcome] = []
    accepted: list[_Checked] = []
    conflicts: dict[tuple[str, str], _Checked] = {}
    for item in checked:
        record = item.record
        found = by_id.get(record.id)
        if found is not None and found == (device.id, record.hash):
            outcomes.append(RecordOutcome(item.index, record.id, DUPLICATE))
            continue
        if (why := _conflict(found, device.id, record, by_seq)) is not None:
            code, detail = why
            outcomes.append(RecordOutcome(item.index, record.id, CONFLICT, code, detail))
            conflicts.setdefault((record.id, item.full), item)
            continue
        by_id[record.id], by_seq[record.seq] = (
            (device.id, record.hash),
            record.id,
        )  # later repeats in the batch
        outcomes.append(RecordOutcome(item.index, record.id, ACCEPTED))
        accepted.append(item)
    if accepted:
        rows = [_crossing_row(item, device, now) for item in accepted]
        # The keys first: their unique id and (device_id, seq) turn a racing retry into an IntegrityError.
        session.exec(insert(CrossingKey), params=[_key_row(row) for row in rows])
        session.exec(insert(Crossing), params=rows)
        rollup.add(session, rows)  # the dashboard's counts, in the same transaction as the crossings
        if escorts := _escorts(session, device, accepted):
            session.exec(insert(EscortRequest), params=escorts)
            announce.escorts_requested(
                session, [e["crossing_id"] for e in escorts], received_at=now, now=now
            )  # notices
        # Passengers released into their enterprise's quarantine: a task each, and a notice (issue 14).
        quarantine.create_for(session, [_bus_crossing(item, device) for item in accepted], now=now)
    if conflicts:
        _flag_conflicts(session, device, conflicts, now)
    device.last_seen_at = now
    session.add(device)
    session.flush()
    return outcomes


def _bus_crossing(item: _Checked, device: Device) -> quarantine.NewCrossing:
    return quarantine.NewCrossing(
        crossing_id=item.record.id,
        checkpoint_id=device.checkpoint_id,
        plate=item.plate,
        pass_id=item.record.pass_id,
        enterprise_uscc=item.enterprise,
        policy_version=item.record.policy_version,
        decided_at=item.decided_at,
        body=item.raw,
    )


def _escorts(session: Session, device: Device, accepted: list[_Checked]) -> list[dict[str, Any]]:
    """An escort request for every accepted crossing that needs one (the enterprise, if it is known)."""
    wanted = [item for item in accepted if item.record.outcome == ESCORT_REQUIRED]
    known = _known_enterprises(session, {item.enterprise for item in wanted if item.enterprise})
    return [
        {
            "crossing_id": item.record.id,
            "checkpoint_id": device.checkpoint_id,
            "enterprise_uscc": item.enterprise if item.enterprise in known else None,
            "plate": item.plate,
            "status": "open",
            # Waiting starts when the checkpoint decided, not when an offline checkpoint got round to syncing.
            "requested_at": item.decided_at,
            "staff_name": "",
            "staff_phone": "",
        }
        for item in wanted
    ]


def _flag_conflicts(
    session: Session, device: Device, conflicts: dict[tuple[str, str], _Checked], now: datetime
) -> None:
    """Keep each refused version once, however often the device sends it again."""
    query = select(CrossingConflict.crossing_id, CrossingConflict.body_json).where(
        col(CrossingConflict.crossing_id).in_({rid for rid, _ in conflicts}),
        CrossingConflict.device_id == device.id,
    )
    seen = set(session.exec(query))
    rows = [
        {"crossing_id": rid, "device_id": device.id, "received_at": now, "body_json": full}
        for (rid, full) in conflicts
        if (rid, full) not in seen
    ]
    if rows:
        session.exec(insert(CrossingConflict), params=rows)


def ingest(
    *,
    session: Session,
    device: Device,
    records: Sequence[object],
    now: datetime,
    limits: alerts.Limits | None = None,
    audit_mode: str = queue.INLINE,
) -> list[RecordOutcome]:
    """Store a batch from ``device``; one outcome per record, in the batch's order. The crossings accepted and
    the conflicts kept are queued for the audit in the same transaction. ``audit_mode`` inline: their alerts are
    raised right after, in a transaction of their own (``limits``: the cloned-pass thresholds); queue: a worker
    raises them."""
    checked = [_check(index, raw) for index, raw in enumerate(records)]
    early = [c for c in checked if isinstance(c, RecordOutcome)]
    valid = [c for c in checked if isinstance(c, _Checked)]
    by_index = {item.index: item for item in valid}
    stored: list[RecordOutcome] = []
    entries: list[int] = []
    for attempt in range(ATTEMPTS):
        try:
            stored = _store(session, device, valid, now)
            entries = queue.enqueue(
                session,
                device_id=device.id,
                crossings=[o.id for o in stored if o.status == ACCEPTED and o.id],
                conflicts=[
                    queue.Conflict(o.id, o.code, by_index[o.index].full)
                    for o in stored
                    if o.status == CONFLICT and o.id and o.code
                ],
                now=now,
            )
            session.commit()
            break
        except IntegrityError:
            # A retry of the same batch racing the original committed first: look again, they are duplicates now.
            session.rollback()
            if attempt == ATTEMPTS - 1:
                raise
    if audit_mode == queue.INLINE:
        alerts.on_ingest(session=session, entries=entries, now=now, limits=limits)
    return sorted([*early, *stored], key=lambda outcome: outcome.index)
