"""HTTP routes of the crossings domain: crossing ingest and escort requests (JSON API for devices) and the
escort pages of the portal (the enterprise answers; the bureau watches)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from server.alerts import service as alerts
from server.checkpoints import service as checkpoints
from server.checkpoints.deps import BureauUser, CurrentDevice
from server.crossings import escorts
from server.crossings import service as crossings
from server.crossings.deps import CheckpointEscort, EnterpriseUser, OwnedEscort, limit_body
from server.crossings.models import EscortRequest
from server.crossings.schemas import (
    CrossingBatch,
    EscortEnterprise,
    EscortList,
    EscortPublic,
    HandoverRequest,
    IngestResponse,
    Moment,
    RecordResult,
)
from server.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep
from server.enterprises.models import Enterprise
from server.errors import AppError
from server.policy import service as policy_service
from server.web.pages import page

web = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["crossings"])
ESCORT_PAGE = 500  # escort requests per answer to a checkpoint; `more` says another page follows


# ---- JSON API for checkpoint devices -------------------------------------------------------------------------


@api.post(
    "/crossings",
    response_model=IngestResponse,
    dependencies=[Depends(limit_body)],
    responses={401: {}, 403: {}, 413: {}},
)
def ingest(
    body: CrossingBatch, device: CurrentDevice, session: SessionDep, settings: SettingsDep, now: ClockDep
) -> IngestResponse:
    """Upload up to 500 crossing records (device token). Idempotent: send a batch again as often as needed.

    Each record is answered in `results` (same order): `accepted`, `duplicate` (already stored, identical),
    `conflict` (id or seq already taken by other content: refused and flagged for the audit) or `invalid`
    (`code` says why, e.g. `SCHEMA_INVALID`, `HASH_MISMATCH`). The checkpoint is the device's, never the body's.
    """
    limits = alerts.Limits.of(settings)
    outcomes = crossings.ingest(session=session, device=device, records=body.records, now=now, limits=limits)
    counts = {
        status: 0
        for status in (crossings.ACCEPTED, crossings.DUPLICATE, crossings.CONFLICT, crossings.INVALID)
    }
    for outcome in outcomes:
        counts[outcome.status] += 1
    return IngestResponse(
        **counts,
        results=[RecordResult.model_validate(outcome, from_attributes=True) for outcome in outcomes],
    )


def _escort_public(escort: EscortRequest, enterprise: Enterprise | None) -> EscortPublic:
    return EscortPublic(
        id=escort.id or 0,
        crossing_id=escort.crossing_id,
        checkpoint_id=escort.checkpoint_id,
        plate=escort.plate,
        status=escort.status,  # type: ignore[arg-type]
        requested_at=escort.requested_at,
        enterprise=EscortEnterprise(uscc=enterprise.uscc, name=enterprise.name, phone=enterprise.phone)
        if enterprise
        else None,
        staff_name=escort.staff_name,
        staff_phone=escort.staff_phone,
        eta=escort.eta,
        answered_at=escort.answered_at,
        handed_over_at=escort.handed_over_at,
    )


@api.get("/escorts", response_model=EscortList, responses={401: {}, 403: {}})
def device_escorts(
    device: CurrentDevice,
    session: SessionDep,
    now: ClockDep,
    since: Annotated[Moment | None, Query(description="server_time of the previous answer")] = None,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="the last id of the previous page, when it said `more`")
    ] = 0,
) -> EscortList:
    """Escort requests of the device's checkpoint with the enterprises' answers: those changed since `since`,
    or without it every request not yet handed over; in pages of up to 500, in id order."""
    checkpoints.touch_device(session=session, device=device, now=now)
    rows = escorts.for_checkpoint(session, device.checkpoint_id, since, after=after, limit=ESCORT_PAGE + 1)
    return EscortList(
        server_time=now,
        escorts=[_escort_public(e, enterprise) for e, enterprise in rows[:ESCORT_PAGE]],
        more=len(rows) > ESCORT_PAGE,
    )


@api.post(
    "/escorts/{escort_id}/handover",
    response_model=EscortPublic,
    responses={401: {}, 403: {}, 404: {}, 409: {}},
)
def handover(
    body: HandoverRequest, escort: CheckpointEscort, session: SessionDep, now: ClockDep
) -> EscortPublic:
    """Record the hand-over of the vehicle to the enterprise's staff (a device of the request's checkpoint)."""
    escort = escorts.hand_over(session=session, escort=escort, at=body.at, now=now)
    enterprise = session.get(Enterprise, escort.enterprise_uscc) if escort.enterprise_uscc else None
    return _escort_public(escort, enterprise)


# ---- portal pages ------------------------------------------------------------------------------------------------


def _timing(session: SessionDep, now: datetime) -> dict[str, Any]:
    """What every escort page needs to show waiting times against the policy's limit."""
    return {"now": now, "waited": lambda e: escorts.waited_minutes(e, now), "limit": _wait_limit(session)}


