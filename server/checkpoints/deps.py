"""Lookups shared by the checkpoint routes: the device behind a token, checkpoints and devices by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from server.accounts.models import ROLE_ADMIN, User
from server.checkpoints.models import Checkpoint, Device
from server.deps import PrincipalDep, SessionDep, require, require_bureau
from server.errors import Forbidden, NotFound, Unauthorized

__all__ = [
    "AdminUser",
    "BureauUser",
    "CheckpointDep",
    "CheckpointDevice",
    "CurrentDevice",
    "get_checkpoint",
    "get_checkpoint_device",
    "get_current_device",
]

CheckpointId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # beyond a 32-bit key PostgreSQL would fail, not 404
BureauUser = Annotated[User, Depends(require_bureau)]
AdminUser = Annotated[User, Depends(require(ROLE_ADMIN))]


def get_current_device(principal: PrincipalDep, session: SessionDep) -> Device:
    """The enrolled device whose bearer token came with the request.

    401 without any credential; 403 for a person's credential (devices only) or a revoked device, so that a
    revoked device knows to re-enrol rather than to retry.
    """
    if principal.device_id is None:
        if principal.user is not None:
            raise Forbidden("only an enrolled checkpoint device may do this", code="DEVICE_ONLY")
        raise Unauthorized(
            "send the device's token as `Authorization: Bearer …`", code="DEVICE_TOKEN_REQUIRED"
        )
    device = session.get(Device, principal.device_id)
    if device is None:
        raise Unauthorized("unknown device", code="TOKEN_INVALID")
    if device.revoked_at is not None:
        raise Forbidden("this device has been revoked; enrol it again", code="DEVICE_REVOKED")
    checkpoint = session.get(Checkpoint, device.checkpoint_id)
    if checkpoint is None or not checkpoint.active:
        raise Forbidden("this device's checkpoint is closed", code="CHECKPOINT_INACTIVE")
    return device


CurrentDevice = Annotated[Device, Depends(get_current_device)]


def get_checkpoint(checkpoint_id: CheckpointId, _: BureauUser, session: SessionDep) -> Checkpoint:
    """A checkpoint by id for bureau staff (the role is checked first: others get 403, never a 404 probe)."""
    checkpoint = session.get(Checkpoint, checkpoint_id)
    if checkpoint is None:
        raise NotFound("no such checkpoint", code="CHECKPOINT_NOT_FOUND")
    return checkpoint


CheckpointDep = Annotated[Checkpoint, Depends(get_checkpoint)]


def get_checkpoint_device(
    device_id: Annotated[str, Path(max_length=64)], checkpoint: CheckpointDep, session: SessionDep
) -> Device:
    """A device of the checkpoint named in the path (a device of another checkpoint is not found here)."""
    device = session.get(Device, device_id)
    if device is None or device.checkpoint_id != checkpoint.id:
        raise NotFound("no such device at this checkpoint", code="DEVICE_NOT_FOUND")
    return device


CheckpointDevice = Annotated[Device, Depends(get_checkpoint_device)]
