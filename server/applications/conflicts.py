"""One vehicle, one pass (issue 13): what else holds or asks for the same plate at the same time, and the same
person on other live passes.

A plate cannot hold two live passes whose validity overlaps (a live pass: issued, not revoked, not yet over).
- Submission is refused (409 PLATE_HAS_PASS) while such a pass exists, unless it is the pass the application
  replaces (``Application.replaces_pass_id``: a renewal or an amendment).
- Another application for the plate that is still open (submitted, returned for correction) with an overlapping
  window does not refuse the submission: the reviewer sees it on the review page, and the approval of the second
  one is refused once the first has its pass. (Refusing it would let one enterprise hold a vehicle by applying for
  it, and would tell an enterprise about another's applications.)
- Approval is refused (409 PLATE_CONFLICT) while such a pass exists, unless the reviewer replaces it: the old pass
  is then revoked ("replaced by <new serial>") in the approval's transaction, and its enterprise is told
  (notice ``pass.replaced``). The pass an application replaces is ended by ``replacing.retire_replaced`` (B1) when its pass is issued.
Two approvals for one plate take turns (``db.lock_name`` on the plate), so they cannot both issue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from passcore import ids
from server import db
from server.accounts.models import User
from server.applications.models import (
    APPROVED,
    RETURNED,
    SUBMITTED,
    Application,
    PersonHash,
)
from server.applications.risk import REPLACED_PREFIX
from server.enterprises.models import Enterprise
from server.errors import Conflict
from server.notices import service as notices
from server.passes import service as passes
from server.passes.models import IssuedPass, Revocation

__all__ = [
    "OPEN",
    "Elsewhere",
    "PlateConflict",
    "check_approval",
    "check_submission",
    "live_passes",
    "people_elsewhere",
    "plate_conflicts",
    "revoke_replaced",
    "window_of",
]

OPEN = (SUBMITTED, RETURNED, APPROVED)  # applications that may still become a pass


@dataclass(frozen=True)
class PlateConflict:
    """A live pass, or another open application, for the same plate with an overlapping window."""

    kind: str  # "pass" | "application"
    enterprise_uscc: str
    enterprise_name: str
    valid_from: datetime
    valid_until: datetime
    serial: str | None = None  # a pass's number
    pass_id: str | None = None
    application_id: int | None = None  # an application's
    status: str = ""


@dataclass(frozen=True)
class Elsewhere:
    """A person of this application who is also on another live pass."""

    role: str  # here: driver | escort
    position: int
    masked_id: str  # as the stored (masked) body has it: birthplace and last four characters
    serial: str
    pass_id: str
    other_role: str  # on the other pass
    enterprise_uscc: str
    enterprise_name: str
    valid_from: datetime
    valid_until: datetime


def window_of(application: Application) -> tuple[datetime, datetime]:
    body = json.loads(application.body_json)
    return datetime.fromisoformat(body["valid_from"]), datetime.fromisoformat(body["valid_until"])


def live_passes(
    session: Session,
    plate: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    exclude: tuple[str | None, ...] = (),
) -> list[IssuedPass]:
    """The passes of ``plate`` not revoked, not over at ``now``, valid at some moment of [start, end)."""
    statement = (
        select(IssuedPass)
        .outerjoin(Revocation, col(Revocation.pass_id) == col(IssuedPass.pass_id))
        .where(
            IssuedPass.plate == ids.normalize_plate(plate),
            col(Revocation.pass_id).is_(None),
            col(IssuedPass.valid_until) > now,
            col(IssuedPass.valid_from) < end,
            col(IssuedPass.valid_until) > start,
        )
        .order_by(col(IssuedPass.valid_from), col(IssuedPass.serial))
    )
    return [p for p in session.exec(statement) if p.pass_id not in exclude]


def _names(session: Session, usccs: set[str]) -> dict[str, str]:
    if not usccs:
        return {}
    rows = session.exec(select(Enterprise.uscc, Enterprise.name).where(col(Enterprise.uscc).in_(usccs)))
    return dict(rows.all())


def plate_conflicts(session: Session, application: Application, *, now: datetime) -> list[PlateConflict]:
    """Live passes, then other open applications, of the application's plate whose windows overlap its own (the
    pass it replaces, and its own pass, left out)."""
    start, end = window_of(application)
    held = live_passes(
        session,
        application.plate,
        start,
        end,
        now=now,
        exclude=(_replaced_id(session, application), application.pass_id),
    )
    others = [
        other
        for other in session.exec(
            select(Application)
            .where(
                Application.plate == application.plate,
                col(Application.status).in_(OPEN),
                col(Application.id) != application.id,
            )
            .order_by(col(Application.id))
        )
        if _overlaps(window_of(other), (start, end))
    ]
    names = _names(session, {p.enterprise_uscc for p in held} | {a.enterprise_uscc for a in others})
    found = [
        PlateConflict(
            kind="pass",
            enterprise_uscc=p.enterprise_uscc,
            enterprise_name=names.get(p.enterprise_uscc, ""),
            valid_from=p.valid_from,
            valid_until=p.valid_until,
            serial=p.serial,
            pass_id=p.pass_id,
        )
        for p in held
    ]
    for other in others:
        valid_from, valid_until = window_of(other)
        found.append(
            PlateConflict(
                kind="application",
                enterprise_uscc=other.enterprise_uscc,
                enterprise_name=names.get(other.enterprise_uscc, ""),
                valid_from=valid_from,
                valid_until=valid_until,
                application_id=other.id,
                status=other.status,
            )
        )
    return found


def _replaced_id(session: Session, application: Application) -> str | None:
    """The pass the application replaces, if it is one of its own enterprise's for the same plate (any other
    reference is ignored: an application cannot make another enterprise's pass not count)."""
    if not application.replaces_pass_id:
        return None
    record = session.get(IssuedPass, application.replaces_pass_id)
    if (
        record is None
        or record.enterprise_uscc != application.enterprise_uscc
        or record.plate != application.plate
    ):
        return None
    return record.pass_id


