"""HTTP routes of the alerts: the bureau's alert pages and their JSON API, and a device's chain check.

Every route is for bureau staff; acknowledging and closing is for auditors and administrators.
The ``web`` router also carries the periodic audit (``server.retention.schedule``) into the serving app.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from passcore import reasons
from server.alerts import actions, chains
from server.alerts.models import ALERT_STATUSES, Alert
from server.alerts.replay import replay_crossing
from server.alerts.rules import KINDS
from server.checkpoints.models import Checkpoint, Device
from server.crossings.models import Crossing
from server.deps import ClockDep, CurrentUser, PrincipalDep, SessionDep, require_bureau
from server.errors import AppError, NotFound
from server.retention import schedule
from server.web.pages import lang_of, page

web = APIRouter(
    prefix="/audit",
    include_in_schema=False,
    dependencies=[Depends(require_bureau)],
    lifespan=schedule.lifespan,
)
api = APIRouter(prefix="/api/v1/audit", tags=["alerts"], dependencies=[Depends(require_bureau)])

AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Before = Annotated[
    int | None, Query(ge=1, le=2**31 - 1, description="id of the last alert of the previous page")
]
StatusFilter = Annotated[str | None, Query(max_length=20, description="open, acknowledged or closed")]
KindFilter = Annotated[str | None, Query(max_length=40, description="an alert kind, e.g. cloned_pass")]


def _alert(alert_id: AlertId, session: SessionDep) -> Alert:
    return actions.get_alert(session, alert_id)


AlertDep = Annotated[Alert, Depends(_alert)]


# ---- JSON API ----------------------------------------------------------------------------------------------------


class AlertPublic(BaseModel):
    id: int
    kind: str
    status: Literal["open", "acknowledged", "closed"]
    crossing_id: str | None
    device_id: str | None
    pass_id: str | None
    checkpoint_id: int | None
    checkpoint: str | None = Field(description="the checkpoint's name")
    occurred_at: datetime
    created_at: datetime
    detail: dict[str, Any] = Field(description="codes and numbers that explain the finding")
    acted_by: str | None = Field(description="who acted last")
    acted_at: datetime | None
    note: str


class AlertPage(BaseModel):
    alerts: list[AlertPublic]
    next_before: int | None = Field(description="pass as `before` for the next page; null on the last")
    counts: dict[str, int] = Field(description="alerts per status")


class AlertAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000, description="why (required to close)")


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


def _row(session: SessionDep, alert: Alert) -> actions.AlertRow:
    return actions.row_of(session, alert)


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
    return _public(_row(session, alert))


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
    return _public(_row(session, alert))


@api.get("/devices/{device_id}/chain", responses={404: {}})
def device_chain(device_id: Annotated[str, Path(max_length=64)], session: SessionDep) -> dict[str, Any]:
    """Verify one device's hash chain from its first record; reports the first bad record, if any."""
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound("no such device", code="DEVICE_NOT_FOUND")
    return chains.verify_device(session, device).to_dict()


# ---- portal pages ------------------------------------------------------------------------------------------------


def _words(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    """Reason codes and outcomes in the reader's language (passcore keeps the words of both)."""
    lang = lang_of(request, principal)
    return {
        "reasons_text": lambda codes: "；".join(reasons.describe(code, lang) for code in codes),
        "outcome_words": lambda outcome: reasons.outcome_words(outcome, lang) if outcome else "",
    }


@web.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    status: StatusFilter = None,
    kind: KindFilter = None,
    before: Before = None,
) -> Response:
    selected = status if status in ALERT_STATUSES else ""
    kind = kind if kind in KINDS else ""
    rows, next_before = actions.list_alerts(
        session, status=selected or None, kind=kind or None, before=before
    )
    return page(
        request,
        "alerts/list.html",
        principal,
        rows=rows,
        next_before=next_before,
        counts=actions.counts(session),
        statuses=ALERT_STATUSES,
        kinds=KINDS,
        selected=selected,
        kind=kind,
        **_words(request, principal),
    )


def _detail_page(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    alert: Alert,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    crossing = session.get(Crossing, alert.crossing_id) if alert.crossing_id else None
    device = session.get(Device, alert.device_id) if alert.device_id else None
    return page(
        request,
        "alerts/detail.html",
        principal,
        status=status,
        row=_row(session, alert),
        crossing=crossing,
        replay=replay_crossing(session, crossing) if crossing else None,
        device=device,
        checkpoint=session.get(Checkpoint, alert.checkpoint_id) if alert.checkpoint_id else None,
        events=actions.events_of(session, alert.id or 0),
        may_act=actions.can_act(principal.user),
        **_words(request, principal),
        **context,
    )


@web.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request,
    alert: AlertDep,
    principal: PrincipalDep,
    session: SessionDep,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return _detail_page(request, principal, session, alert, done=done if done in actions.ACTIONS else "")


@web.post("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_action(
    request: Request,
    alert: AlertDep,
    user: CurrentUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    action: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        actions.act(session=session, alert=alert, action=action, user=user, note=note, now=now)
    except AppError as err:
        session.rollback()
        alert = actions.get_alert(session, alert.id or 0)
        return _detail_page(
            request,
            principal,
            session,
            alert,
            status=err.status,
            errors=err.fields,
            failure=err.code,
            note=note,
        )
    return RedirectResponse(f"/audit/alerts/{alert.id}?done={action}", status_code=303)
