"""Lookups shared by the crossing and escort routes: ownership by enterprise and by checkpoint."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from server.accounts.models import ROLE_ENTERPRISE, User
from server.checkpoints.deps import CurrentDevice
from server.crossings.models import EscortRequest
from server.deps import SessionDep, require
from server.enterprises import service as enterprises
from server.errors import NotFound

__all__ = [
    "CheckpointEscort",
    "EnterpriseUser",
    "EscortId",
    "OwnedEscort",
]

EnterpriseUser = Annotated[User, Depends(require(ROLE_ENTERPRISE))]
EscortId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def get_owned_escort(escort_id: EscortId, user: EnterpriseUser, session: SessionDep) -> EscortRequest:
    """An escort request of the signed-in user's enterprise made since its verification; another enterprise's,
    or one from before, answers 404 like a missing one."""
    escort = session.get(EscortRequest, escort_id)
    since = enterprises.visible_since(session, user.enterprise_uscc)
    if (
        escort is None
        or since is None
        or escort.enterprise_uscc is None
        or escort.enterprise_uscc != user.enterprise_uscc
        or escort.requested_at < since
    ):
        raise NotFound("no such escort request", code="ESCORT_NOT_FOUND")
    return escort


OwnedEscort = Annotated[EscortRequest, Depends(get_owned_escort)]


def get_checkpoint_escort(escort_id: EscortId, device: CurrentDevice, session: SessionDep) -> EscortRequest:
    """An escort request of the calling device's own checkpoint; another checkpoint's answers 404."""
    escort = session.get(EscortRequest, escort_id)
    if escort is None or escort.checkpoint_id != device.checkpoint_id:
        raise NotFound("no such escort request at this checkpoint", code="ESCORT_NOT_FOUND")
    return escort


CheckpointEscort = Annotated[EscortRequest, Depends(get_checkpoint_escort)]
