"""Escort requests: made by ESCORT_REQUIRED crossings (see ``service.ingest``), answered by the enterprise with
the staff member it sends and an arrival estimate, fetched by the checkpoint, closed by the hand-over.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import Session, col, or_, select

from passcore import handover
from passcore.errors import InputError
from passcore.ids import usable_text
from server.accounts.models import User
from server.alerts import service as alerts
from server.checkpoints.models import Checkpoint
from server.crossings.models import (
    ESCORT_ANSWERED,
    ESCORT_HANDED_OVER,
    ESCORT_OPEN,
    Crossing,
    EscortRequest,
)
from server.enterprises.models import Enterprise
from server.errors import BadRequest, Conflict
from server.notices import announce

__all__ = [
    "STATUSES",
    "answer",
    "bureau_list",
    "checkpoint_of",
    "for_checkpoint",
    "for_enterprise",
    "hand_over",
    "occupant_names",
    "waited_minutes",
]

STATUSES = (ESCORT_OPEN, ESCORT_ANSWERED, ESCORT_HANDED_OVER)
PENDING = (ESCORT_OPEN, ESCORT_ANSWERED)
ETA_PAST_SLACK = timedelta(minutes=10)  # a clerk typing "now" should not be told it is in the past
ETA_HORIZON = timedelta(days=3)
CLOCK_SLACK = timedelta(days=1)  # checkpoint clocks drift; a hand-over further ahead of ours is an error


def waited_minutes(escort: EscortRequest, now: datetime) -> int:
    """Minutes the vehicle has waited (or waited, once handed over) since the checkpoint asked for an escort."""
    end = escort.handed_over_at or now
    return max(int((end - escort.requested_at).total_seconds() // 60), 0)


def for_enterprise(
    session: Session, uscc: str, since: datetime | None, limit: int = 200
) -> list[tuple[EscortRequest, Checkpoint]]:
    """The enterprise's requests made from ``since`` (its verification) onward; none when it is None."""
    if since is None:
        return []
    query = (
        select(EscortRequest, Checkpoint)
        .join(Checkpoint, col(Checkpoint.id) == col(EscortRequest.checkpoint_id))
        .where(EscortRequest.enterprise_uscc == uscc, col(EscortRequest.requested_at) >= since)
        .order_by(col(EscortRequest.requested_at).desc(), col(EscortRequest.id).desc())
        .limit(limit)
    )
    return [(escort, checkpoint) for escort, checkpoint in session.exec(query)]


def bureau_list(
    session: Session, status: str | None = None, limit: int = 300
) -> list[tuple[EscortRequest, Checkpoint, Enterprise | None]]:
    query = (
        select(EscortRequest, Checkpoint, Enterprise)
        .join(Checkpoint, col(Checkpoint.id) == col(EscortRequest.checkpoint_id))
        .outerjoin(Enterprise, col(Enterprise.uscc) == col(EscortRequest.enterprise_uscc))
        .order_by(col(EscortRequest.requested_at).desc(), col(EscortRequest.id).desc())
        .limit(limit)
    )
    if status in STATUSES:
        query = query.where(EscortRequest.status == status)
    return [(escort, checkpoint, enterprise) for escort, checkpoint, enterprise in session.exec(query)]


def for_checkpoint(
    session: Session, checkpoint_id: int, since: datetime | None, *, after: int = 0, limit: int = 500
) -> list[tuple[EscortRequest, Enterprise | None]]:
    """The checkpoint's requests changed since ``since`` (server time), else all still pending; in id order,
    from the first id above ``after`` (the last one of the previous page), at most ``limit``.

    A request counts as changed when its crossing reached the server or it was answered after ``since``; the
    crossing's arrival is used rather than its decision time, which an offline checkpoint may send hours later.
    """
    query = (
        select(EscortRequest, Enterprise)
        .join(Crossing, col(Crossing.id) == col(EscortRequest.crossing_id))
        .outerjoin(Enterprise, col(Enterprise.uscc) == col(EscortRequest.enterprise_uscc))
        .where(EscortRequest.checkpoint_id == checkpoint_id, col(EscortRequest.id) > after)
        .order_by(col(EscortRequest.id))
        .limit(limit)
    )
    if since is None:
        query = query.where(col(EscortRequest.status).in_(PENDING))
    else:
        query = query.where(
            or_(
                col(Crossing.received_at) >= since,
                col(EscortRequest.answered_at) >= since,
                col(EscortRequest.handed_over_at) >= since,
            )
        )
    return [(escort, enterprise) for escort, enterprise in session.exec(query)]


def checkpoint_of(session: Session, escort: EscortRequest) -> Checkpoint | None:
    return session.get(Checkpoint, escort.checkpoint_id)


def occupant_names(session: Session, escort: EscortRequest) -> list[tuple[str, str]]:
    """(role, name) of everyone aboard, from the crossing record (names only: no temperatures, no numbers)."""
    crossing = session.get(Crossing, escort.crossing_id)
    if crossing is None:
        return []
    body = json.loads(crossing.body_json)
    return [(str(o.get("role", "")), str(o.get("name", ""))) for o in body.get("occupants", [])]