def _overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def check_submission(session: Session, application: Application, *, now: datetime) -> None:
    """Refuse to submit ``application`` while a live pass holds its plate in its window (nothing is changed:
    the caller's transaction is rolled back)."""
    db.lock_name(session, f"plate:{application.plate}")
    start, end = window_of(application)
    held = live_passes(
        session, application.plate, start, end, now=now, exclude=(_replaced_id(session, application),)
    )
    if held:
        session.rollback()
        raise Conflict(
            f"this vehicle already holds a pass valid {_span(held[0])}; one vehicle has one pass at a time "
            "(amend or renew that pass instead)",
            code="PLATE_HAS_PASS",
            fields={"vehicle.plate": "plate_has_pass", "valid_from": "plate_has_pass_window"},
        )


def _span(record: IssuedPass) -> str:
    return f"from {record.valid_from.isoformat()} until {record.valid_until.isoformat()}"


def check_approval(
    session: Session, application: Application, *, now: datetime, replace: bool
) -> list[IssuedPass]:
    """The live passes of the application's plate that overlap its window (the pass it replaces left out: B1's
    ``replacing.retire_replaced`` ends that one). They refuse the approval unless ``replace``; then they are the
    passes to revoke once the new one is issued. Call it after the approval's first write: the plate's lock is held
    until the transaction ends."""
    db.lock_name(session, f"plate:{application.plate}")
    start, end = window_of(application)
    held = live_passes(
        session, application.plate, start, end, now=now, exclude=(_replaced_id(session, application),)
    )
    if held and not replace:
        serials = ", ".join(p.serial for p in held)
        raise Conflict(
            f"the vehicle {application.plate} already holds pass {serials} valid {_span(held[0])}; "
            "approve it as a replacement to revoke that pass",
            code="PLATE_CONFLICT",
        )
    return held


def revoke_replaced(
    session: Session, replaced: list[IssuedPass], *, serial: str, reviewer: User, now: datetime
) -> None:
    """Revoke each replaced pass ("replaced by <serial>"), telling its enterprise (not committed)."""
    reason = f"{REPLACED_PREFIX}{serial}"
    for record in replaced:
        _revocation, new = passes.revoke(
            session=session,
            pass_id=record.pass_id,
            reason=reason,
            by=reviewer.username,
            now=now,
            actor_id=reviewer.id,
        )
        if new:
            notices.notify(
                session,
                "pass.replaced",
                {"serial": record.serial, "plate": record.plate, "new_serial": serial},
                now=now,
                link=f"/enterprise/passes/{record.pass_id}",
                enterprise_uscc=record.enterprise_uscc,
            )


def people_elsewhere(session: Session, application: Application, *, now: datetime) -> list[Elsewhere]:
    """The people of ``application`` who are also on another live pass (found by their keyed ID hashes; the other
    pass's people are never opened), with that pass's number, their role there and its enterprise."""
    mine = session.exec(select(PersonHash).where(PersonHash.application_id == application.id)).all()
    if not mine:
        return []
    body = json.loads(application.body_json)
    # (role, position) -> the masked number; a bus's manager and passengers are hashed too (issue 14).
    masked = {("driver", 0): str((body.get("driver") or {}).get("id_number", ""))}
    masked |= {("escort", i): str(e.get("id_number", "")) for i, e in enumerate(body.get("escorts") or [])}
    masked[("manager", 0)] = str(((body.get("bus") or {}).get("manager") or {}).get("id_number", ""))
    masked |= {
        ("passenger", i): str(p.get("id_number", "")) for i, p in enumerate(body.get("passengers") or [])
    }
    rows = session.exec(
        select(PersonHash, IssuedPass)
        .join(IssuedPass, col(IssuedPass.pass_id) == col(PersonHash.pass_id))
        .outerjoin(Revocation, col(Revocation.pass_id) == col(IssuedPass.pass_id))
        .where(
            col(PersonHash.digest).in_([h.digest for h in mine]),
            col(Revocation.pass_id).is_(None),
            col(IssuedPass.valid_until) > now,
            # Its own pass, and the pass it replaces (ended when this one is issued), are not "elsewhere".
            col(IssuedPass.pass_id).not_in(
                [p for p in (application.pass_id, _replaced_id(session, application)) if p] or [""]
            ),
        )
        .order_by(col(IssuedPass.valid_from), col(IssuedPass.serial))
    ).all()
    names = _names(session, {record.enterprise_uscc for _hash, record in rows})
    found = []
    for other, record in rows:
        for me in mine:
            if me.digest != other.digest or me.kid != other.kid:
                continue
            number = masked.get((me.role, me.position), "")
            found.append(
                Elsewhere(
                    role=me.role,
                    position=me.position,
                    masked_id=ids.mask_id(number) if number else "",
                    serial=record.serial,
                    pass_id=record.pass_id,
                    other_role=other.role,
                    enterprise_uscc=record.enterprise_uscc,
                    enterprise_name=names.get(record.enterprise_uscc, ""),
                    valid_from=record.valid_from,
                    valid_until=record.valid_until,
                )
            )
    return found
