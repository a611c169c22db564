"""The administrator's checkpoint pages: checkpoints, one-time enrolment codes, enrolled devices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from passcore import enrolment
from server.checkpoints import service as checkpoints
from server.checkpoints.deps import AdminUser, BureauUser, CheckpointDep, CheckpointDevice
from server.checkpoints.models import Checkpoint
from server.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep
from server.errors import AppError
from server.keyring import service as keyring
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}  # a page carrying a secret shown once


def _list_page(
    request: Request, principal: PrincipalDep, session: SessionDep, *, status: int = 200, **context: Any
) -> Response:
    context.setdefault("form", {})
    rows = checkpoints.list_checkpoints(session)
    return page(request, "checkpoints/list.html", principal, status=status, rows=rows, **context)


@web.get("/admin/checkpoints", response_class=HTMLResponse)
def checkpoint_list(
    request: Request, _: BureauUser, principal: PrincipalDep, session: SessionDep
) -> Response:
    return _list_page(request, principal, session)


@web.post("/admin/checkpoints", response_class=HTMLResponse)
def checkpoint_create(
    request: Request,
    _: AdminUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    name: Annotated[str, Form(max_length=200)] = "",
    region: Annotated[str, Form(max_length=20)] = "",
    location: Annotated[str, Form(max_length=400)] = "",
    latitude: Annotated[str, Form(max_length=40)] = "",
    longitude: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    form = {
        "name": name,
        "region": region,
        "location": location,
        "latitude": latitude,
        "longitude": longitude,
    }
    try:
        checkpoint = checkpoints.register_checkpoint(
            session=session,
            name=name,
            region=region,
            location=location,
            latitude=latitude,
            longitude=longitude,
            now=now,
        )
    except AppError as err:
        return _list_page(request, principal, session, status=err.status, form=form, errors=err.fields)
    return RedirectResponse(f"/admin/checkpoints/{checkpoint.id}", status_code=303)


def _detail_page(
    request: Request, principal: PrincipalDep, session: SessionDep, checkpoint: Checkpoint, **context: Any
) -> Response:
    return page(
        request,
        "checkpoints/detail.html",
        principal,
        checkpoint=checkpoint,
        devices=checkpoints.devices_of(session, checkpoint.id or 0),
        codes=checkpoints.enrolment_codes_of(session, checkpoint.id or 0),
        **context,
    )


@web.get("/admin/checkpoints/{checkpoint_id}", response_class=HTMLResponse)
def checkpoint_detail(
    request: Request, checkpoint: CheckpointDep, principal: PrincipalDep, session: SessionDep, now: ClockDep
) -> Response:
    return _detail_page(request, principal, session, checkpoint, now=now)


@web.post("/admin/checkpoints/{checkpoint_id}/codes", response_class=HTMLResponse)
def enrolment_code_create(
    request: Request,
    user: AdminUser,
    checkpoint: CheckpointDep,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
) -> Response:
    # Rendered here rather than after a redirect: the code exists only in this response (its hash is stored).
    code, row = checkpoints.create_enrolment_code(
        session=session, checkpoint=checkpoint, user=user, settings=settings, now=now
    )
    fingerprint = enrolment.fingerprint(keyring.root_public(session))
    response = page(
        request,
        "checkpoints/code.html",
        principal,
        checkpoint=checkpoint,
        code=code,
        row=row,
        fingerprint=fingerprint,
    )
    response.headers.update(NO_STORE)
    return response


@web.post("/admin/checkpoints/{checkpoint_id}/devices/{device_id}/revoke")
def device_revoke(
    _: AdminUser, checkpoint: CheckpointDep, device: CheckpointDevice, session: SessionDep, now: ClockDep
) -> Response:
    checkpoints.revoke_device(session=session, device=device, now=now)
    return RedirectResponse(f"/admin/checkpoints/{checkpoint.id}", status_code=303)
