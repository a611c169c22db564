"""Portal pages of the application workflow: the enterprise's apply form, list and detail (the bureau's are in
``review_pages``), and what both share."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from passcore import ids
from server.accounts.models import ROLE_ENTERPRISE, User
from server.applications import queries, service
from server.applications.forms import COLOURS, ApplicationForm, form_errors
from server.applications.models import DRAFT, SUBMITTED, Application
from server.config import Settings
from server.deps import ClockDep, CurrentUser, Principal, PrincipalDep, SessionDep, SettingsDep, require
from server.enterprises.models import Enterprise
from server.errors import AppError, Conflict
from server.passes.models import IssuedPass
from server.policy import service as policy_service
from server.web.i18n import catalog, translate
from server.web.pages import lang_of, page

__all__ = ["ApplicationId", "clerk", "detail_page", "expired_first", "helpers", "recover"]


def expired_first(user: CurrentUser, session: SessionDep, now: ClockDep) -> None:
    """Bring run-out passes' applications to expired before anything is shown (signed-in users only)."""
    service.expire_due(session=session, now=now)


clerk = APIRouter(
    prefix="/enterprise/applications",
    include_in_schema=False,
    dependencies=[Depends(require(ROLE_ENTERPRISE)), Depends(expired_first)],
)

NOTICES = ("saved", "submitted", "issued", "rejected")
ApplicationId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # the database's integer range
_Text = Annotated[str, Form(max_length=500)]


