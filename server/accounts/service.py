"""Accounts: passwords (argon2id), sign-in, web sessions, API tokens, and ending them all.

Each use case commits its own work (routers never commit); ``create_user`` and ``reset_password`` leave the
commit to their caller, since the CLI and the demo combine them with other steps.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, update
from sqlmodel import Session, col, func, or_, select

from server.accounts import throttle
from server.accounts.models import ROLE_ENTERPRISE, ROLES, ApiToken, User, WebSession
from server.accounts.passwords import check_new_password
from server.config import Settings
from server.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized
from server.ops import counters

__all__ = [
    "authenticate",
    "change_password",
    "create_api_token",
    "create_user",
    "end_credentials",
    "end_session",
    "find_user",
    "hash_password",
    "issue_user_token",
    "list_tokens",
    "list_users",
    "normalise_username",
    "reset_password",
    "reset_password_now",
    "revoke_token",
    "revoke_tokens",
    "session_user",
    "set_active",
    "start_session",
    "token_owner",
]

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Compared against when the user does not exist, so that a wrong username takes as long as a wrong password.
# Made at the first sign-in, not at import: every `checkpass` command imports this module.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))
    return _DUMMY_HASH


def token_hash(token: str) -> str:
    # A plain digest suffices: tokens are 256 random bits, not something a person chose and could be guessed.
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    """The stored form of a new password, refused (``PASSWORD_WEAK``) if too short or too common."""
    check_new_password(password)
    return _HASHER.hash(password)


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not 3 <= len(name) <= 50 or not all(ch.isalnum() or ch in "._-@" for ch in name) or not name.isascii():
        raise BadRequest("invalid username", code="USERNAME_INVALID", fields={"username": "username_invalid"})
    return name


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    now: datetime,
    enterprise_uscc: str | None = None,
    display_name: str = "",
    lang: str = "zh",
    password_hash: str | None = None,
) -> User:
    """A new account; ``password_hash`` when the caller has already hashed ``password`` (registration)."""
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}", code="ROLE_INVALID")
    if (role == ROLE_ENTERPRISE) != (enterprise_uscc is not None):
        raise BadRequest("enterprise users, and only they, belong to an enterprise", code="ROLE_INVALID")
    name = normalise_username(username)
    stored = password_hash or hash_password(password)
    if session.exec(select(User).where(User.username == name)).first() is not None:
        raise Conflict("username taken", code="USERNAME_TAKEN", fields={"username": "username_taken"})
    user = User(
        username=name,
        password_hash=stored,
        role=role,
        enterprise_uscc=enterprise_uscc,
        display_name=display_name.strip()[:50],
        lang=lang if lang in ("zh", "en") else "zh",
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User:
    try:
        name = normalise_username(username)
    except BadRequest:
        name = ""  # not a username, so nobody's (and never sent to the database)
    user = session.exec(select(User).where(User.username == name)).first() if name else None
    if user is None:
        raise NotFound(f"no user {username[:50]!r}", code="USER_NOT_FOUND")
    return user


def list_users(session: Session, now: datetime) -> list[tuple[User, int]]:
    """Every account with its number of live API tokens, bureau staff first."""
    live = (
        select(ApiToken.user_id, func.count().label("tokens"))
        .where(*_live(now))
        .group_by(col(ApiToken.user_id))
        .subquery()
    )
    query = (
        select(User, live.c.tokens)
        .outerjoin(live, live.c.user_id == User.id)
        .order_by(col(User.role) == ROLE_ENTERPRISE, col(User.username))
    )
    return [(user, tokens or 0) for user, tokens in session.exec(query)]


def end_credentials(*, session: Session, user: User, now: datetime) -> None:
    """Sign ``user`` out everywhere: every web session ends and every API token is revoked (not committed)."""
    session.exec(delete(WebSession).where(col(WebSession.user_id) == user.id))  # type: ignore[call-overload]
    session.exec(
        update(ApiToken)  # type: ignore[call-overload]
        .where(col(ApiToken.user_id) == user.id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def reset_password(*, session: Session, username: str, password: str, now: datetime) -> User:
    """A new password set by the bureau; whoever knew the old one is signed out and their tokens revoked."""
    user = find_user(session, username)
    user.password_hash = hash_password(password)
    session.add(user)
    end_credentials(session=session, user=user, now=now)
    session.flush()
    return user


def reset_password_now(*, session: Session, username: str, password: str, now: datetime) -> User:
    """``reset_password`` by an administrator on the portal or API, committed."""
    user = reset_password(session=session, username=username, password=password, now=now)
    session.commit()
    return user


def change_password(*, session: Session, user: User, current: str, new: str, now: datetime) -> None:
    """The user's own change: the current password first; then every session and token ends (commits)."""
    try:
        _HASHER.verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise BadRequest(
            "the current password is wrong", code="PASSWORD_WRONG", fields={"current": "password_wrong"}
        ) from None
    user.password_hash = hash_password(new)
    session.add(user)
    end_credentials(session=session, user=user, now=now)
    session.commit()


