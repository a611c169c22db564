"""Enterprises for the administrator: the list with verification status, and verifying one (portal pages)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.deps import ClockDep, PrincipalDep, SessionDep
from server.enterprises import service as enterprises
from server.enterprises.deps import AdminUser
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
