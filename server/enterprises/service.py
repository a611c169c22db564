"""Enterprises: the administrator's list and verification, and the directory the trust bundle carries."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from passcore import ids, trust
from passcore.errors import InputError
from server.accounts.models import User
from server.enterprises.models import Enterprise
from server.errors import NotFound

__all__ = ["directory", "list_enterprises", "record_verified", "verifier", "verify", "visible_since"]


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


def verify(*, session: Session, uscc: str, admin: User, now: datetime) -> Enterprise:
    """An administrator confirms the enterprise is real; from now on it can apply. Verifying again changes nothing."""
    try:
        uscc = ids.validate_uscc(uscc)
    except InputError:
        uscc = ""  # not a credit code, so not an enterprise of ours (and never sent to the database)
    enterprise = session.get(Enterprise, uscc) if uscc else None
    if enterprise is None:
        raise NotFound("no such enterprise", code="ENTERPRISE_NOT_FOUND")
    if not enterprise.verified:
        enterprise.verified, enterprise.verified_at, enterprise.verified_by = True, now, admin.id
        session.add(enterprise)
        session.commit()
    return enterprise


def verifier(session: Session, enterprise: Enterprise) -> str | None:
    """The username of the administrator who verified ``enterprise`` (None for the CLI or the demo)."""
    user = session.get(User, enterprise.verified_by) if enterprise.verified_by else None
    return user.username if user else None
