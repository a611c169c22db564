"""The bureau's application pages: the review queue (oldest first, overdue marked), search, the review and decision."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from server.accounts.models import BUREAU_ROLES, User
from server.applications import queries, service
from server.applications.deps import ApplicationId, expired_first
from server.applications.rendering import detail_page, helpers, recover
from server.deps import ClockDep, CurrentUser, Principal, PrincipalDep, SessionDep, SettingsDep, require
from server.errors import AppError
from server.web.templating import page

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
    now: ClockDep,
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    rows, policy = queries.queue(session=session, now=now)
    return page(
        request,
        "applications/queue.html",
        principal,
        rows=rows,
        overdue=sum(r.overdue for r in rows),
        hours=policy.review_answer_hours,
        q=q,
        results=queries.search(session=session, text=q) if q.strip() else None,
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
    replace: Annotated[bool, Form()] = False,  # revoke the plate's overlapping live pass (_replace_choice.html)
) -> Response:
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
    return RedirectResponse(f"/review/applications/{application_id}?notice=issued", status_code=303)


@bureau.post("/applications/{application_id}/reject", response_class=HTMLResponse)
def reject_application(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    try:
        service.reject(session=session, reviewer=user, application_id=application_id, reason=reason, now=now)
    except AppError as err:
        return _refused(request, principal, session, user, application_id, now, err, reason)
    return RedirectResponse(f"/review/applications/{application_id}?notice=rejected", status_code=303)
