"""The enterprise's own work on its applications, as portal pages: copy, renew, amend, withdraw, delete a draft
(the use cases are in ``enterprise_work``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.accounts.models import ROLE_ENTERPRISE
from server.applications import enterprise_work, service
from server.applications.deps import ApplicationId, expired_first
from server.applications.rendering import detail_page, recover
from server.deps import ClockDep, CurrentUser, PrincipalDep, SessionDep, require
from server.errors import AppError

__all__ = ["work"]

work = APIRouter(
    prefix="/enterprise/applications",
    include_in_schema=False,
    dependencies=[Depends(require(ROLE_ENTERPRISE)), Depends(expired_first)],
)


def _failed(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    user: CurrentUser,
    application_id: int,
    err: AppError,
    now: ClockDep,
) -> Response:
    """The application's page with what went wrong (or the error page when it is not the user's to see)."""
    recover(session, principal)
    application = service.get_visible(session=session, application_id=application_id, user=user)
    return detail_page(request, principal, session, user, application, now=now, err=err)


def _derive(
    application_id: int,
    kind: str,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    try:
        draft = enterprise_work.derive(
            session=session, user=user, application_id=application_id, kind=kind, now=now
        )
    except AppError as err:
        if err.status == 404:
            raise
        return _failed(request, principal, session, user, application_id, err, now)
    return RedirectResponse(f"/enterprise/applications/{draft.id}/edit", status_code=303)


# Three routes, not one with the kind in the path: that would take every other POST /{id}/<word>.
@work.post("/{application_id}/copy", response_class=HTMLResponse)
def copy_application(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    return _derive(application_id, enterprise_work.COPY, request, principal, user, session, now)


@work.post("/{application_id}/renew", response_class=HTMLResponse)
def renew_pass(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    return _derive(application_id, enterprise_work.RENEW, request, principal, user, session, now)


@work.post("/{application_id}/amend", response_class=HTMLResponse)
def amend_pass(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    return _derive(application_id, enterprise_work.AMEND, request, principal, user, session, now)


@work.post("/{application_id}/withdraw", response_class=HTMLResponse)
def withdraw(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        enterprise_work.withdraw(
            session=session, user=user, application_id=application_id, reason=reason, now=now
        )
    except AppError as err:
        if err.status == 404:
            raise
        return _failed(request, principal, session, user, application_id, err, now)
    return RedirectResponse(f"/enterprise/applications/{application_id}?notice=withdrawn", status_code=303)


@work.post("/{application_id}/delete", response_class=HTMLResponse)
def delete_draft(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    try:
        enterprise_work.delete_draft(session=session, user=user, application_id=application_id)
    except AppError as err:
        if err.status == 404:
            raise
        return _failed(request, principal, session, user, application_id, err, now)
    return RedirectResponse("/enterprise/applications?notice=deleted", status_code=303)
