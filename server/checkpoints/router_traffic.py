"""The public checkpoint status page (no sign-in; 高速公路通道查询) and the administrator's form that sets a
checkpoint's traffic state. The page names checkpoints, places and states only, and may be cached a minute; the
same list as JSON is in server/checkpoints/api.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from server.checkpoints import traffic
from server.checkpoints.deps import AdminUser, CheckpointDep
from server.deps import ClockDep, PrincipalDep, SessionDep
from server.errors import AppError
from server.policy import service as policy_service
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)


@web.get("/checkpoints/status", response_class=HTMLResponse)
def status_page(request: Request, principal: PrincipalDep, session: SessionDep) -> Response:
    rows = traffic.public_list(session)
    hotline = policy_service.current(session).service_hotline
    # Rendered as nobody: the page must be the same for everyone to be cacheable, and shows no account.
    anonymous = type(principal)()
    response = page(request, "checkpoints/status.html", anonymous, rows=rows, hotline=hotline)
    del response.headers["set-cookie"]  # no form here needs the CSRF cookie; a cached answer must carry none
    response.headers.update(traffic.PUBLIC_CACHE)
    return response


@web.post("/admin/checkpoints/{checkpoint_id}/traffic", response_class=HTMLResponse)
def set_traffic(
    request: Request,
    _: AdminUser,
    checkpoint: CheckpointDep,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    state: Annotated[str, Form(max_length=12)] = "",
    note: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    try:
        traffic.set_state(session=session, checkpoint=checkpoint, state=state, note=note, now=now)
    except AppError as err:
        session.rollback()
        return page(request, "error.html", principal, status=err.status, error=err)
    return RedirectResponse(f"/admin/checkpoints/{checkpoint.id}", status_code=303)
