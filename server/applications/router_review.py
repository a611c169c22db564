"""The bureau's application pages: the review queue (paged, sorted, filtered, searched: server/applications/desk_queue.py),
the review and decision (approval confirmed first). The desk's other steps are in router_desk."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from server.accounts.models import BUREAU_ROLES, User
from server.applications import desk_queue, service
from server.applications.deps import ApplicationId, expired_first
from server.applications.desk_queue import QUEUE_STATUSES
from server.applications.desk_view import filters_from
from server.applications.rendering import detail_page, helpers, recover
from server.deps import ClockDep, CurrentUser, Principal, PrincipalDep, SessionDep, SettingsDep, require
from server.errors import AppError, BadRequest
from server.web.templating import page
from server.workdays import local_day

__all__ = ["bureau"]

bureau = APIRouter(
    prefix="/review",
    include_in_schema=False,
    dependencies=[Depends(require(*BUREAU_ROLES)), Depends(expired_first)],
)


@bureau.get("/queue", response_class=HTMLResponse)
def review_queue(
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    partial: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    """The queue as its URL asks (desk_view.filters_from); ``partial=1``: only the list, for live refresh."""
    filters = filters_from(request.query_params)
    found = desk_queue.find(
        session=session, filters=filters, user=user, now=now, size=settings.review_page_size
    )
    return page(
        request,
        "applications/_queue_list.html" if partial else "applications/queue.html",
        principal,
        filters=filters,
        found=found,
        statuses=QUEUE_STATUSES,
        today=local_day(now),
        may_bulk=user.role in service.REVIEW_ROLES,
        **helpers(request, principal),
    )


@bureau.get("/applications/{application_id}", response_class=HTMLResponse)
def review_application(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    application = service.get_visible(session=session, application_id=application_id, user=user)
    return detail_page(request, principal, session, user, application, now=now)


def _refused(
    request: Request,
    principal: Principal,
    session: Session,
    user: User,
    application_id: ApplicationId,
    now: datetime,
    err: AppError,
    reason: str = "",
) -> Response:
    recover(session, principal)
    application = service.get_visible(session=session, application_id=application_id, user=user)
    return detail_page(request, principal, session, user, application, now=now, err=err, reason=reason)


@bureau.post("/applications/{application_id}/approve", response_class=HTMLResponse)
def approve_application(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    confirm: Annotated[str, Form(max_length=10)] = "",
    back: Annotated[str, Form(max_length=1000)] = "",
    # Revoke the plate's overlapping live pass (applications/_replace_choice.html).
    replace: Annotated[bool, Form()] = False,
) -> Response:
    # Approval issues a pass at once: it is confirmed first (a <dialog> in the browser, else this step).
    if confirm != "yes" and user.role in service.REVIEW_ROLES:  # others are refused by the approval itself
        err = BadRequest(
            "confirm the approval", code="CONFIRM_REQUIRED", fields={"confirm": "confirm_required"}
        )
        return _refused(request, principal, session, user, application_id, now, err)
    try:
        service.approve(
            session=session,
            reviewer=user,
            application_id=application_id,
            settings=settings,
            now=now,
            replace=replace,
        )
    except AppError as err:
        return _refused(request, principal, session, user, application_id, now, err)
    return RedirectResponse(_decided(application_id, "issued", back), status_code=303)


def _decided(application_id: int, notice: str, back: str) -> str:
    """The decided application's page with its notice and the queue it came from (for 'next application')."""
    return f"/review/applications/{application_id}?" + urlencode({"notice": notice, "back": back[:1000]})


@bureau.post("/applications/{application_id}/reject", response_class=HTMLResponse)
def reject_application(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    reason: Annotated[str, Form(max_length=5000)] = "",
    back: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    try:
        service.reject(session=session, reviewer=user, application_id=application_id, reason=reason, now=now)
    except AppError as err:
        return _refused(request, principal, session, user, application_id, now, err, reason)
    return RedirectResponse(_decided(application_id, "rejected", back), status_code=303)
