"""Sign-in, sign-out and enterprise registration: the portal pages; the account area (``router_account``) and
the administrator's accounts pages (``router_admin``) are included here."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts import registration
from server.accounts import service as accounts
from server.accounts.deps import ClientAddress
from server.accounts.models import ROLE_ADMIN, ROLE_AUDITOR, ROLE_DEPARTMENT, ROLE_ENTERPRISE, ROLE_REVIEWER
from server.accounts.router_account import account, set_session_cookie
from server.accounts.router_admin import admin
from server.accounts.router_reset import check_email, recovery, store_email
from server.deps import SESSION_COOKIE, ClockDep, PrincipalDep, SessionDep, SettingsDep
from server.documents import uploads as document_uploads
from server.documents.models import BUSINESS_LICENCE
from server.errors import AppError
from server.web.templating import lang_of, page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)
web.include_router(account)
web.include_router(admin)
web.include_router(recovery)

HOME = {
    ROLE_ENTERPRISE: "/enterprise/applications",
    ROLE_REVIEWER: "/review/queue",
    ROLE_AUDITOR: "/review/queue",
    ROLE_ADMIN: "/admin/enterprises",
    ROLE_DEPARTMENT: "/department/problems",
}


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect would let a phishing link land on a look-alike site after sign-in.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return None


@web.get("/", response_class=HTMLResponse)
def home(request: Request, principal: PrincipalDep) -> Response:
    if principal.user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME.get(principal.user.role, "/login"), status_code=303)


@web.get("/login", response_class=HTMLResponse)
def login_form(request: Request, principal: PrincipalDep, next: str | None = None) -> Response:
    return page(request, "accounts/login.html", principal, next=_safe_next(next) or "")


@web.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    client: ClientAddress,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        user = accounts.authenticate(
            session=session,
            username=username,
            password=password,
            client=client,
            settings=settings,
            now=now,
        )
    except AppError as err:
        response = page(
            request,
            "accounts/login.html",
            principal,
            status=err.status,
            next=_safe_next(next) or "",
            username=username,
            failure=err.code,
            wait_minutes=_minutes(err.headers.get("Retry-After")),
        )
        response.headers.update(err.headers)
        return response
    token, _ = accounts.start_session(session=session, user=user, settings=settings, now=now)
    redirect = RedirectResponse(_safe_next(next) or HOME.get(user.role, "/"), status_code=303)
    set_session_cookie(request, redirect, token, settings)
    return redirect


def _minutes(retry_after: str | None) -> int:
    return -(-int(retry_after) // 60) if retry_after else 0


@web.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.end_session(session=session, token=token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@web.get("/register", response_class=HTMLResponse)
def register_form(request: Request, principal: PrincipalDep) -> Response:
    return page(request, "accounts/register.html", principal, form={})


@web.post("/register", response_class=HTMLResponse)
def register(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    client: ClientAddress,
    name: Annotated[str, Form(max_length=200)] = "",
    uscc: Annotated[str, Form(max_length=40)] = "",
    contact: Annotated[str, Form(max_length=100)] = "",
    phone: Annotated[str, Form(max_length=40)] = "",
    region: Annotated[str, Form(max_length=10)] = "",
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=300)] = "",
    licence: Annotated[UploadFile | None, File()] = None,
) -> Response:
    form = {
        "name": name,
        "uscc": uscc,
        "contact": contact,
        "phone": phone,
        "region": region,
        "username": username,
        "email": email,
    }
    files = [f for f in [document_uploads.read_upload(licence, BUSINESS_LICENCE, settings)] if f]
    try:
        document_uploads.check(files, settings)  # the business licence, before anything is saved
        check_email(email)  # the user's address for notices and password resets (optional)
        # The same page whether or not the name or enterprise was new: registration.py says why.
        enterprise = registration.register_enterprise(
            session=session,
            name=name,
            uscc=uscc,
            contact=contact,
            phone=phone,
            region=region,
            username=username,
            password=password,
            client=client,
            settings=settings,
            now=now,
            lang=lang_of(request, principal),
        )
    except AppError as err:
        session.rollback()
        document_uploads.field_error(err, "licence")
        response = page(
            request,
            "accounts/register.html",
            principal,
            status=err.status,
            form=form,
            errors=err.fields,
            failure=err.code,
            wait_minutes=_minutes(err.headers.get("Retry-After")),
        )
        response.headers.update(err.headers)
        return response
    if enterprise is not None and files:
        document_uploads.save(
            session=session,
            uploads=files,
            enterprise_uscc=enterprise.uscc,
            application_id=None,
            user=None,
            settings=settings,
            now=now,
        )
    if enterprise is not None:
        store_email(session, username, email)
    return page(request, "accounts/registered.html", principal, form=form)
