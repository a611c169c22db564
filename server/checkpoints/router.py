"""HTTP routes of the checkpoints domain: the administrator's pages (web) and the JSON API (api)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from passcore import ids
from server.checkpoints import service as checkpoints
from server.checkpoints.deps import AdminUser, BureauUser, CheckpointDep, CheckpointDevice
from server.checkpoints.models import Checkpoint, Device
from server.checkpoints.schemas import (
    CheckpointCreate,
    CheckpointPublic,
    CheckpointRef,
    DevicePublic,
    EnrolmentCodePublic,
    EnrolRequest,
    EnrolResponse,
)
from server.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep
from server.errors import AppError
from server.keyring import service as keyring
from server.web.pages import page

web = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["checkpoints"])

NO_STORE = {"Cache-Control": "no-store"}  # responses carrying a secret shown once


def _public(checkpoint: Checkpoint, devices: int) -> CheckpointPublic:
    return CheckpointPublic(
        id=checkpoint.id or 0,
        name=checkpoint.name,
        region=checkpoint.region,
        region_name=ids.region_name(checkpoint.region),
        location=checkpoint.location,
        latitude=checkpoint.latitude,
        longitude=checkpoint.longitude,
        active=checkpoint.active,
        devices=devices,
        created_at=checkpoint.created_at,
    )


# ---- portal pages -------------------------------------------------------------------------------------------


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
    response = page(request, "checkpoints/code.html", principal, checkpoint=checkpoint, code=code, row=row)
    response.headers.update(NO_STORE)
    return response


@web.post("/admin/checkpoints/{checkpoint_id}/devices/{device_id}/revoke")
def device_revoke(
    _: AdminUser, checkpoint: CheckpointDep, device: CheckpointDevice, session: SessionDep, now: ClockDep
) -> Response:
    checkpoints.revoke_device(session=session, device=device, now=now)
    return RedirectResponse(f"/admin/checkpoints/{checkpoint.id}", status_code=303)


# ---- JSON API ---------------------------------------------------------------------------------------------------


@api.post(
    "/devices/enroll", response_model=EnrolResponse, status_code=201, responses={404: {}, 409: {}, 410: {}}
)
def enrol(
    body: EnrolRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
) -> EnrolResponse:
    """Enrol a checkpoint device with a one-time code; the token in the answer is shown only this once.

    404 `CODE_UNKNOWN`, 409 `CODE_USED` (also for the loser of two devices racing with one code),
    410 `CODE_EXPIRED`.
    """
    enrolment = checkpoints.enrol(session=session, code=body.code, name=body.name, now=now)
    response.headers.update(NO_STORE)
    checkpoint = enrolment.checkpoint
    return EnrolResponse(
        device_id=enrolment.device.id,
        token=enrolment.token,
        checkpoint=CheckpointRef(
            id=checkpoint.id or 0,
            name=checkpoint.name,
            region=checkpoint.region,
            region_name=ids.region_name(checkpoint.region),
        ),
        root_public_key=keyring.load_root(settings).public.pem,
        bundle_url=str(request.base_url).rstrip("/") + "/api/v1/trust-bundle",
        enrolled_at=enrolment.device.enrolled_at,
    )


@api.get("/checkpoints", response_model=list[CheckpointPublic])
def api_checkpoint_list(_: BureauUser, session: SessionDep) -> list[CheckpointPublic]:
    """Every checkpoint (bureau staff)."""
    return [_public(checkpoint, count) for checkpoint, count in checkpoints.list_checkpoints(session)]


@api.post("/checkpoints", response_model=CheckpointPublic, status_code=201)
def api_checkpoint_create(
    body: CheckpointCreate, _: AdminUser, session: SessionDep, now: ClockDep
) -> CheckpointPublic:
    """Register a checkpoint (administrators)."""
    checkpoint = checkpoints.register_checkpoint(session=session, now=now, **body.model_dump())
    return _public(checkpoint, 0)


@api.post(
    "/checkpoints/{checkpoint_id}/enrolment-codes",
    response_model=EnrolmentCodePublic,
    status_code=201,
    responses={404: {}},
)
def api_enrolment_code_create(
    response: Response,
    user: AdminUser,
    checkpoint: CheckpointDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
) -> EnrolmentCodePublic:
    """A one-time enrolment code for the checkpoint (administrators); only its hash is kept."""
    code, row = checkpoints.create_enrolment_code(
        session=session, checkpoint=checkpoint, user=user, settings=settings, now=now
    )
    response.headers.update(NO_STORE)
    return EnrolmentCodePublic(code=code, checkpoint_id=row.checkpoint_id, expires_at=row.expires_at)


def _device(device: Device) -> DevicePublic:
    return DevicePublic.model_validate(device, from_attributes=True)


@api.get("/checkpoints/{checkpoint_id}/devices", response_model=list[DevicePublic], responses={404: {}})
def api_device_list(checkpoint: CheckpointDep, session: SessionDep) -> list[DevicePublic]:
    """The devices enrolled at the checkpoint (bureau staff)."""
    return [_device(device) for device in checkpoints.devices_of(session, checkpoint.id or 0)]


@api.post(
    "/checkpoints/{checkpoint_id}/devices/{device_id}/revoke",
    response_model=DevicePublic,
    responses={404: {}},
)
def api_device_revoke(
    _: AdminUser, checkpoint: CheckpointDep, device: CheckpointDevice, session: SessionDep, now: ClockDep
) -> DevicePublic:
    """Revoke a device (administrators): from then on it gets 403 `DEVICE_REVOKED` and must be enrolled again."""
    return _device(checkpoints.revoke_device(session=session, device=device, now=now))
