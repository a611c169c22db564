"""Enterprises for the administrator: the list with verification status, and verifying one (portal and API)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from server.accounts.models import ROLE_ADMIN, User
from server.deps import ClockDep, PrincipalDep, SessionDep, require
from server.enterprises import service as enterprises
from server.enterprises.models import Enterprise
from server.web.pages import page

web = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["enterprises"])

AdminUser = Annotated[User, Depends(require(ROLE_ADMIN))]


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


class EnterpriseAdmin(BaseModel):
    uscc: str
    name: str
    contact: str
    phone: str
    region: str
    verified: bool
    verified_at: datetime | None
    verified_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, enterprise: Enterprise, verified_by: str | None) -> EnterpriseAdmin:
        return cls(**enterprise.model_dump(exclude={"verified_by"}), verified_by=verified_by)


@api.get("/enterprises", response_model=list[EnterpriseAdmin], responses={401: {}, 403: {}})
def api_enterprise_list(admin: AdminUser, session: SessionDep) -> list[EnterpriseAdmin]:
    """Every registered enterprise, those waiting for verification first (administrators)."""
    return [EnterpriseAdmin.of(e, by) for e, by in enterprises.list_enterprises(session)]


@api.post("/enterprises/{uscc}/verify", response_model=EnterpriseAdmin, responses={401: {}, 403: {}, 404: {}})
def api_enterprise_verify(uscc: str, admin: AdminUser, session: SessionDep, now: ClockDep) -> EnterpriseAdmin:
    """Verify an enterprise (administrators): from then on it can apply for passes. Idempotent."""
    enterprise = enterprises.verify(session=session, uscc=uscc, admin=admin, now=now)
    return EnterpriseAdmin.of(enterprise, enterprises.verifier(session, enterprise))
