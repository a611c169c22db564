"""The enterprise's application pages: its list, the apply form (new and draft), the detail, submitting."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from server.accounts.models import ROLE_ENTERPRISE, User
from server.applications import bus, queries, service
from server.applications.deps import ActionDep, ApplicationId, FormDep, ManifestFileDep, expired_first
from server.applications.forms import ApplicationForm, form_errors
from server.applications.models import Application
from server.applications.rendering import detail_page, enterprise_verified, helpers, recover
from server.config import Settings
from server.deps import ClockDep, CurrentUser, Principal, PrincipalDep, SessionDep, SettingsDep, require
from server.documents import uploads as document_uploads
from server.errors import AppError, Conflict
from server.manifests.importing import RowProblem, import_manifest
from server.policy import service as policy_service
from server.web.templating import lang_of, page
from server.workdays import local_day

__all__ = ["clerk"]

clerk = APIRouter(
    prefix="/enterprise/applications",
    include_in_schema=False,
    dependencies=[Depends(require(ROLE_ENTERPRISE)), Depends(expired_first)],
)


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
    manifest: list[RowProblem] | None = None,
    imported: int | None = None,
) -> Response:
    policy = policy_service.current(session)
    lang = lang_of(request, principal)
    return page(
        request,
        "applications/form.html",
        principal,
        status=err.status if err else (422 if manifest else 200),
        form=form,
        target=target,
        application=application,
        verified=enterprise_verified(session, user),
        max_days=policy.max_validity_days,
        errors=form_errors(err.fields) if err else {},
        seat_percent=bus.occupancy_percent(policy),
        manifest_problems=[problem.text(lang) for problem in manifest or []],
        imported=imported,
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
    files: list[document_uploads.Upload] | None = None,
    manifest_file: tuple[str, bytes] | None = None,
) -> Response:
    target = (
        f"/enterprise/applications/{application.id}/edit" if application else "/enterprise/applications/new"
    )
    if action == "add_escort":
        more = form.with_more_rows()
        return _form_page(request, principal, session, user, more, target=target, application=application)
    if action in ("add_passengers", "import_manifest") or action.startswith("remove_passenger_"):
        # The bus's passenger table (issue 14), worked on without saving: more rows, one row less, or a file.
        return _passenger_table(
            request, principal, session, user, form, action, target, application, manifest_file
        )
    submit = action == "submit"
    data = form.data(zone=settings.timezone)
    try:
        # Before anything is saved, so that a refused file brings the form back as it was typed.
        document_uploads.check(files or [], settings)
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
    if files:
        document_uploads.save(
            session=session,
            uploads=files,
            enterprise_uscc=application.enterprise_uscc,
            application_id=application.id,
            user=user,
            settings=settings,
            now=now,
        )
    notice = "submitted" if submit else "saved"
    return RedirectResponse(f"/enterprise/applications/{application.id}?notice={notice}", status_code=303)


def _passenger_table(
    request: Request,
    principal: Principal,
    session: Session,
    user: User,
    form: ApplicationForm,
    action: str,
    target: str,
    application: Application | None,
    manifest_file: tuple[str, bytes] | None,
) -> Response:
    def shown(
        changed: ApplicationForm, problems: list[RowProblem] | None = None, imported: int | None = None
    ) -> Response:
        return _form_page(
            request,
            principal,
            session,
            user,
            changed,
            target=target,
            application=application,
            manifest=problems,
            imported=imported,
        )

    if action == "add_passengers":
        return shown(form.with_more_passengers())
    if action.startswith("remove_passenger_"):
        index = action.removeprefix("remove_passenger_")
        return shown(form.without_passenger(int(index)) if index.isdigit() else form)
    name, data = manifest_file or ("", b"")
    result = import_manifest(data, name)
    if not result.ok:  # the table stays as it was; every problem is listed by its row
        return shown(form, problems=result.problems)
    return shown(form.with_manifest(result.passengers), imported=len(result.passengers))


@clerk.get("", response_class=HTMLResponse)
def my_applications(
    request: Request, principal: PrincipalDep, user: CurrentUser, session: SessionDep, now: ClockDep
) -> Response:
    rows, total = queries.list_for(session=session, user=user, limit=200)
    return page(
        request,
        "applications/list.html",
        principal,
        rows=rows,
        total=total,
        verified=enterprise_verified(session, user),
        today=local_day(now),  # the answer's deadline is past once this local day is later than it
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
    files: document_uploads.UploadsDep,
    manifest_file: ManifestFileDep,
    action: ActionDep = "draft",
) -> Response:
    return _save(request, principal, session, user, settings, now, form, action, None, files, manifest_file)


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
    if application.status not in service.EDITABLE:  # a draft, or an application returned for correction
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
    files: document_uploads.UploadsDep,
    manifest_file: ManifestFileDep,
    action: ActionDep = "draft",
) -> Response:
    application = service.get_visible(session=session, application_id=application_id, user=user)
    return _save(
        request, principal, session, user, settings, now, form, action, application, files, manifest_file
    )


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
        if err.fields and application.status in service.EDITABLE:  # show what to fix, on the form itself
            form = ApplicationForm.of(service.body_of(application), zone=settings.timezone)
            target = f"/enterprise/applications/{application_id}/edit"
            return _form_page(
                request, principal, session, user, form, target=target, application=application, err=err
            )
        return detail_page(request, principal, session, user, application, now=now, err=err)
    return RedirectResponse(f"/enterprise/applications/{application_id}?notice=submitted", status_code=303)