def _parse_eta(text: str, zone: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())  # ValueError when it is not a date and time
    # A datetime-local field sends local wall-clock time without a zone: the bureau's zone is meant.
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


def answer(
    *,
    session: Session,
    escort: EscortRequest,
    user: User,
    staff_name: str,
    staff_phone: str,
    eta: str,
    timezone: str,
    now: datetime,
) -> EscortRequest:
    """The enterprise names who it sends and when they arrive; a second answer replaces the first."""
    fields: dict[str, str] = {}
    name, phone = staff_name.strip(), staff_phone.strip()
    if not 1 <= len(name) <= 50 or not usable_text(name):
        fields["staff_name"] = "escort_staff_invalid"
    if not 3 <= len(phone) <= 30 or not all(ch.isdigit() or ch in "+- " for ch in phone):
        fields["staff_phone"] = "escort_phone_invalid"
    arrival: datetime | None = None
    try:
        arrival = _parse_eta(eta[:40], timezone)
    except ValueError:
        fields["eta"] = "escort_eta_invalid"
    if arrival is not None and arrival < now - ETA_PAST_SLACK:
        fields["eta"] = "escort_eta_past"
    elif arrival is not None and arrival > now + ETA_HORIZON:
        fields["eta"] = "escort_eta_far"
    if fields:
        raise BadRequest("please correct the marked fields", code="ESCORT_ANSWER_INVALID", fields=fields)
    # Conditional, so an answer cannot reopen a request the checkpoint closed a moment ago.
    changed = session.exec(
        update(EscortRequest)
        .where(col(EscortRequest.id) == escort.id, col(EscortRequest.status).in_(PENDING))
        .values(
            status=ESCORT_ANSWERED,
            staff_name=name,
            staff_phone=phone,
            eta=arrival,
            answered_at=now,
            answered_by=user.id,
        )
    )
    if changed.rowcount != 1:
        session.rollback()
        raise Conflict("the vehicle has already been handed over", code="ESCORT_CLOSED")
    assert arrival is not None
    eta_text = arrival.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    announce.escort_answered(
        session, escort, eta=eta_text, now=now
    )  # the enterprise's other users (issue 13)
    session.commit()
    session.refresh(escort)
    return escort


def _identity(
    staff_name: str | None, staff_id_last4: str | None, officer: str | None
) -> tuple[str, str, str | None]:
    """The hand-over identity, checked as the laptop checks it; ('', '', officer) from a device that sends only the
    time (before issue 12). 422 HANDOVER_INVALID naming each bad field; nothing is changed."""
    fields: dict[str, str] = {}
    checked: dict[str, Any] = {"staff_name": "", "staff_id_last4": "", "officer": None}
    named = staff_name is not None or staff_id_last4 is not None
    for key, value, check in (
        ("staff_name", staff_name, handover.staff_name),
        ("staff_id_last4", staff_id_last4, handover.staff_id_last4),
        ("officer", officer, handover.officer),
    ):
        if key != "officer" and not named:
            continue
        try:
            checked[key] = check(value)
        except InputError as err:
            fields[key] = err.code
    if fields:
        raise BadRequest(
            "the hand-over needs the staff member's name (1–50 characters) and the last four characters of their "
            "ID (three digits, then a digit or X); the officer's number has letters, digits and - only",
            code="HANDOVER_INVALID",
            fields=fields,
        )
    return checked["staff_name"], checked["staff_id_last4"], checked["officer"]


def hand_over(
    *,
    session: Session,
    escort: EscortRequest,
    at: datetime,
    now: datetime,
    staff_name: str | None = None,
    staff_id_last4: str | None = None,
    officer: str | None = None,
) -> EscortRequest:
    """The checkpoint records that the enterprise's staff member took the vehicle over, who they were and which
    officer recorded it (repeats change nothing: the first hand-over stands, with its identity)."""
    name, last4, by = _identity(staff_name, staff_id_last4, officer)
    if escort.status == ESCORT_HANDED_OVER:
        return escort  # a device retrying after a lost answer, or another device: the first hand-over stands
    if at < escort.requested_at:
        raise BadRequest("the hand-over cannot precede the request", code="HANDOVER_BEFORE_REQUEST")
    if at > now + CLOCK_SLACK:
        raise BadRequest(
            "the hand-over time is in the future: check the device clock", code="HANDOVER_IN_FUTURE"
        )
    changed = session.exec(
        update(EscortRequest)
        .where(col(EscortRequest.id) == escort.id, col(EscortRequest.status).in_(PENDING))
        .values(
            status=ESCORT_HANDED_OVER,
            handed_over_at=at,
            handover_staff_name=name,
            handover_staff_id_last4=last4,
            handover_officer=by,
        )
    )
    if changed.rowcount != 1:
        session.rollback()
        session.refresh(escort)
        if escort.status != ESCORT_HANDED_OVER:  # cancelled: nothing to hand over
            raise Conflict("this escort request is closed", code="ESCORT_CLOSED")
        return escort
    session.commit()
    session.refresh(escort)
    alerts.escort_checked(session=session, escort=escort, now=now)  # handed over later than the limit?
    return escort