def helpers(request: Request, principal: Principal, err: AppError | None = None) -> dict[str, Any]:
    lang = lang_of(request, principal)

    def duration(span: timedelta) -> str:
        minutes = max(int(span.total_seconds() // 60), 0)
        days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
        if days:
            return translate("apps.duration.days", lang, d=days, h=hours)
        return translate("apps.duration.hours", lang, h=hours, m=minutes)

    failure = None
    if err is not None:
        key = f"apps.error.{err.code}"
        failure = translate(key, lang) if key in catalog() else err.detail
    notice = request.query_params.get("notice")
    return {
        "mask": ids.mask_id,
        "colours": COLOURS,
        "duration": duration,
        "failure": failure,
        "notice": notice if notice in NOTICES else None,
    }


def recover(session: Session, principal: Principal) -> None:
    """Undo a failed use case, keeping the signed-in user loaded: a rollback expires every row the session
    holds, and the error page (rendered after the session is closed) still reads the principal's."""
    session.rollback()
    for row in (principal.user, principal.web):
        if row is not None:
            session.refresh(row)


def _verified(session: Session, user: User) -> bool:
    enterprise = session.get(Enterprise, user.enterprise_uscc) if user.enterprise_uscc else None
    return bool(enterprise and enterprise.verified)


def _serial(session: Session, application: Application) -> str | None:
    record = session.get(IssuedPass, application.pass_id) if application.pass_id else None
    return record.serial if record else None


# --- the enterprise's pages ------------------------------------------------------------------------------


def read_form(
    plate: _Text = "",
    plate_colour: _Text = "blue",
    driver_name: _Text = "",
    driver_id_number: _Text = "",
    driver_licence_number: _Text = "",
    driver_phone: _Text = "",
    escort_name: Annotated[list[str] | None, Form()] = None,
    escort_id_number: Annotated[list[str] | None, Form()] = None,
    escort_rows: _Text = "",
    origin: _Text = "",
    destination: _Text = "",
    travel_history: _Text = "",
    cargo: _Text = "",
    valid_from: _Text = "",
    valid_until: _Text = "",
) -> ApplicationForm:
    values = {k: v for k, v in locals().items() if isinstance(v, str) and k != "escort_rows"}
    return ApplicationForm.posted(
        values=values,
        escort_names=[v[:500] for v in (escort_name or [])][:20],
        escort_ids=[v[:500] for v in (escort_id_number or [])][:20],
        rows=escort_rows,
    )


FormDep = Annotated[ApplicationForm, Depends(read_form)]
ActionDep = Annotated[str, Form(max_length=20)]


def _form_page(
    request: Request,
    principal: Principal,
    session: Session,
    user: User,
    form: ApplicationForm,
    *,
    target: str,
    application: Application | None = None,
    err: AppError | None = None,
) -> Response:
    return page(
        request,
        "applications/form.html",
        principal,
        status=err.status if err else 200,
        form=form,
        target=target,
        application=application,
        verified=_verified(session, user),
        max_days=policy_service.current(session).max_validity_days,
        errors=form_errors(err.fields) if err else {},
        **helpers(request, principal, err),
    )


def _save(
    request: Request,
    principal: Principal,
    session: Session,
    user: User,
    settings: Settings,
    now: datetime,
    form: ApplicationForm,
    action: str,
    application: Application | None,
) -> Response:
    target = (
        f"/enterprise/applications/{application.id}/edit" if application else "/enterprise/applications/new"
    )
    if action == "add_escort":
        more = form.with_more_rows()
        return _form_page(request, principal, session, user, more, target=target, application=application)
    submit = action == "submit"
    data = form.data(zone=settings.timezone)
    try:
        if application is None:
            application = service.create(session=session, user=user, data=data, submit=submit, now=now)
        else:
            application = service.update_draft(
                session=session,
                user=user,
                application_id=application.id or 0,
                data=data,
                submit=submit,
                now=now,
            )
    except AppError as err:
        recover(session, principal)
        return _form_page(
            request,
            principal,
            session,
            user,
            form,
            target=target,
            application=application,
            err=err,
        )
    notice = "submitted" if submit else "saved"
    return RedirectResponse(f"/enterprise/applications/{application.id}?notice={notice}", status_code=303)


@clerk.get("", response_class=HTMLResponse)
def my_applications(
    request: Request, principal: PrincipalDep, user: CurrentUser, session: SessionDep
) -> Response:
    rows, total = queries.list_for(session=session, user=user, limit=200)
    return page(
        request,
        "applications/list.html",
        principal,
        rows=rows,
        total=total,
        verified=_verified(session, user),
        **helpers(request, principal),
    )


@clerk.get("/new", response_class=HTMLResponse)
def new_application(
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
) -> Response:
    max_days = policy_service.current(session).max_validity_days
    form = ApplicationForm.blank(now=now, zone=settings.timezone, max_days=max_days)
    return _form_page(request, principal, session, user, form, target="/enterprise/applications/new")


@clerk.post("/new", response_class=HTMLResponse)
def create_application(
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    form: FormDep,
    action: ActionDep = "draft",
) -> Response:
    return _save(request, principal, session, user, settings, now, form, action, None)


def detail_page(
    request: Request,
    principal: Principal,
    session: Session,
    user: User,
    application: Application,
    *,
    now: datetime,
    err: AppError | None = None,
    reason: str = "",
) -> Response:
    template = "applications/detail.html" if user.role == ROLE_ENTERPRISE else "applications/review.html"
    waiting = (
        now - application.submitted_at
        if application.status == SUBMITTED and application.submitted_at
        else None
    )
    answer = timedelta(hours=policy_service.current(session).review_answer_hours)
    return page(
        request,
        template,
        principal,
        status=err.status if err else 200,
        application=application,
        body=service.body_of(application),
        enterprise=session.get(Enterprise, application.enterprise_uscc),
        serial=_serial(session, application),
        history=queries.events(session=session, application_id=application.id or 0),
        waiting=waiting,
        overdue=waiting is not None and waiting > answer,
        can_decide=user.role in service.REVIEW_ROLES and application.status == SUBMITTED,
        errors=err.fields if err else {},
        reason=reason,
        **helpers(request, principal, err),
    )


@clerk.get("/{application_id}", response_class=HTMLResponse)
def my_application(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    application = service.get_visible(session=session, application_id=application_id, user=user)
    return detail_page(request, principal, session, user, application, now=now)


@clerk.get("/{application_id}/edit", response_class=HTMLResponse)
def edit_draft(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    application = service.get_visible(session=session, application_id=application_id, user=user)
    if application.status != DRAFT:
        raise Conflict("only a draft can be changed", code="STATUS_CONFLICT")
    form = ApplicationForm.of(service.body_of(application), zone=settings.timezone)
    target = f"/enterprise/applications/{application.id}/edit"
    return _form_page(request, principal, session, user, form, target=target, application=application)


@clerk.post("/{application_id}/edit", response_class=HTMLResponse)
def save_draft(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    form: FormDep,
    action: ActionDep = "draft",
) -> Response:
    application = service.get_visible(session=session, application_id=application_id, user=user)
    return _save(request, principal, session, user, settings, now, form, action, application)


@clerk.post("/{application_id}/submit", response_class=HTMLResponse)
def submit_draft(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
) -> Response:
    try:
        service.submit(session=session, user=user, application_id=application_id, now=now)
    except AppError as err:
        recover(session, principal)
        application = service.get_visible(session=session, application_id=application_id, user=user)
        if err.fields and application.status == DRAFT:  # show what to fix, on the form itself
            form = ApplicationForm.of(service.body_of(application), zone=settings.timezone)
            target = f"/enterprise/applications/{application_id}/edit"
            return _form_page(
                request, principal, session, user, form, target=target, application=application, err=err
            )
        return detail_page(request, principal, session, user, application, now=now, err=err)
    return RedirectResponse(f"/enterprise/applications/{application_id}?notice=submitted", status_code=303)
