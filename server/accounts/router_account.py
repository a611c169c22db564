"""The account area of every signed-in user: their API tokens (made, listed, revoked) and their password."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from server.accounts import service as accounts
from server.config import Settings
from server.deps import (
    SESSION_COOKIE,
    ClockDep,
    CurrentUser,
    Principal,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    secure_cookies,
)
from server.errors import AppError
from server.web.templating import page

__all__ = ["account", "set_session_cookie"]

account = APIRouter(include_in_schema=False)


def set_session_cookie(request: Request, response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        max_age=settings.session_hours * 3600,
    )


def _page(
    request: Request, principal: Principal, session: Session, now: datetime, status: int = 200, **context: Any
) -> HTMLResponse:
    user = principal.user
    tokens = accounts.list_tokens(session=session, user=user, now=now) if user else []
    days = request.app.state.settings.api_token_days
    return page(
        request, "accounts/account.html", principal, status=status, tokens=tokens, token_days=days, **context
    )


@account.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request,
    user: CurrentUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    done: str = "",
) -> Response:
    return _page(
        request, principal, session, now, done=done if done in ("password", "revoked", "email") else ""
    )


@account.post("/account/tokens", response_class=HTMLResponse)
def account_token_create(
    request: Request,
    user: CurrentUser,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    name: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    # Answered with the page itself, not a redirect: the secret must not travel in a URL or be shown twice.
    secret, _ = accounts.issue_user_token(
        session=session, user=user, name=name.strip() or "api", settings=settings, now=now
    )
    return _page(request, principal, session, now, secret=secret)


@account.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(token_id: int, user: CurrentUser, session: SessionDep, now: ClockDep) -> Response:
    accounts.revoke_token(session=session, user=user, token_id=token_id, now=now)
    return RedirectResponse("/account?done=revoked", status_code=303)


@account.post("/account/password", response_class=HTMLResponse)
def account_password(
    request: Request,
    user: CurrentUser,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    current: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        accounts.change_password(session=session, user=user, current=current, new=password, now=now)
    except AppError as err:
        session.rollback()
        return _page(request, principal, session, now, status=err.status, errors=err.fields)
    # Every session ended with the old password, this one too; the browser that changed it gets a new one.
    token, _ = accounts.start_session(session=session, user=user, settings=settings, now=now)
    response = RedirectResponse("/account?done=password", status_code=303)
    set_session_cookie(request, response, token, settings)
    return response
