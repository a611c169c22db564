"""Password reset by e-mail (the sign-in page's "forgot password?" link) and the user's own e-mail address."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select

from server.accounts import reset
from server.accounts.deps import ClientAddress
from server.accounts.models import User
from server.accounts.router_account import _page as account_page
from server.accounts.service import normalise_username
from server.deps import ClockDep, CurrentUser, PrincipalDep, SessionDep, SettingsDep
from server.errors import AppError, BadRequest
from server.notices.channels import EMAIL
from server.web.templating import lang_of, page

__all__ = ["check_email", "recovery", "store_email"]

recovery = APIRouter(include_in_schema=False)
# The reset page's URL holds the token: no Referer may carry it anywhere, not even to our own pages.
NO_REFERRER = {"Referrer-Policy": "no-referrer"}


def check_email(text: str) -> str:
    """The address as it is stored ("" for none); BadRequest naming the field when it is not one."""
    address = text.strip()
    if address and (len(address) > 254 or not EMAIL.match(address)):
        raise BadRequest(
            "not an e-mail address like name@example.com",
            code="EMAIL_INVALID",
            fields={"email": "email_invalid"},
        )
    return address


def store_email(session: Session, username: str, text: str) -> None:
    """Give the user registered just now the address typed at registration (committed)."""
    address = check_email(text)
    user = session.exec(select(User).where(User.username == normalise_username(username))).first()
    if address and user is not None:
        user.email = address
        session.add(user)
        session.commit()


@recovery.get("/password/forgot", response_class=HTMLResponse)
def forgot_form(request: Request, principal: PrincipalDep) -> Response:
    return page(request, "accounts/forgot.html", principal, identifier="")


@recovery.post("/password/forgot", response_class=HTMLResponse)
def forgot(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    client: ClientAddress,
    identifier: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    if not identifier.strip():
        return page(
            request,
            "accounts/forgot.html",
            principal,
            status=422,
            identifier="",
            errors={"identifier": "required"},
        )
    try:
        reset.request_reset(
            session=session,
            identifier=identifier,
            client=client,
            settings=settings,
            now=now,
            # The link's address: the configured one; a request's own Host header is believed only without it.
            base_url=settings.public_url or str(request.base_url),
        )
    except AppError as err:
        session.rollback()
        response = page(
            request,
            "accounts/forgot.html",
            principal,
            status=err.status,
            identifier=identifier,
            failure=err.code,
            wait_minutes=-(-int(err.headers.get("Retry-After", "60")) // 60),
        )
        response.headers.update(err.headers)
        return response
    # The same answer whether or not an account matched.
    return page(request, "accounts/forgot.html", principal, sent=True, identifier="")


@recovery.get("/password/reset", response_class=HTMLResponse)
def reset_form(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    token: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    valid = reset.find_valid(session, token, now) is not None
    response = page(
        request,
        "accounts/reset.html",
        principal,
        status=200 if valid else 400,
        token=token if valid else "",
        valid=valid,
    )
    response.headers.update(NO_REFERRER)
    return response


@recovery.post("/password/reset", response_class=HTMLResponse)
def reset_password(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    token: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        reset.complete(session=session, token=token, password=password, now=now)
    except AppError as err:
        session.rollback()
        valid = err.code != "RESET_LINK_INVALID"
        response = page(
            request,
            "accounts/reset.html",
            principal,
            status=err.status,
            token=token if valid else "",
            valid=valid,
            errors=err.fields if valid else {},
        )
        response.headers.update(NO_REFERRER)
        return response
    return RedirectResponse("/login?reset=1", status_code=303)


@recovery.post("/account/email", response_class=HTMLResponse)
def account_email(
    request: Request,
    user: CurrentUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    email: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    try:
        address = check_email(email)
    except BadRequest as err:
        # The account page again, the address as typed beside its message; nothing is changed.
        return account_page(
            request, principal, session, now, status=err.status, errors=err.fields, email_form=email
        )
    user.email = address
    user.lang = lang_of(request, principal)  # e-mails come in the language the user saved the address in
    session.add(user)
    session.commit()
    return RedirectResponse("/account?done=email", status_code=303)