def _wait_limit(session: SessionDep) -> int:
    return policy_service.current(session).escort_wait_limit_minutes


@web.get("/enterprise/escorts", response_class=HTMLResponse)
def enterprise_escorts(
    request: Request,
    user: EnterpriseUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    answered: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    rows = escorts.for_enterprise(session, user.enterprise_uscc or "")
    return page(
        request,
        "escorts/enterprise_list.html",
        principal,
        rows=rows,
        answered=answered,
        **_timing(session, now),
    )


def _answer_page(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    escort: EscortRequest,
    now: datetime,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    failure: str = "",
) -> Response:
    zone = ZoneInfo(settings.timezone)
    default_eta = (escort.eta or now + timedelta(hours=1)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    form = form or {"staff_name": escort.staff_name, "staff_phone": escort.staff_phone, "eta": default_eta}
    return page(
        request,
        "escorts/enterprise_detail.html",
        principal,
        status=status,
        escort=escort,
        checkpoint=escorts.checkpoint_of(session, escort),
        occupants=escorts.occupant_names(session, escort),
        form=form,
        errors=errors or {},
        failure=failure,
        **_timing(session, now),
    )


@web.get("/enterprise/escorts/{escort_id}", response_class=HTMLResponse)
def enterprise_escort(
    request: Request,
    escort: OwnedEscort,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
) -> Response:
    return _answer_page(request, principal, session, settings, escort, now)


@web.post("/enterprise/escorts/{escort_id}", response_class=HTMLResponse)
def enterprise_escort_answer(
    request: Request,
    escort: OwnedEscort,
    user: EnterpriseUser,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    staff_name: Annotated[str, Form(max_length=200)] = "",
    staff_phone: Annotated[str, Form(max_length=60)] = "",
    eta: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    form = {"staff_name": staff_name, "staff_phone": staff_phone, "eta": eta}
    try:
        escorts.answer(
            session=session,
            escort=escort,
            user=user,
            staff_name=staff_name,
            staff_phone=staff_phone,
            eta=eta,
            timezone=settings.timezone,
            now=now,
        )
    except AppError as err:
        session.rollback()
        return _answer_page(
            request,
            principal,
            session,
            settings,
            escort,
            now,
            status=err.status,
            form=form,
            errors=err.fields,
            failure=err.code,
        )
    return RedirectResponse(f"/enterprise/escorts?answered={escort.id}", status_code=303)


@web.get("/review/escorts", response_class=HTMLResponse)
def bureau_escorts(
    request: Request,
    _: BureauUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    rows = escorts.bureau_list(session, status)
    return page(
        request,
        "escorts/bureau_list.html",
        principal,
        rows=rows,
        selected=status if status in escorts.STATUSES else "",
        statuses=escorts.STATUSES,
        **_timing(session, now),
    )