def set_active(
    *, session: Session, username: str, active: bool, now: datetime, by: User | None = None
) -> User:
    """Deactivate (signed out everywhere, tokens revoked, sign-in refused) or reactivate an account; ``by`` the
    administrator doing it, who cannot deactivate themselves (the last one would be locked out)."""
    user = find_user(session, username)
    if by is not None and by.id == user.id and not active:
        raise Conflict("you cannot deactivate your own account", code="SELF_DEACTIVATION")
    user.active = active
    session.add(user)
    if not active:
        end_credentials(session=session, user=user, now=now)
    session.commit()
    return user


def authenticate(
    *, session: Session, username: str, password: str, client: str, settings: Settings, now: datetime
) -> User:
    """The user, or Unauthorized with a message that never says which part was wrong (429 while backed off)."""
    # Control characters cannot be in any username, and PostgreSQL refuses NUL in text.
    name = "".join(ch for ch in username.strip().lower()[:50] if ch.isprintable())
    try:
        attempt = throttle.begin_login(
            session=session, username=name, client=client, settings=settings, now=now
        )
    except TooManyRequests:
        counters.count_signin_failure("throttled")
        raise
    user = session.exec(select(User).where(User.username == name)).first()
    try:
        _HASHER.verify(user.password_hash if user else _dummy_hash(), password)
        ok = user is not None and user.active
    except (VerificationError, InvalidHashError):
        ok = False
    throttle.finish_login(session=session, attempt=attempt, success=ok)
    if not ok or user is None:
        counters.count_signin_failure("credentials")
        raise Unauthorized("wrong username or password", code="LOGIN_FAILED")
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
        session.add(user)
        session.commit()
    return user


def start_session(
    *, session: Session, user: User, settings: Settings, now: datetime
) -> tuple[str, WebSession]:
    token = secrets.token_urlsafe(32)
    web = WebSession(
        token_hash=token_hash(token),
        user_id=user.id or 0,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(hours=settings.session_hours),
    )
    session.add(web)
    session.commit()
    return token, web


def session_user(*, session: Session, token: str, now: datetime) -> tuple[User, WebSession] | None:
    web = session.get(WebSession, token_hash(token))
    if web is None or web.expires_at <= now:
        return None
    user = session.get(User, web.user_id)
    if user is None or not user.active:
        return None
    return user, web


def end_session(*, session: Session, token: str) -> None:
    web = session.get(WebSession, token_hash(token))
    if web is not None:
        session.delete(web)
        session.commit()


def create_api_token(
    *,
    session: Session,
    now: datetime,
    name: str,
    user: User | None = None,
    device_id: str | None = None,
    expires_at: datetime | None = None,
) -> str:
    """A new bearer token; only its hash is stored, so this is the one time it can be shown. A user's token
    needs ``expires_at``; a device's has none (revoking the device ends it)."""
    if user is not None and expires_at is None:
        raise BadRequest("a user's API token needs an expiry", code="TOKEN_EXPIRY_MISSING")
    token = "cpt_" + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_hash=token_hash(token),
            user_id=user.id if user else None,
            device_id=device_id,
            name=name[:100],
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.commit()
    return token


def issue_user_token(
    *, session: Session, user: User, name: str, settings: Settings, now: datetime
) -> tuple[str, ApiToken]:
    """A token for ``user``'s scripts, expiring after ``api_token_days``; the secret is returned this once."""
    expires_at = now + timedelta(days=settings.api_token_days)
    secret = create_api_token(session=session, now=now, name=name, user=user, expires_at=expires_at)
    return secret, session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(secret))).one()


def _live(now: datetime) -> tuple:  # type: ignore[type-arg]
    return (
        col(ApiToken.revoked_at).is_(None),
        or_(col(ApiToken.expires_at).is_(None), col(ApiToken.expires_at) > now),
    )


def token_owner(*, session: Session, token: str, now: datetime) -> ApiToken | None:
    """The live token (neither revoked nor expired) with this secret, or None."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(token), *_live(now))).first()
    if row is not None and (row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5)):
        row.last_used_at = now  # coarse, so that a busy device does not write on every request
        session.add(row)
    return row


def list_tokens(*, session: Session, user: User, now: datetime) -> list[ApiToken]:
    """``user``'s live API tokens, newest first (never a device's: those belong to checkpoints)."""
    query = (
        select(ApiToken)
        .where(col(ApiToken.user_id) == user.id, *_live(now))
        .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
    )
    return list(session.exec(query))


def revoke_token(*, session: Session, user: User, token_id: int, now: datetime) -> ApiToken:
    """Revoke one of ``user``'s live tokens; another's, or one already ended, is not found (commits)."""
    row = next((t for t in list_tokens(session=session, user=user, now=now) if t.id == token_id), None)
    if row is None:
        raise NotFound("no such token", code="TOKEN_NOT_FOUND")
    row.revoked_at = now
    session.add(row)
    session.commit()
    return row


def revoke_tokens(*, session: Session, user: User, now: datetime) -> int:
    """Revoke every live token of ``user``; how many there were (commits)."""
    count = len(list_tokens(session=session, user=user, now=now))
    session.exec(
        update(ApiToken)  # type: ignore[call-overload]
        .where(col(ApiToken.user_id) == user.id, col(ApiToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    session.commit()
    return count
