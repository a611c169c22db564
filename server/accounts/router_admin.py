"""Accounts for the administrator: every account, its API tokens (revoked one by one or all), a new password,
deactivation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import service as accounts
from server.accounts.deps import AdminUser
from server.accounts.models import ROLE_ADMIN
from server.accounts.router_bureau import bureau_accounts
from server.deps import ClockDep, PrincipalDep, SessionDep, require
from server.errors import AppError
from server.web.templating import page

__all__ = ["admin"]

admin = APIRouter(include_in_schema=False, dependencies=[Depends(require(ROLE_ADMIN))])
NOTICES = ("revoked", "deactivated", "activated", "password")


@admin.get("/admin/users", response_class=HTMLResponse)
def user_list(request: Request, principal: PrincipalDep, session: SessionDep, now: ClockDep) -> Response:
    return page(request, "admin/users.html", principal, rows=accounts.list_users(session, now))


@admin.get("/admin/users/{username}", response_class=HTMLResponse)
def user_detail(
    username: str,
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    done: str = "",
) -> Response:
    account = accounts.find_user(session, username)
    tokens = accounts.list_tokens(session=session, user=account, now=now)
    notice = done if done in NOTICES else ""
    return page(request, "admin/user.html", principal, account=account, tokens=tokens, done=notice)


@admin.post("/admin/users/{username}/password", response_class=HTMLResponse)
def user_password(
    username: str,
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        account = accounts.reset_password_now(session=session, username=username, password=password, now=now)
    except AppError as err:
        session.rollback()
        account = accounts.find_user(session, username)
        tokens = accounts.list_tokens(session=session, user=account, now=now)
        return page(
            request,
            "admin/user.html",
            principal,
            status=err.status,
            account=account,
            tokens=tokens,
            errors=err.fields,
        )
    return RedirectResponse(f"/admin/users/{account.username}?done=password", status_code=303)


@admin.post("/admin/users/{username}/tokens/{token_id}/revoke")
def user_token_revoke(username: str, token_id: int, session: SessionDep, now: ClockDep) -> Response:
    account = accounts.find_user(session, username)
    accounts.revoke_token(session=session, user=account, token_id=token_id, now=now)
    return RedirectResponse(f"/admin/users/{account.username}?done=revoked", status_code=303)


@admin.post("/admin/users/{username}/tokens/revoke")
def user_tokens_revoke(username: str, session: SessionDep, now: ClockDep) -> Response:
    account = accounts.find_user(session, username)
    accounts.revoke_tokens(session=session, user=account, now=now)
    return RedirectResponse(f"/admin/users/{account.username}?done=revoked", status_code=303)


@admin.post("/admin/users/{username}/deactivate")
def user_deactivate(username: str, by: AdminUser, session: SessionDep, now: ClockDep) -> Response:
    account = accounts.set_active(session=session, username=username, active=False, now=now, by=by)
    return RedirectResponse(f"/admin/users/{account.username}?done=deactivated", status_code=303)


@admin.post("/admin/users/{username}/activate")
def user_activate(username: str, session: SessionDep, now: ClockDep) -> Response:
    account = accounts.set_active(session=session, username=username, active=True, now=now)
    return RedirectResponse(f"/admin/users/{account.username}?done=activated", status_code=303)


# Creating bureau accounts, generated passwords and the confirmation pages (issue 13): their own module.
admin.include_router(bureau_accounts)
