"""How a pass looks to whom: its status at an instant, the display details, and the queries that apply
who may see it (an enterprise its own passes, bureau staff every pass) and who revoked it (an enterprise sees the
bureau, not a staff member's login name). The use cases are in ``service``."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, true
from sqlmodel import Session, col, select

from passcore.claims import PASS_ID_BYTES
from server.accounts.models import ROLE_ENTERPRISE, User
from server.enterprises.models import Enterprise
from server.errors import NotFound
from server.passes.models import IssuedPass, Revocation

__all__ = [
    "PASS_STATUSES",
    "PassView",
    "key",
    "scope",
    "search",
    "status_filter",
    "status_of",
    "view",
    "views",
    "with_revokers",
]

VALID, NOT_YET_VALID, EXPIRED, REVOKED = "valid", "not_yet_valid", "expired", "revoked"
PASS_STATUSES = (VALID, NOT_YET_VALID, EXPIRED, REVOKED)


@dataclass(frozen=True)
class PassView:
    """A pass as its viewers see it: the record, its revocation, its status now, and display details."""

    record: IssuedPass
    revocation: Revocation | None
    status: str
    enterprise_name: str
    claims: dict[str, Any]  # PassClaims.readable(): masked numbers only
    cargo: str = ""
    # Who revoked it, as the viewer may see it (``with_revokers``); "" is the bureau, never a staff login name.
    revoked_by: str = ""
    # A bus pass's signed manifest pages (CPM1 texts) in order; filled for one pass's view (``service.pass_view``),
    # () in lists, for a freight pass and after retention.
    manifest: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "personnel" if self.claims.get("bus") else "freight"


def status_of(record: IssuedPass, revocation: Revocation | None, now: datetime) -> str:
    if revocation is not None:
        return REVOKED
    if now < record.valid_from:
        return NOT_YET_VALID
    return VALID if now < record.valid_until else EXPIRED


def key(pass_id: str) -> str:
    """The normalised pass id; NotFound for anything that cannot be one (before asking the database)."""
    found = pass_id.strip().lower()
    if len(found) != PASS_ID_BYTES * 2 or any(ch not in "0123456789abcdef" for ch in found):
        raise NotFound("no such pass", code="PASS_NOT_FOUND")
    return found


def scope(viewer: User) -> Any:
    """The condition every pass query carries: an enterprise sees its own passes; bureau staff see all."""
    if viewer.role == ROLE_ENTERPRISE:
        return IssuedPass.enterprise_uscc == (viewer.enterprise_uscc or "")
    return true()


def views(viewer: User) -> Any:
    """(pass, revocation or None, enterprise name) rows visible to ``viewer``."""
    return (
        select(IssuedPass, Revocation, Enterprise.name)
        .join(Enterprise, col(Enterprise.uscc) == IssuedPass.enterprise_uscc)
        .outerjoin(Revocation, col(Revocation.pass_id) == IssuedPass.pass_id)
        .where(scope(viewer))
    )


def view(record: IssuedPass, revocation: Revocation | None, enterprise_name: str, now: datetime) -> PassView:
    cargo = json.loads(record.application_json).get("cargo", "")
    claims = json.loads(record.claims_json)
    return PassView(
        record, revocation, status_of(record, revocation, now), enterprise_name, claims, str(cargo)
    )


def with_revokers(session: Session, viewer: User, found: list[PassView]) -> list[PassView]:
    """``found`` with who revoked each pass as ``viewer`` may see it: bureau staff see the account (or "checkpass
    cli"); an enterprise sees its own accounts by name and the bureau's staff as the bureau ("")."""
    names = {v.revocation.revoked_by for v in found if v.revocation is not None}
    if not names:
        return found
    shown = names
    if viewer.role == ROLE_ENTERPRISE:
        own = select(User.username).where(
            col(User.username).in_(names),
            User.role == ROLE_ENTERPRISE,
            User.enterprise_uscc == (viewer.enterprise_uscc or ""),
        )
        shown = set(session.exec(own))
    return [
        replace(v, revoked_by=v.revocation.revoked_by)
        if v.revocation is not None and v.revocation.revoked_by in shown
        else v
        for v in found
    ]


def status_filter(status: str, now: datetime) -> Any:
    live = col(Revocation.pass_id).is_(None)
    return {
        REVOKED: col(Revocation.pass_id).is_not(None),
        NOT_YET_VALID: and_(live, col(IssuedPass.valid_from) > now),
        EXPIRED: and_(live, col(IssuedPass.valid_until) <= now),
        VALID: and_(live, col(IssuedPass.valid_from) <= now, col(IssuedPass.valid_until) > now),
    }[status]


def search(text: str) -> Any:
    """Match the pass number (320583-000012), the plate as people type it (苏E·A1234, 苏ea1234) or the pass id."""
    plate = "".join(ch for ch in text if ch not in "·.・ -").upper()
    return or_(
        col(IssuedPass.serial).contains(text, autoescape=True),
        col(IssuedPass.plate).contains(plate or text, autoescape=True),
        col(IssuedPass.pass_id).startswith(text.lower(), autoescape=True),
    )
