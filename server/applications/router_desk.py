"""The review desk's own steps (issue 13): claim and release, internal notes, return for correction, the next
application in the reviewer's queue, bulk approval of low-risk applications with one confirmation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from server.accounts.models import BUREAU_ROLES, User
from server.applications import bulk, desk, desk_queue, service
from server.applications.deps import ApplicationId, expired_first
from server.applications.desk_view import filters_of_back
from server.applications.rendering import detail_page, helpers, recover
from server.deps import ClockDep, CurrentUser, Principal, PrincipalDep, SessionDep, SettingsDep, require
from server.errors import AppError
from server.web.i18n import catalog
from server.web.templating import page

__all__ = ["desk_routes"]

desk_routes = APIRouter(
    prefix="/review",
    include_in_schema=False,
    dependencies=[Depends(require(*BUREAU_ROLES)), Depends(expired_first)],
)
Back = Annotated[str, Form(max_length=1000)]


def _to(application_id: int, notice: str, back: str) -> RedirectResponse:
    query = urlencode({"notice": notice, "back": back[:1000]})
    return RedirectResponse(f"/review/applications/{application_id}?{query}", status_code=303)


def _refused(
    request: Request,
    principal: Principal,
    session: Session,
    user: User,
    application_id: int,
    now: datetime,
    err: AppError,
    **kept: str,
) -> Response:
    recover(session, principal)
    application = service.get_visible(session=session, application_id=application_id, user=user)
    return detail_page(request, principal, session, user, application, now=now, err=err, **kept)


@desk_routes.post("/applications/{application_id}/claim", response_class=HTMLResponse)
def claim_application(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    back: Back = "",
    take_over: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    try:
        desk.claim(
            session=session,
            user=user,
            application_id=application_id,
            minutes=settings.review_claim_minutes,
            now=now,
            take_over=take_over == "yes",
        )
    except AppError as err:
        return _refused(request, principal, session, user, application_id, now, err)
    return _to(application_id, "claimed", back)


@desk_routes.post("/applications/{application_id}/release", response_class=HTMLResponse)
def release_application(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    back: Back = "",
) -> Response:
    try:
        desk.release(session=session, user=user, application_id=application_id)
    except AppError as err:
        return _refused(request, principal, session, user, application_id, now, err)
    return _to(application_id, "released", back)


@desk_routes.post("/applications/{application_id}/notes", response_class=HTMLResponse)
def add_note(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    note: Annotated[str, Form(max_length=5000)] = "",
    back: Back = "",
) -> Response:
    try:
        desk.add_note(session=session, user=user, application_id=application_id, text=note, now=now)
    except AppError as err:
        return _refused(request, principal, session, user, application_id, now, err, note=note)
    return _to(application_id, "noted", back)


@desk_routes.post("/applications/{application_id}/return", response_class=HTMLResponse)
def return_application(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    fix: Annotated[str, Form(max_length=5000)] = "",
    back: Back = "",
) -> Response:
    try:
        desk.return_for_correction(
            session=session, reviewer=user, application_id=application_id, fix=fix, now=now
        )
    except AppError as err:
        return _refused(request, principal, session, user, application_id, now, err, fix=fix)
    return _to(application_id, "returned", back)


@desk_routes.get("/next")
def next_application(
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    back: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    """The next application in the queue the reviewer came from (its order and filters); the queue when none is
    left."""
    filters = filters_of_back(back)
    found = desk_queue.next_id(session=session, filters=filters, user=user, now=now, after=after)
    if found is None:
        return RedirectResponse(f"/review/queue?{filters.query(page=1)}&notice=none_left", status_code=303)
    return RedirectResponse(
        f"/review/applications/{found}?" + urlencode({"back": filters.query()}), status_code=303
    )


@desk_routes.post("/bulk", response_class=HTMLResponse)
def bulk_approval(
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    ids: Annotated[list[int] | None, Form()] = None,
    confirm: Annotated[str, Form(max_length=10)] = "",
    back: Back = "",
) -> Response:
    """Selected applications: first a confirmation page (what will be approved, what cannot be and why), then,
    confirmed, each approved through service.approve and a page of what was approved and what was refused."""
    chosen = list(dict.fromkeys(i for i in (ids or []) if 0 < i < 2**31))[: bulk.MAX_BULK]
    context: dict[str, Any]
    if confirm == "yes":
        outcome = bulk.approve_all(session=session, reviewer=user, ids=chosen, settings=settings, now=now)
        recover(session, principal)
        template, context = "applications/bulk_done.html", {"outcome": outcome}
    else:
        plan = bulk.plan(session=session, reviewer=user, ids=chosen, now=now)
        template, context = "applications/bulk_confirm.html", {"plan": plan}
    return page(
        request,
        template,
        principal,
        back=filters_of_back(back).query(),
        known_reasons={key for key in catalog() if key.startswith("desk.why.")},
        **context,
        **helpers(request, principal),
    )
