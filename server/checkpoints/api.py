"""The checkpoints JSON API: device enrolment, and checkpoints, enrolment codes and devices for the bureau."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from passcore import ids
from server.checkpoints import service as checkpoints
from server.checkpoints import traffic
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
from server.deps import ClockDep, SessionDep, SettingsDep
from server.keyring import service as keyring

__all__ = ["api"]

api = APIRouter(prefix="/api/v1", tags=["checkpoints"])

NO_STORE = {"Cache-Control": "no-store"}  # responses carrying a secret shown once


@api.get("/checkpoints/status")
def checkpoint_status(session: SessionDep, response: Response) -> dict[str, list[dict[str, str | None]]]:
    """Every active checkpoint's traffic state (open, closed, green), for anyone: no credentials needed."""
    response.headers.update(traffic.PUBLIC_CACHE)
    return {
        "checkpoints": [
            {
                "name": row.name,
                "region": row.region,
                "location": row.location,
                "state": row.state,
                "note": row.note,
                "changed_at": row.changed_at.isoformat() if row.changed_at else None,
            }
            for row in traffic.public_list(session)
        ]
    }


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


@api.post(
    "/devices/enroll", response_model=EnrolResponse, status_code=201, responses={404: {}, 409: {}, 410: {}}
)
def enrol(
    body: EnrolRequest,
    request: Request,
    response: Response,
    session: SessionDep,
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
        root_public_key=keyring.root_public(session).pem,
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
