"""The alerts JSON API for bureau staff, and a device's chain check.

Acknowledging and closing is for auditors and administrators.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from server.alerts import actions, chains
from server.alerts.deps import AlertDep, Before, KindFilter, StatusFilter
from server.alerts.schemas import AlertAction, AlertPage, AlertPublic
from server.checkpoints.models import Device
from server.deps import ClockDep, CurrentUser, SessionDep, require_bureau
from server.errors import NotFound

__all__ = ["api"]

api = APIRouter(prefix="/api/v1/audit", tags=["alerts"], dependencies=[Depends(require_bureau)])


def _public(row: actions.AlertRow) -> AlertPublic:
    alert = row.alert
    return AlertPublic(
        id=alert.id or 0,
        kind=alert.kind,
        status=alert.status,  # type: ignore[arg-type]
        crossing_id=alert.crossing_id,
        device_id=alert.device_id,
        pass_id=alert.pass_id,
        checkpoint_id=alert.checkpoint_id,
        checkpoint=row.checkpoint,
        occurred_at=alert.occurred_at,
        created_at=alert.created_at,
        detail=row.detail,
        acted_by=row.actor,
        acted_at=alert.acted_at,
        note=alert.note,
    )


@api.get("/alerts", response_model=AlertPage)
def list_alerts(
    session: SessionDep,
    status: StatusFilter = None,
    kind: KindFilter = None,
    before: Before = None,
    limit: Annotated[int, Query(ge=1, le=200)] = actions.PAGE,
) -> AlertPage:
    """Alerts, newest first, optionally of one status and kind (bureau staff)."""
    rows, next_before = actions.list_alerts(session, status=status, kind=kind, before=before, limit=limit)
    return AlertPage(
        alerts=[_public(r) for r in rows], next_before=next_before, counts=actions.counts(session)
    )


@api.get("/alerts/{alert_id}", response_model=AlertPublic, responses={404: {}})
def get_alert(alert: AlertDep, session: SessionDep) -> AlertPublic:
    return _public(actions.row_of(session, alert))


@api.post("/alerts/{alert_id}/{action}", response_model=AlertPublic, responses={403: {}, 404: {}, 409: {}})
def act_on_alert(
    alert: AlertDep,
    action: Literal["acknowledge", "close"],
    body: AlertAction,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
) -> AlertPublic:
    """Acknowledge (from open) or close (from open or acknowledged, with a note): auditors and administrators."""
    alert = actions.act(session=session, alert=alert, action=action, user=user, note=body.note, now=now)
    return _public(actions.row_of(session, alert))


@api.get("/devices/{device_id}/chain", responses={404: {}})
def device_chain(device_id: Annotated[str, Path(max_length=64)], session: SessionDep) -> dict[str, Any]:
    """Verify one device's hash chain from its first record; reports the first bad record, if any."""
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound("no such device", code="DEVICE_NOT_FOUND")
    return chains.verify_device(session, device).to_dict()
