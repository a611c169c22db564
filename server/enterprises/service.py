"""Enterprises: registration by the pass-issuing path, and the directory the trust bundle carries."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from passcore import trust
from server.enterprises.models import Enterprise

__all__ = ["directory", "record_verified"]


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
        row.name, row.contact, row.phone, row.verified = (
            name,
            contact or row.contact,
            phone or row.phone,
            True,
        )
    session.add(row)
    session.flush()
    return row


def directory(session: Session) -> list[trust.Enterprise]:
    rows = session.exec(select(Enterprise).where(Enterprise.verified).order_by(Enterprise.uscc))
    return [trust.Enterprise(r.uscc, r.name, r.contact, r.phone) for r in rows]
