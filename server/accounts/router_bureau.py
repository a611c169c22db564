"""The administrator's pages for bureau accounts: creating a reviewer, auditor or administrator, a generated
one-time password for any account, and the confirmation pages before a deactivation or a password reset."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from server.accounts import bureau
from server.accounts import service as accounts
from server.accounts.deps import AdminUser
from server.accounts.models import BUREAU_ROLES, ROLE_ADMIN
from server.applications.rendering import recover
from server.deps import ClockDep, Principal, PrincipalDep, SessionDep, require
from server.errors import AppError, Conflict
from server.web.templating import page

__all__ = ["bureau_accounts"]

bureau_accounts = APIRouter(include_in_schema=False, dependencies=[Depends(require(ROLE_ADMIN))])


@bureau_accounts.get("/admin/accounts/new", response_class=HTMLResponse)
def new_account(request: Request, principal: PrincipalDep) -> Response:
    return page(request, "admin/account_new.html", principal, form={"role": "reviewer"}, roles=BUREAU_ROLES)


@bureau_accounts.post("/admin/accounts/new", response_class=HTMLResponse)
def create_account(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    username: Annotated[str, Form(max_length=100)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    form = {"username": username, "display_name": display_name, "role": role}
    try:
        user, password = bureau.create_bureau_user(
            session=session, username=username, role=role, display_name=display_name, now=now
        )
    except AppError as err:
        recover(session, principal)
        return page(
            request,
            "admin/account_new.html",
            principal,
            status=err.status,
            form=form,
            roles=BUREAU_ROLES,
            errors=err.fields,
        )
    # Shown in this answer only (no redirect: the password never travels in a URL, and the page is no-store).
    return page(
        request, "admin/account_password.html", principal, account=user, password=password, created=True
    )


def _confirm(
    request: Request, principal: Principal, session: Session, username: str, action: str
) -> Response:
    account = accounts.find_user(session, username)
    return page(request, "admin/account_confirm.html", principal, account=account, action=action)


@bureau_accounts.get("/admin/users/{username}/deactivate", response_class=HTMLResponse)
def confirm_deactivation(
    username: str, request: Request, principal: PrincipalDep, by: AdminUser, session: SessionDep
) -> Response:
    """Asks before the account is signed out everywhere and refused sign-in (never one's own)."""
    if accounts.find_user(session, username).id == by.id:
        raise Conflict("you cannot deactivate your own account", code="SELF_DEACTIVATION")
    return _confirm(request, principal, session, username, "deactivate")


@bureau_accounts.get("/admin/users/{username}/generate", response_class=HTMLResponse)
def confirm_generation(
    username: str, request: Request, principal: PrincipalDep, session: SessionDep
) -> Response:
    """Asks before the account's password is replaced by a generated one (which signs it out everywhere)."""
    return _confirm(request, principal, session, username, "generate")


@bureau_accounts.post("/admin/users/{username}/generate", response_class=HTMLResponse)
def generate_password(
    username: str, request: Request, principal: PrincipalDep, session: SessionDep, now: ClockDep
) -> Response:
    user, password = bureau.reset_with_generated(session=session, username=username, now=now)
    return page(
        request, "admin/account_password.html", principal, account=user, password=password, created=False
    )
