"""Accounts: passwords (argon2id), login with throttling, web sessions, API tokens, enterprise registration.

Each use case commits its own work (routers never commit); ``create_user`` and ``reset_password`` leave the
commit to their caller, since the CLI and the demo combine them with other steps.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, func, select

from passcore import ids
from passcore.errors import InputError
from server.accounts.models import ROLE_ENTERPRISE, ROLES, ApiToken, LoginAttempt, User, WebSession
from server.config import Settings
from server.enterprises.models import Enterprise
from server.errors import BadRequest, Conflict, TooManyRequests, Unauthorized

__all__ = [
    "authenticate",
    "create_api_token",
    "create_user",
    "end_session",
    "register_enterprise",
    "reset_password",
    "session_user",
    "start_session",
    "token_owner",
]

_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Compared against when the user does not exist, so that a wrong username takes as long as a wrong password.
# Made at the first sign-in, not at import: every `checkpass` command imports this module.
_DUMMY_HASH: str | None = None
MIN_PASSWORD = 10


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))
    return _DUMMY_HASH


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD or len(password) > 200:
        raise BadRequest(
            "password too short", code="PASSWORD_WEAK", fields={"password": "password_too_short"}
        )


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
) -> User:
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}", code="ROLE_INVALID")
    if (role == ROLE_ENTERPRISE) != (enterprise_uscc is not None):
        raise BadRequest("enterprise users, and only they, belong to an enterprise", code="ROLE_INVALID")
    name = normalise_username(username)
    _check_password(password)
    if session.exec(select(User).where(User.username == name)).first() is not None:
        raise Conflict("username taken", code="USERNAME_TAKEN", fields={"username": "username_taken"})
    user = User(
        username=name,
        password_hash=_HASHER.hash(password),
        role=role,
        enterprise_uscc=enterprise_uscc,
        display_name=display_name.strip()[:50],
        lang=lang if lang in ("zh", "en") else "zh",
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def reset_password(*, session: Session, username: str, password: str) -> User:
    user = session.exec(select(User).where(User.username == normalise_username(username))).first()
    if user is None:
        raise BadRequest(f"no user {username!r}", code="USER_NOT_FOUND")
    _check_password(password)
    user.password_hash = _HASHER.hash(password)
    session.add(user)
    # A reset ends every session of that user: whoever knew the old password is signed out.
    for web in session.exec(select(WebSession).where(WebSession.user_id == user.id)):
        session.delete(web)
    session.flush()
    return user


def _failures(session: Session, column: object, value: str, since: datetime) -> int:
    query = (
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            column == value,
            LoginAttempt.at >= since,
            LoginAttempt.success.is_(False),  # type: ignore[attr-defined]
        )
    )
    return int(session.exec(query).one())


def authenticate(
    *, session: Session, username: str, password: str, client: str, settings: Settings, now: datetime
) -> User:
    """The user, or Unauthorized with a message that never says which part was wrong."""
    # Control characters cannot be in any username, and PostgreSQL refuses NUL in text.
    name = "".join(ch for ch in username.strip().lower()[:50] if ch.isprintable())
    since = now - timedelta(minutes=settings.login_window_minutes)
    if (
        _failures(session, LoginAttempt.username, name, since) >= settings.login_max_failures
        or _failures(session, LoginAttempt.client, client, since) >= 4 * settings.login_max_failures
    ):
        raise TooManyRequests(
            "too many failed sign-ins; wait and try again",
            code="LOGIN_THROTTLED",
            headers={"Retry-After": str(settings.login_window_minutes * 60)},
        )
    user = session.exec(select(User).where(User.username == name)).first()
    try:
        _HASHER.verify(user.password_hash if user else _dummy_hash(), password)
        ok = user is not None and user.active
    except (VerificationError, InvalidHashError):
        ok = False
    session.add(LoginAttempt(username=name, client=client[:64].replace("\x00", ""), at=now, success=ok))
    session.commit()  # the attempt counts even though the request fails
    if not ok or user is None:
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
    *, session: Session, now: datetime, name: str, user: User | None = None, device_id: str | None = None
) -> str:
    """A new bearer token; only its hash is stored, so this is the one time it can be shown."""
    token = "cpt_" + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            token_hash=token_hash(token),
            user_id=user.id if user else None,
            device_id=device_id,
            name=name[:100],
            created_at=now,
        )
    )
    session.commit()
    return token


def token_owner(*, session: Session, token: str, now: datetime) -> ApiToken | None:
    row = session.exec(
        select(ApiToken).where(ApiToken.token_hash == token_hash(token), col(ApiToken.revoked_at).is_(None))
    ).first()
    if row is not None and (row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5)):
        row.last_used_at = now  # coarse, so that a busy device does not write on every request
        session.add(row)
    return row


def register_enterprise(
    *,
    session: Session,
    name: str,
    uscc: str,
    contact: str,
    phone: str,
    region: str,
    username: str,
    password: str,
    now: datetime,
    lang: str = "zh",
) -> tuple[Enterprise, User]:
    """A new enterprise and its first user; it can apply once an administrator has verified it."""
    fields: dict[str, str] = {}
    clean_name = name.strip()
    if not 2 <= len(clean_name) <= 100:
        fields["name"] = "enterprise_name_invalid"
    try:
        uscc = ids.validate_uscc(uscc)
    except InputError:
        fields["uscc"] = "uscc_invalid"
    try:
        region = ids.validate_region(region)
    except InputError:
        fields["region"] = "region_invalid"
    if not contact.strip() or len(contact) > 50:
        fields["contact"] = "contact_invalid"
    if not phone.strip() or len(phone) > 30 or not all(ch.isdigit() or ch in "+- " for ch in phone.strip()):
        fields["phone"] = "phone_invalid"
    if fields:
        raise BadRequest("please correct the marked fields", code="REGISTRATION_INVALID", fields=fields)
    if session.get(Enterprise, uscc) is not None:
        raise Conflict(
            "this enterprise is already registered",
            code="ENTERPRISE_EXISTS",
            fields={"uscc": "enterprise_exists"},
        )
    enterprise = Enterprise(
        uscc=uscc,
        name=clean_name,
        contact=contact.strip(),
        phone=phone.strip(),
        region=region,
        verified=False,
        created_at=now,
    )
    session.add(enterprise)
    session.flush()
    user = create_user(
        session=session,
        username=username,
        password=password,
        role=ROLE_ENTERPRISE,
        enterprise_uscc=uscc,
        display_name=contact,
        now=now,
        lang=lang,
    )
    session.commit()
    return enterprise, user
