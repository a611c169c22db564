"""One crossing as the auditor opens it: its pass (or what a pass that did not verify claimed), occupants,
temperatures, a bus's roll (``server.audit.buses``), reasons, who was not on the pass and who on it was not aboard, versions, officer, device and place in
the device's chain, the record it repeats, escort timeline against the policy's limit, conflicting uploads of its
id, and the server's replay of the decision."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, select

from passcore import rules, wire
from passcore.errors import CheckpassError, InputError
from passcore.policy import Policy
from server.audit import buses
from server.checkpoints.models import Checkpoint, Device
from server.crossings import escorts
from server.crossings.models import Crossing, CrossingConflict, EscortRequest
from server.enterprises.models import Enterprise
from server.passes.models import IssuedPass, Revocation
from server.policy import service as policy_service

__all__ = ["Conflict", "Detail", "EscortTimeline", "Occupant", "load"]


@dataclass(frozen=True)
class Occupant:
    role: str
    name: str  # "" once the retention purge has removed it
    temperature_c: Decimal | None  # None also for an enterprise: health data stays with the bureau
    fever: bool | None  # None: not shown (an enterprise sees the crossing's outcome, not who had a fever)
    origin: str | None
    travel_history: list[str]


@dataclass(frozen=True)
class EscortTimeline:
    request: EscortRequest
    enterprise: Enterprise | None
    waited_minutes: int
    limit_minutes: int
    # Who took the vehicle over. An enterprise sees its own staff member's name, not the ID ending nor the
    # officer's number (``None``: not shown).
    taker_id_last4: str | None = None
    officer: str | None = None

    @property
    def over_limit(self) -> bool:
        return self.waited_minutes > self.limit_minutes


@dataclass(frozen=True)
class Conflict:
    row: CrossingConflict
    differing: list[str]  # the record's keys whose values differ from the stored crossing


@dataclass
class Detail:
    crossing: Crossing
    body: dict[str, Any]
    checkpoint: Checkpoint | None
    device: Device | None
    enterprise: Enterprise | None
    issued: IssuedPass | None
    revocation: Revocation | None
    policy: Policy | None  # the version the decision was made under, if the server has it
    occupants: list[Occupant]
    body_intact: bool  # sha256(body) still equals the record's hash
    escort: EscortTimeline | None
    conflicts: list[Conflict]
    previous_id: str | None = None  # the device's record before this one, when the server has it
    next_id: str | None = None
    replay: Any = field(default=None)
    # Bureau only (None or empty for an enterprise): the officer's number, what a pass that did not verify claimed
    # (its names blanked once purged), where people with fever were sent, and the record this one re-decides.
    officer: str | None = None
    claimed: dict[str, Any] | None = None
    referral: str | None = None
    repeat_of: str | None = None
    repeat_known: bool = False  # the repeated record is on this server (a link can be shown)
    # Names: on the pass with nobody of that name aboard (as recorded), and aboard but not on the pass (from the
    # pass as issued, when the server still has it).
    absent: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    # A bus (personnel-transport pass): the bus and its roll; None for freight. An enterprise's has no health data.
    bus: buses.BusView | None = None

    @property
    def reasons(self) -> list[str]:
        return [str(code) for code in self.body.get("reasons", [])]


def _temperature(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _occupants(body: dict[str, Any], policy: Policy | None, *, health: bool) -> list[Occupant]:
    threshold = policy.fever_threshold_c if policy else Policy().fever_threshold_c
    found = []
    for raw in body.get("occupants", []):
        if not isinstance(raw, dict):
            continue
        temperature = _temperature(raw.get("temperature_c")) if health else None
        found.append(
            Occupant(
                role=str(raw.get("role") or ""),
                name=str(raw.get("name") or ""),
                temperature_c=temperature,
                fever=(temperature is not None and temperature >= threshold) if health else None,
                origin=raw.get("origin") if isinstance(raw.get("origin"), str) else None,
                travel_history=[str(code) for code in raw.get("travel_history") or []],
            )
        )
    return found


def _policy(session: Session, version: int) -> Policy | None:
    try:
        return policy_service.by_version(session, version)
    except InputError:
        return None


def _parse(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _conflicts(session: Session, crossing: Crossing, body: dict[str, Any]) -> list[Conflict]:
    rows = session.exec(
        select(CrossingConflict)
        .where(CrossingConflict.crossing_id == crossing.id)
        .order_by(col(CrossingConflict.received_at), col(CrossingConflict.id))
    ).all()
    found = []
    for row in rows:
        other = _parse(row.body_json)
        keys = sorted((set(body) | set(other)) - {"hash"})
        found.append(Conflict(row, [key for key in keys if body.get(key) != other.get(key)]))
    return found


def _escort(
    session: Session, crossing: Crossing, now: datetime, policy: Policy | None, *, full: bool
) -> EscortTimeline | None:
    request = session.exec(select(EscortRequest).where(EscortRequest.crossing_id == crossing.id)).first()
    if request is None:
        return None
    limit = (policy or policy_service.current(session)).escort_wait_limit_minutes
    enterprise = session.get(Enterprise, request.enterprise_uscc) if request.enterprise_uscc else None
    waited = escorts.waited_minutes(request, now)
    if not full:
        return EscortTimeline(request, enterprise, waited, limit)
    return EscortTimeline(
        request, enterprise, waited, limit, request.handover_staff_id_last4, request.handover_officer
    )


def _names(value: Any) -> list[str]:
    return [str(name) for name in value if isinstance(name, str) and name] if isinstance(value, list) else []


def _claimed(body: dict[str, Any]) -> dict[str, Any] | None:
    claimed = body.get("claimed")
    if not isinstance(claimed, dict):
        return None
    texts = {key: claimed.get(key) for key in ("reason", "serial", "plate", "kid", "pass_id")}
    return {key: value if isinstance(value, str) else None for key, value in texts.items()} | {
        "names": _names(claimed.get("names"))
    }


def _unlisted(issued: IssuedPass | None, body: dict[str, Any], occupants: list[Occupant]) -> list[str]:
    """The occupants whose names are not on the pass as the bureau issued it (OCCUPANT_NOT_ON_PASS)."""
    if issued is None or not issued.qr_text or "OCCUPANT_NOT_ON_PASS" not in body.get("reasons", []):
        return []
    try:
        claims = wire.read_claims(wire.decode(issued.qr_text).payload)
    except CheckpassError:
        return []
    names = [o.name for o in occupants]
    return [names[i] for i in rules.roster(claims, names)[0] if names[i]]


def _neighbour(session: Session, crossing: Crossing, seq: int) -> str | None:
    return session.exec(
        select(Crossing.id).where(Crossing.device_id == crossing.device_id, Crossing.seq == seq)
    ).first()


def manifest_ids(issued: IssuedPass) -> dict[int, str]:
    """Passenger number -> masked ID number, from the passengers of the application as issued (stored masked, in
    manifest order: the order the signed pages number them); empty once retention removed them."""
    body = _parse(issued.application_json)
    people = body.get("passengers")
    if not isinstance(people, list):
        return {}
    return {
        number: str(person["id_number"])
        for number, person in enumerate(people, start=1)
        if isinstance(person, dict) and isinstance(person.get("id_number"), str)
    }


def load(session: Session, crossing: Crossing, *, now: datetime, full: bool = True) -> Detail:
    """Everything the detail page shows. ``full=False`` (an enterprise's view) skips the bureau-only parts:
    conflicts, the device's chain, the replay and every occupant's temperature and fever."""
    body = _parse(crossing.body_json)
    policy = _policy(session, crossing.policy_version)
    issued = session.get(IssuedPass, crossing.pass_id) if crossing.pass_id else None
    detail = Detail(
        crossing=crossing,
        body=body,
        checkpoint=session.get(Checkpoint, crossing.checkpoint_id),
        device=session.get(Device, crossing.device_id) if full else None,
        enterprise=session.get(Enterprise, crossing.enterprise_uscc) if crossing.enterprise_uscc else None,
        issued=issued,
        revocation=session.get(Revocation, issued.pass_id) if issued else None,
        policy=policy,
        occupants=_occupants(body, policy, health=full),
        body_intact=hashlib.sha256(crossing.body_json.encode()).hexdigest() == crossing.record_hash,
        escort=_escort(session, crossing, now, policy, full=full),
        conflicts=_conflicts(session, crossing, body) if full else [],
    )
    detail.absent = _names(body.get("absent"))
    detail.bus = buses.read(
        body,
        crossing.decided_at,
        claims_json=issued.claims_json if issued else None,
        ids=manifest_ids(issued) if issued and buses.is_bus(body) else None,
        policy=policy,
        health=full,
    )
    detail.unlisted = _unlisted(issued, body, detail.occupants)
    if full:
        detail.previous_id = _neighbour(session, crossing, crossing.seq - 1)
        detail.next_id = _neighbour(session, crossing, crossing.seq + 1)
        detail.officer = crossing.officer
        detail.claimed = _claimed(body)
        referral = body.get("referral")
        detail.referral = referral if isinstance(referral, str) else None
        repeat_of = body.get("repeat_of")
        if isinstance(repeat_of, str):
            detail.repeat_of = repeat_of
            detail.repeat_known = session.get(Crossing, repeat_of) is not None
    return detail
