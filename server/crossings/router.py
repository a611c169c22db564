"""The escort pages of the portal: the enterprise answers a checkpoint's escort request; the bureau watches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from server.checkpoints.deps import BureauUser
from server.crossings import escorts
from server.crossings.deps import EnterpriseUser, OwnedEscort
from server.crossings.models import EscortRequest
from server.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep
from server.enterprises import service as enterprises
from server.errors import AppError
from server.policy import service as policy_service
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)
# Escort requests are time-critical (不滞留): the lists refresh themselves (static/live.js) from ?partial=1.
LIVE_SECONDS = 15


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
    partial: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    since = enterprises.visible_since(session, user.enterprise_uscc)
    rows = escorts.for_enterprise(session, user.enterprise_uscc or "", since)
    return page(
        request,
        "escorts/_enterprise_rows.html" if partial else "escorts/enterprise_list.html",
        principal,
        rows=rows,
        answered=answered,
        live_seconds=LIVE_SECONDS,
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
    partial: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    rows = escorts.bureau_list(session, status)
    return page(
        request,
        "escorts/_bureau_rows.html" if partial else "escorts/bureau_list.html",
        principal,
        rows=rows,
        live_seconds=LIVE_SECONDS,
        selected=status if status in escorts.STATUSES else "",
        statuses=escorts.STATUSES,
        **_timing(session, now),
    )
