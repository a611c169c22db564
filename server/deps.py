"""Request dependencies as Annotated aliases: database session, clock, who is asking, role guards, CSRF."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlmodel import Session

from server.accounts import service as accounts
from server.accounts.models import BUREAU_ROLES, User, WebSession
from server.config import Settings
from server.errors import Forbidden, LoginRequired, SessionExpired, Unauthorized

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "ClockDep",
    "CurrentUser",
    "PrincipalDep",
    "SessionDep",
    "SettingsDep",
    "csrf_protect",
    "require",
    "secure_cookies",
]

SESSION_COOKIE = "cp_session"
CSRF_COOKIE = "cp_csrf"  # double-submit token for forms shown before sign-in (login, registration)
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def secure_cookies(request: Request) -> bool:
    """Whether cookies get the Secure flag: CHECKPASS_COOKIE_SECURE, else whether this request came over HTTPS.
    Behind a TLS-terminating proxy the node sees plain HTTP, so a deployment sets the setting (docs/deploy.md)."""
    configured = get_settings(request).cookie_secure
    return configured if configured is not None else request.url.scheme == "https"


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def get_now() -> datetime:
    return datetime.now(UTC)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[datetime, Depends(get_now)]


@dataclass
class Principal:
    user: User | None = None
    device_id: str | None = None
    web: WebSession | None = None  # set when signed in through the portal's cookie
    token: bool = False  # signed in with a bearer token (no cookie, so no CSRF risk)


def get_principal(request: Request, session: SessionDep, now: ClockDep) -> Principal:
    principal = _find_principal(request, session, now)
    # Error pages show who is signed in. They get copies: a rollback later in the request expires the session's
    # own objects, which then cannot be read once the session is closed.
    request.state.principal = Principal(
        user=User.model_validate(principal.user.model_dump()) if principal.user else None,
        device_id=principal.device_id,
        web=WebSession.model_validate(principal.web.model_dump()) if principal.web else None,
        token=principal.token,
    )
    return principal


def _find_principal(request: Request, session: Session, now: datetime) -> Principal:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        row = accounts.token_owner(session=session, token=auth[7:].strip(), now=now)
        if row is None:
            raise Unauthorized("unknown or revoked token", code="TOKEN_INVALID")
        session.commit()
        user = session.get(User, row.user_id) if row.user_id else None
        if user is not None and not user.active:
            raise Unauthorized("account disabled", code="TOKEN_INVALID")
        return Principal(user=user, device_id=row.device_id, token=True)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = accounts.session_user(session=session, token=cookie, now=now)
        if found is not None:
            return Principal(user=found[0], web=found[1])
    return Principal()


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_current_user(request: Request, principal: PrincipalDep) -> User:
    if principal.user is None:
        if request.url.path.startswith("/api/"):
            raise Unauthorized()
        raise LoginRequired()
    return principal.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(*roles: str) -> Callable[[User], User]:
    """A dependency that lets only ``roles`` through (403 for a signed-in user of another role)."""
    allowed = set(roles)

    def guard(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden("your role may not do this", code="ROLE_FORBIDDEN")
        return user

    return guard


def require_bureau(user: CurrentUser) -> User:
    if user.role not in BUREAU_ROLES:
        raise Forbidden("bureau staff only", code="ROLE_FORBIDDEN")
    return user


def _same_site_path(request: Request) -> str:
    """Where a form came from (its page, by the Referer; the form's own path when there is none): the page to
    return to after signing in again. Only a path of this site."""
    referer = urlsplit(request.headers.get("referer", ""))
    if (
        referer.netloc == request.url.netloc
        and referer.path.startswith("/")
        and not referer.path.startswith("//")
    ):
        return referer.path
    return request.url.path


def csrf_value(request: Request, principal: Principal) -> str:
    """The token a form must send back: the session's when signed in, else the double-submit cookie's."""
    if principal.web is not None:
        return principal.web.csrf_token
    return request.cookies.get(CSRF_COOKIE) or request.state.__dict__.setdefault(
        "new_csrf", secrets.token_urlsafe(32)
    )


async def csrf_protect(request: Request, principal: PrincipalDep) -> None:
    """Every unsafe request that a browser could send with our cookie must carry the CSRF token."""
    if request.method not in UNSAFE or principal.token:
        return
    # A JSON body cannot be sent cross-site without a CORS preflight (which this server never grants), and
    # without a session it carries no authority to abuse: API clients signing in need no token.
    if principal.web is None and request.headers.get("content-type", "").startswith("application/json"):
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf_token")
        sent = value if isinstance(value, str) else None
    expected = principal.web.csrf_token if principal.web is not None else request.cookies.get(CSRF_COOKIE)
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        if principal.web is None and request.cookies.get(SESSION_COOKIE):
            # The browser still holds a session the server has ended (expired, or signed out elsewhere): that,
            # not a forged form, is why the token is stale. Say so, and lead back to the page through sign-in.
            raise SessionExpired(next_path=_same_site_path(request))
        raise Forbidden(
            "the form expired or came from another site; reload the page and try again", code="CSRF_FAILED"
        )
