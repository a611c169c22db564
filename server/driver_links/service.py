"""The driver's link: the enterprise makes one for a pass it holds, sends it to the driver (as a QR or copied), and
revokes it when it wants; the driver's phone opens the pass's page with it, without a password.

Tokens are 32 random bytes (URL-safe Base64) of which only the SHA-256 is stored, as API tokens are: whoever reads
the database cannot open a pass with it, and a link is shown to the enterprise once, when it is made. A link ends
when the pass does (``expires_at``), when the enterprise revokes it, or when the pass is revoked; a page opened with
such a link shows that state, never the QR as if it were valid. The token is never logged (the server's access log
is off, and nothing here writes it anywhere).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from server.accounts.models import ROLE_ENTERPRISE, User
from server.driver_links.models import DriverLink
from server.enterprises.models import Enterprise
from server.errors import Conflict, Forbidden, NotFound
from server.passes import service as passes
from server.passes import views
from server.passes.models import IssuedPass, Revocation

__all__ = [
    "LINK_REVOKED",
    "LinkState",
    "create",
    "for_pass",
    "hash_token",
    "open_link",
    "revoke",
]

LINK_REVOKED = "link_revoked"  # besides the pass's own statuses (valid, not_yet_valid, expired, revoked)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_SEEN_EVERY = timedelta(minutes=10)  # how often a phone's status checks are written down


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _own_pass(session: Session, pass_id: str, viewer: User) -> IssuedPass:
    if viewer.role != ROLE_ENTERPRISE:
        raise Forbidden("only the pass's enterprise sends its driver a link", code="ROLE_FORBIDDEN")
    return passes.visible_pass(session=session, pass_id=pass_id, viewer=viewer)


def create(*, session: Session, pass_id: str, viewer: User, now: datetime) -> tuple[DriverLink, str]:
    """A new link to a live pass of the viewer's enterprise: (its row, the token, shown this once)."""
    record = _own_pass(session, pass_id, viewer)
    if session.get(Revocation, record.pass_id) is not None:
        raise Conflict("the pass is revoked; no link is made for it", code="PASS_REVOKED")
    if record.valid_until <= now or record.purged_at is not None:
        raise Conflict("the pass has expired; no link is made for it", code="PASS_EXPIRED")
    token = secrets.token_urlsafe(32)
    link = DriverLink(
        pass_id=record.pass_id,
        token_hash=hash_token(token),
        created_at=now,
        created_by=viewer.id or 0,
        expires_at=record.valid_until,
    )
    session.add(link)
    session.commit()
    return link, token


def for_pass(session: Session, pass_id: str) -> list[DriverLink]:
    """The links made for a pass, newest first."""
    return list(
        session.exec(
            select(DriverLink).where(DriverLink.pass_id == pass_id).order_by(col(DriverLink.id).desc())
        )
    )


def revoke(*, session: Session, pass_id: str, link_id: int, viewer: User, now: datetime) -> DriverLink:
    """End a link at once; revoking one already revoked changes nothing."""
    record = _own_pass(session, pass_id, viewer)
    link = session.get(DriverLink, link_id)
    if link is None or link.pass_id != record.pass_id:
        raise NotFound("no such link", code="LINK_NOT_FOUND")
    if link.revoked_at is None:
        link.revoked_at, link.revoked_by = now, viewer.id
        session.add(link)
        session.commit()
    return link


@dataclass(frozen=True)
class LinkState:
    """What a driver's phone is shown: the pass as its enterprise's clerk would see it, and the state, which is
    the pass's status unless the link itself was revoked."""

    link: DriverLink
    view: views.PassView
    state: str

    @property
    def shows_qr(self) -> bool:
        return self.state in (views.VALID, views.NOT_YET_VALID)


def open_link(*, session: Session, token: str, now: datetime) -> LinkState:
    """The pass a link opens, and its state now; NotFound for a token that was never made."""
    if not _TOKEN.fullmatch(token):
        raise NotFound("no such link", code="LINK_NOT_FOUND")
    link = session.exec(select(DriverLink).where(DriverLink.token_hash == hash_token(token))).first()
    if link is None:
        raise NotFound("no such link", code="LINK_NOT_FOUND")
    record = session.get(IssuedPass, link.pass_id)
    enterprise = session.get(Enterprise, record.enterprise_uscc) if record else None
    if record is None or enterprise is None:
        raise NotFound("no such link", code="LINK_NOT_FOUND")
    view = views.view(record, session.get(Revocation, record.pass_id), enterprise.name, now)
    state = view.status
    if link.revoked_at is not None and state != views.REVOKED:
        state = LINK_REVOKED
    elif state == views.VALID and link.expires_at <= now:
        state = views.EXPIRED
    if record.purged_at is not None and state in (views.VALID, views.NOT_YET_VALID):
        state = views.EXPIRED  # nothing left to show
    if link.last_seen_at is None or now - link.last_seen_at >= _SEEN_EVERY:
        link.last_seen_at = now
        session.add(link)
        session.commit()
    return LinkState(link, view, state)
