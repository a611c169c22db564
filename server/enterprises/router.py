"""Enterprises for the administrator: the list with verification status, one enterprise with its business
licences, verifying or rejecting it with a reason (portal pages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from server.applications.rendering import recover
from server.deps import ClockDep, Principal, PrincipalDep, SessionDep
from server.documents import service as documents
from server.enterprises import service as enterprises
from server.enterprises.deps import AdminUser
from server.enterprises.models import Enterprise
from server.errors import AppError
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)


@web.get("/admin/enterprises", response_class=HTMLResponse)
def enterprise_list(
    request: Request, principal: PrincipalDep, admin: AdminUser, session: SessionDep, verified: str = ""
) -> Response:
    rows = enterprises.list_enterprises(session)
    done = next((e for e, _ in rows if e.uscc == verified and e.verified), None)
    return page(request, "admin/enterprises.html", principal, rows=rows, done=done)


@web.post("/admin/enterprises/{uscc}/verify")
def enterprise_verify(uscc: str, admin: AdminUser, session: SessionDep, now: ClockDep) -> Response:
    enterprise = enterprises.verify(session=session, uscc=uscc, admin=admin, now=now)
    return RedirectResponse(f"/admin/enterprises?verified={enterprise.uscc}", status_code=303)


def _detail(
    request: Request,
    principal: Principal,
    session: Session,
    enterprise: Enterprise,
    *,
    err: AppError | None = None,
    reason: str = "",
) -> Response:
    return page(
        request,
        "admin/enterprise.html",
        principal,
        status=err.status if err else 200,
        e=enterprise,
        verifier=enterprises.verifier(session, enterprise),
        licences=documents.for_enterprise(session, enterprise.uscc),
        errors=err.fields if err else {},
        reason=reason,
        rejected=request.query_params.get("rejected") == "1",
    )


@web.get("/admin/enterprises/{uscc}", response_class=HTMLResponse)
def enterprise_detail(
    uscc: str, request: Request, principal: PrincipalDep, admin: AdminUser, session: SessionDep
) -> Response:
    """One enterprise with its business licences: what the administrator verifies it by, or rejects."""
    return _detail(request, principal, session, enterprises.find(session, uscc))


@web.post("/admin/enterprises/{uscc}/reject", response_class=HTMLResponse)
def enterprise_reject(
    uscc: str,
    request: Request,
    principal: PrincipalDep,
    admin: AdminUser,
    session: SessionDep,
    now: ClockDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        enterprise = enterprises.reject(session=session, uscc=uscc, admin=admin, reason=reason, now=now)
    except AppError as err:
        recover(session, principal)
        return _detail(request, principal, session, enterprises.find(session, uscc), err=err, reason=reason)
    return RedirectResponse(f"/admin/enterprises/{enterprise.uscc}?rejected=1", status_code=303)
