"""The officers JSON API: a checkpoint's officers for the bureau, and for a device those of its own checkpoint
with their PIN hashes (the laptop checks PINs offline)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from server.checkpoints import service as checkpoints
from server.checkpoints.deps import AdminUser, CheckpointDep, CurrentDevice
from server.deps import ClockDep, SessionDep
from server.officers import service as officers
from server.officers.models import Officer
from server.officers.schemas import (
    DeviceOfficer,
    DeviceOfficerList,
    OfficerCreate,
    OfficerPin,
    OfficerPublic,
)

__all__ = ["api"]

api = APIRouter(prefix="/api/v1", tags=["officers"])

NO_STORE = {"Cache-Control": "no-store"}  # PIN hashes: not for any cache on the way
OfficerNumber = Annotated[str, Path(min_length=1, max_length=16)]


def _public(officer: Officer) -> OfficerPublic:
    return OfficerPublic.model_validate(officer, from_attributes=True)


@api.get("/officers", response_model=DeviceOfficerList, responses={401: {}, 403: {}})
def device_officers(
    response: Response, device: CurrentDevice, session: SessionDep, now: ClockDep
) -> DeviceOfficerList:
    """The officers of the calling device's checkpoint (devices only), deactivated ones included so that the
    laptop drops them, each with its PIN hash for signing in offline."""
    checkpoints.touch_device(session=session, device=device, now=now)
    response.headers.update(NO_STORE)
    return DeviceOfficerList(
        server_time=now,
        checkpoint_id=device.checkpoint_id,
        officers=[
            DeviceOfficer.model_validate(officer, from_attributes=True)
            for officer in officers.officers_of(session, device.checkpoint_id)
        ],
    )


@api.get("/checkpoints/{checkpoint_id}/officers", response_model=list[OfficerPublic], responses={404: {}})
def officer_list(checkpoint: CheckpointDep, session: SessionDep) -> list[OfficerPublic]:
    """The checkpoint's officers (bureau staff); PIN hashes are never shown."""
    return [_public(officer) for officer in officers.officers_of(session, checkpoint.id or 0)]


@api.post(
    "/checkpoints/{checkpoint_id}/officers",
    response_model=OfficerPublic,
    status_code=201,
    responses={404: {}, 409: {}},
)
def officer_create(
    body: OfficerCreate, _: AdminUser, checkpoint: CheckpointDep, session: SessionDep, now: ClockDep
) -> OfficerPublic:
    """Add an officer (administrators). 409 `OFFICER_EXISTS` for a number already used at the checkpoint."""
    officer = officers.add_officer(
        session=session, checkpoint=checkpoint, number=body.number, name=body.name, pin=body.pin, now=now
    )
    return _public(officer)


@api.post(
    "/checkpoints/{checkpoint_id}/officers/{number}/pin",
    response_model=OfficerPublic,
    responses={404: {}, 409: {}},
)
def officer_pin(
    body: OfficerPin,
    number: OfficerNumber,
    _: AdminUser,
    checkpoint: CheckpointDep,
    session: SessionDep,
    now: ClockDep,
) -> OfficerPublic:
    """Set a new PIN (administrators). 409 `OFFICER_INACTIVE` for a deactivated officer."""
    officer = officers.find_officer(session, checkpoint.id or 0, number)
    return _public(officers.reset_pin(session=session, officer=officer, pin=body.pin, now=now))


@api.post(
    "/checkpoints/{checkpoint_id}/officers/{number}/deactivate",
    response_model=OfficerPublic,
    responses={404: {}},
)
def officer_deactivate(
    number: OfficerNumber, _: AdminUser, checkpoint: CheckpointDep, session: SessionDep, now: ClockDep
) -> OfficerPublic:
    """Deactivate an officer (administrators): laptops refuse their sign-in from their next sync on."""
    officer = officers.find_officer(session, checkpoint.id or 0, number)
    return _public(officers.deactivate(session=session, officer=officer, now=now))


@api.post(
    "/checkpoints/{checkpoint_id}/officers/{number}/activate",
    response_model=OfficerPublic,
    responses={404: {}},
)
def officer_activate(
    number: OfficerNumber, _: AdminUser, checkpoint: CheckpointDep, session: SessionDep, now: ClockDep
) -> OfficerPublic:
    """Undo a deactivation (administrators): the officer's PIN set before works again from the laptops' next sync."""
    officer = officers.find_officer(session, checkpoint.id or 0, number)
    return _public(officers.activate(session=session, officer=officer, now=now))
