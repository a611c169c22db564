"""The administrator's pages for a checkpoint's officers: the list, add one, reset a PIN, deactivate.

Bureau staff may look; only administrators change anything. A PIN typed into a form is never shown again, not
even on a page that comes back with an error (the field is left empty).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from server.checkpoints.deps import AdminUser, CheckpointDep
from server.checkpoints.models import Checkpoint
from server.deps import ClockDep, PrincipalDep, SessionDep
from server.errors import AppError
from server.officers import service as officers
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)

OfficerId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _list_page(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    checkpoint: Checkpoint,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    context.setdefault("form", {})
    rows = officers.officers_of(session, checkpoint.id or 0)
    return page(
        request, "officers/list.html", principal, status=status, checkpoint=checkpoint, rows=rows, **context
    )


def _back(checkpoint: Checkpoint, done: str, number: str) -> Response:
    return RedirectResponse(
        f"/admin/checkpoints/{checkpoint.id}/officers?done={done}&n={number}", status_code=303
    )


@web.get("/admin/checkpoints/{checkpoint_id}/officers", response_class=HTMLResponse)
def officer_list(
    request: Request, checkpoint: CheckpointDep, principal: PrincipalDep, session: SessionDep
) -> Response:
    done = request.query_params.get("done")
    number = request.query_params.get("n", "")[:16]
    return _list_page(
        request,
        principal,
        session,
        checkpoint,
        done=done if done in ("added", "pin", "off", "on") else None,
        number=number,
    )


@web.post("/admin/checkpoints/{checkpoint_id}/officers", response_class=HTMLResponse)
def officer_add(
    request: Request,
    _: AdminUser,
    checkpoint: CheckpointDep,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    number: Annotated[str, Form(max_length=40)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    pin: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        officer = officers.add_officer(
            session=session, checkpoint=checkpoint, number=number, name=name, pin=pin, now=now
        )
    except AppError as err:
        form = {"number": number, "name": name}  # never the PIN
        return _list_page(
            request,
            principal,
            session,
            checkpoint,
            status=err.status,
            form=form,
            errors=err.fields or {"number": "officer_invalid"},
        )
    return _back(checkpoint, "added", officer.number)


@web.post("/admin/checkpoints/{checkpoint_id}/officers/{officer_id}/pin", response_class=HTMLResponse)
def officer_pin(
    request: Request,
    officer_id: OfficerId,
    _: AdminUser,
    checkpoint: CheckpointDep,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    pin: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    officer = officers.find_officer(session, checkpoint.id or 0, officer_id)
    try:
        officers.reset_pin(session=session, officer=officer, pin=pin, now=now)
    except AppError as err:
        errors = {f"pin-{officer.id}": (err.fields or {}).get("pin", "officer_inactive")}
        return _list_page(request, principal, session, checkpoint, status=err.status, errors=errors)
    return _back(checkpoint, "pin", officer.number)


@web.post("/admin/checkpoints/{checkpoint_id}/officers/{officer_id}/deactivate")
def officer_deactivate(
    officer_id: OfficerId, _: AdminUser, checkpoint: CheckpointDep, session: SessionDep, now: ClockDep
) -> Response:
    officer = officers.find_officer(session, checkpoint.id or 0, officer_id)
    officers.deactivate(session=session, officer=officer, now=now)
    return _back(checkpoint, "off", officer.number)


@web.post("/admin/checkpoints/{checkpoint_id}/officers/{officer_id}/activate")
def officer_activate(
    officer_id: OfficerId, _: AdminUser, checkpoint: CheckpointDep, session: SessionDep, now: ClockDep
) -> Response:
    officer = officers.find_officer(session, checkpoint.id or 0, officer_id)
    officers.activate(session=session, officer=officer, now=now)
    return _back(checkpoint, "on", officer.number)
