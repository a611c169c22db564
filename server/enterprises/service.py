"""Enterprises: the administrator's list and verification, and the directory the trust bundle carries."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from passcore import ids, trust
from passcore.errors import InputError
from server.accounts.models import User
from server.enterprises.models import Enterprise
from server.errors import BadRequest, Conflict, NotFound
from server.notices import service as notices

__all__ = [
    "ask_again",
    "directory",
    "find",
    "list_enterprises",
    "record_verified",
    "reject",
    "verifier",
    "verify",
    "visible_since",
]


def record_verified(
    *, session: Session, uscc: str, name: str, contact: str, phone: str, now: datetime
) -> Enterprise:
    """The bureau is issuing to this enterprise, so it is verified; a changed name or contact is updated."""
    row = session.get(Enterprise, uscc)
    if row is None:
        # Characters 3-8 of a credit code are the registering authority's region code.
        row = Enterprise(
            uscc=uscc,
            name=name,
            contact=contact,
            phone=phone,
            region=uscc[2:8],
            verified=True,
            verified_at=now,
            created_at=now,
        )
    else:
        row.name, row.contact, row.phone = name, contact or row.contact, phone or row.phone
        if not row.verified:
            row.verified, row.verified_at = True, now
    session.add(row)
    session.flush()
    return row


def directory(session: Session) -> list[trust.Enterprise]:
    """The verified enterprises, which can receive escorted vehicles: code and name only. The bundle is public,
    so contact persons and phones reach a checkpoint through its escort requests instead (GET /api/v1/escorts)."""
    rows = session.exec(
        select(Enterprise.uscc, Enterprise.name).where(Enterprise.verified).order_by(Enterprise.uscc)
    )
    return [trust.Enterprise(uscc, name) for uscc, name in rows]


def visible_since(session: Session, uscc: str | None) -> datetime | None:
    """From when the enterprise sees the crossings and escort requests recorded under its credit code: its
    verification. None: not verified, so it sees none (anyone can register any code; only the bureau's check
    makes it theirs). An enterprise verified before the time was kept counts from its registration."""
    enterprise = session.get(Enterprise, uscc) if uscc else None
    if enterprise is None or not enterprise.verified:
        return None
    return enterprise.verified_at or enterprise.created_at


def list_enterprises(session: Session) -> list[tuple[Enterprise, str | None]]:
    """Every enterprise with the username of the administrator who verified it; those waiting come first."""
    query = (
        select(Enterprise, User.username)
        .outerjoin(User, col(User.id) == Enterprise.verified_by)
        .order_by(col(Enterprise.verified), col(Enterprise.created_at).desc(), col(Enterprise.uscc))
    )
    return [(enterprise, username) for enterprise, username in session.exec(query)]


def find(session: Session, uscc: str) -> Enterprise:
    try:
        uscc = ids.validate_uscc(uscc)
    except InputError:
        uscc = ""  # not a credit code, so not an enterprise of ours (and never sent to the database)
    enterprise = session.get(Enterprise, uscc) if uscc else None
    if enterprise is None:
        raise NotFound("no such enterprise", code="ENTERPRISE_NOT_FOUND")
    return enterprise


def verify(*, session: Session, uscc: str, admin: User, now: datetime) -> Enterprise:
    """An administrator confirms the enterprise is real; from now on it can apply. Verifying again changes nothing.
    The enterprise's users are notified (``enterprise.verified``)."""
    enterprise = find(session, uscc)
    if not enterprise.verified:
        enterprise.verified, enterprise.verified_at, enterprise.verified_by = True, now, admin.id
        enterprise.rejected_at, enterprise.rejected_by, enterprise.rejected_reason = None, None, ""
        session.add(enterprise)
        notices.notify(
            session,
            "enterprise.verified",
            {"name": enterprise.name},
            now=now,
            link="/enterprise/licence",
            enterprise_uscc=enterprise.uscc,
        )
        session.commit()
    return enterprise


def reject(*, session: Session, uscc: str, admin: User, reason: str, now: datetime) -> Enterprise:
    """An administrator refuses the verification, saying why (the enterprise sees it, uploads a new licence and
    asks again). A verified enterprise is not un-verified this way (409); the enterprise is notified."""
    enterprise = find(session, uscc)
    text = " ".join(reason.split())
    if not 2 <= len(text) <= 500 or not ids.usable_text(text):
        raise BadRequest(
            "give the reason (2 to 500 characters)",
            code="REASON_INVALID",
            fields={"reason": "verify_reason_invalid"},
        )
    if enterprise.verified:
        raise Conflict("the enterprise is already verified", code="ENTERPRISE_VERIFIED")
    enterprise.rejected_at, enterprise.rejected_by, enterprise.rejected_reason = now, admin.id, text
    session.add(enterprise)
    notices.notify(
        session,
        "enterprise.rejected",
        {"name": enterprise.name, "reason": text},
        now=now,
        link="/enterprise/licence",
        enterprise_uscc=enterprise.uscc,
    )
    session.commit()
    return enterprise


def ask_again(*, session: Session, enterprise: Enterprise) -> None:
    """The enterprise sent a new licence after a refusal: it waits for verification again (not committed). The
    reason stays readable in the notice it was sent."""
    if enterprise.rejected_at is not None:
        enterprise.rejected_at, enterprise.rejected_by, enterprise.rejected_reason = None, None, ""
        session.add(enterprise)


def verifier(session: Session, enterprise: Enterprise) -> str | None:
    """The username of the administrator who verified ``enterprise`` (None for the CLI or the demo)."""
    user = session.get(User, enterprise.verified_by) if enterprise.verified_by else None
    return user.username if user else None
