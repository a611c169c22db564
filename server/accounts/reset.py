"""Self-service password reset by e-mail (issue 13).

A request names an account (its username or e-mail address); if an active account with an e-mail address matches,
a link with a random token is e-mailed to it through the notice outbox (sealed until sent). Only the token's
SHA-256 is stored; it works once, until ``password_reset_minutes`` after the request, and a newer request
replaces it. The answer is the same whether or not an account matched, and requests are throttled per client
address (TooManyRequests, as sign-in is) and per account (silently: the answer still may not say it exists).
Setting the new password ends every session and API token of the account.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, delete, func, select

from server.accounts.models import User
from server.accounts.service import end_credentials, hash_password, normalise_username, token_hash
from server.config import Settings
from server.errors import BadRequest, TooManyRequests
from server.notices import service as notices
from server.notices.models import PasswordReset

__all__ = ["complete", "find_valid", "forget", "request_reset"]

WINDOW = timedelta(hours=1)
KEPT = timedelta(days=2)
KIND = "account.password_reset"


def _matching(session: Session, identifier: str) -> list[User]:
    text = identifier.strip()
    if "@" in text and "." in text.rpartition("@")[2]:
        query = select(User).where(func.lower(User.email) == text.lower())
    else:
        try:
            name = normalise_username(text)
        except BadRequest:
            return []
        query = select(User).where(User.username == name)
    return [u for u in session.exec(query.where(col(User.active).is_(True))) if u.email]


def _recent(session: Session, *where: object, now: datetime) -> list[datetime]:
    return list(
        session.exec(
            select(PasswordReset.created_at)
            .where(*where, col(PasswordReset.created_at) >= now - WINDOW)  # type: ignore[arg-type]
            .order_by(col(PasswordReset.created_at))
        )
    )


def request_reset(
    *, session: Session, identifier: str, client: str, settings: Settings, now: datetime, base_url: str
) -> None:
    """Record the request and, when an account matches, queue its e-mail (committed). TooManyRequests (with
    Retry-After) past the hourly limit of the client address; otherwise nothing tells whether anyone matched."""
    client = client[:64].replace("\x00", "")
    limit = settings.password_reset_max_per_hour
    earlier = _recent(session, col(PasswordReset.client) == client, now=now)
    if len(earlier) >= limit:
        wait = earlier[len(earlier) - limit] + WINDOW - now
        raise TooManyRequests(
            "too many password-reset requests from your network; wait and try again",
            code="RESET_THROTTLED",
            headers={"Retry-After": str(max(1, math.ceil(wait.total_seconds())))},
        )
    sent = False
    for user in _matching(session, identifier[:254]):
        if len(_recent(session, col(PasswordReset.user_id) == user.id, now=now)) >= limit:
            continue  # someone is flooding this person's mailbox: say nothing, send nothing more this hour
        # A newer link replaces the older ones: only the last e-mail works.
        session.exec(
            update(PasswordReset)  # type: ignore[call-overload]
            .where(col(PasswordReset.user_id) == user.id, col(PasswordReset.used_at).is_(None))
            .values(used_at=now)
        )
        token = secrets.token_urlsafe(32)
        session.add(
            PasswordReset(
                user_id=user.id,
                token_hash=token_hash(token),
                client=client,
                created_at=now,
                expires_at=now + timedelta(minutes=settings.password_reset_minutes),
            )
        )
        params = {
            "url": f"{base_url.rstrip('/')}/password/reset?token={token}",
            "minutes": str(settings.password_reset_minutes),
            "username": user.username,
        }
        notices.email(session, user.email, KIND, params, lang=user.lang or "zh", now=now, sealed=True)
        sent = True
    if not sent:  # counted for the client's limit like any other request
        session.add(PasswordReset(client=client, created_at=now, expires_at=now))
    session.commit()


def find_valid(session: Session, token: str, now: datetime) -> PasswordReset | None:
    """The unused, unexpired request of ``token``, if any."""
    if not token or len(token) > 100:
        return None
    reset = session.exec(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token))).first()
    if reset is None or reset.used_at is not None or reset.expires_at <= now or reset.user_id is None:
        return None
    return reset


def complete(*, session: Session, token: str, password: str, now: datetime) -> User:
    """Set the new password with a valid token (used up, in the same transaction as the password) and end every
    session and token of the account; committed. BadRequest for a bad link or a weak password, changing nothing."""
    reset = find_valid(session, token, now)
    user = session.get(User, reset.user_id) if reset else None
    if reset is None or user is None or not user.active:
        raise BadRequest("this link is not valid any more; ask for a new one", code="RESET_LINK_INVALID")
    stored = hash_password(password)  # PASSWORD_WEAK before anything is changed
    # Conditional: of two uses of one link at the same moment, only one sets a password.
    used = session.exec(
        update(PasswordReset)  # type: ignore[call-overload]
        .where(col(PasswordReset.id) == reset.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:
        session.rollback()
        raise BadRequest("this link is not valid any more; ask for a new one", code="RESET_LINK_INVALID")
    user.password_hash = stored
    session.add(user)
    end_credentials(session=session, user=user, now=now)
    session.commit()
    return user


def forget(*, session: Session, now: datetime) -> int:
    """Remove requests older than any window reads (used or expired tokens with them); not committed."""
    old = col(PasswordReset.created_at) < now - KEPT
    return int(session.exec(delete(PasswordReset).where(old)).rowcount)  # type: ignore[call-overload]
