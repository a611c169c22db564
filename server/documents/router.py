"""Documents on the portal: opening one (reviewers, administrators, the enterprise it belongs to), the
enterprise's uploads on an application's detail page, and its business licence page (upload a new licence and
ask for verification again)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from server.accounts.models import User
from server.applications import service as applications
from server.applications.deps import ApplicationId
from server.applications.models import Application
from server.applications.rendering import detail_page, recover
from server.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep
from server.documents import service as documents
from server.documents import uploads
from server.documents.deps import ClerkDep, DocumentId, ViewerDep
from server.documents.models import APPLICATION_KINDS, BUSINESS_LICENCE
from server.documents.serving import file_response
from server.enterprises import service as enterprises
from server.enterprises.models import Enterprise
from server.errors import AppError, BadRequest, Conflict, NotFound
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)
FileDep = Annotated[UploadFile | None, File()]


@web.get("/documents/{document_id}")
def document_file(
    document_id: DocumentId, user: ViewerDep, session: SessionDep, download: bool = False
) -> Response:
    document = documents.get_visible(session=session, document_id=document_id, user=user)
    return file_response(session, document, download=download)


def _own_application(session: Session, user: User, application_id: int) -> Application:
    return applications.get_visible(session=session, application_id=application_id, user=user)


@web.post("/enterprise/applications/{application_id}/documents", response_class=HTMLResponse)
def application_upload(
    application_id: ApplicationId,
    request: Request,
    principal: PrincipalDep,
    user: ClerkDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    file: FileDep = None,
    kind: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    upload = uploads.read_upload(file, kind, settings)
    application = _own_application(session, user, application_id)
    try:
        if application.status not in documents.UPLOADABLE:
            raise Conflict("documents can no longer be added to this application", code="DOCUMENT_CLOSED")
        if upload is None:
            raise BadRequest("choose a file", code="DOCUMENT_MISSING")
        if upload.field not in APPLICATION_KINDS:
            raise BadRequest(
                "choose what the document is", code="DOCUMENT_KIND", fields={"kind": "document_kind"}
            )
        uploads.check([upload], settings)
        uploads.save(
            session=session,
            uploads=[upload],
            enterprise_uscc=application.enterprise_uscc,
            application_id=application.id,
            user=user,
            settings=settings,
            now=now,
        )
    except AppError as err:
        recover(session, principal)
        uploads.field_error(err, "file")
        application = _own_application(session, user, application_id)
        return detail_page(request, principal, session, user, application, now=now, err=err)
    return RedirectResponse(f"/enterprise/applications/{application_id}?docs=added", status_code=303)


@web.post("/enterprise/documents/{document_id}/delete")
def application_document_delete(document_id: DocumentId, user: ClerkDep, session: SessionDep) -> Response:
    document = documents.get_visible(session=session, document_id=document_id, user=user)
    application = session.get(Application, document.application_id) if document.application_id else None
    if application is None:
        raise NotFound("no such document", code="DOCUMENT_NOT_FOUND")  # a business licence stays on record
    if application.status not in documents.REMOVABLE:
        raise Conflict("the bureau may be reading this document: it stays", code="DOCUMENT_CLOSED")
    documents.delete(session, document)
    session.commit()
    return RedirectResponse(f"/enterprise/applications/{application.id}?docs=removed", status_code=303)


def _licence_page(
    request: Request, principal: PrincipalDep, session: Session, user: User, *, err: AppError | None = None
) -> Response:
    enterprise = session.get(Enterprise, user.enterprise_uscc)
    return page(
        request,
        "documents/licence.html",
        principal,
        status=err.status if err else 200,
        enterprise=enterprise,
        licences=documents.for_enterprise(session, user.enterprise_uscc or ""),
        errors=err.fields if err else {},
        sent=request.query_params.get("sent") == "1",
    )


@web.get("/enterprise/licence", response_class=HTMLResponse)
def licence(request: Request, principal: PrincipalDep, user: ClerkDep, session: SessionDep) -> Response:
    return _licence_page(request, principal, session, user)


@web.post("/enterprise/licence", response_class=HTMLResponse)
def licence_upload(
    request: Request,
    principal: PrincipalDep,
    user: ClerkDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    licence: FileDep = None,
) -> Response:
    upload = uploads.read_upload(licence, BUSINESS_LICENCE, settings)
    enterprise = session.get(Enterprise, user.enterprise_uscc)
    if enterprise is None:
        raise NotFound("no such enterprise", code="ENTERPRISE_NOT_FOUND")
    try:
        if upload is None:
            raise BadRequest("choose a file", code="DOCUMENT_MISSING")
        uploads.check([upload], settings)
        enterprises.ask_again(session=session, enterprise=enterprise)
        uploads.save(
            session=session,
            uploads=[upload],
            enterprise_uscc=enterprise.uscc,
            application_id=None,
            user=user,
            settings=settings,
            now=now,
        )
    except AppError as err:
        recover(session, principal)
        uploads.field_error(err, "licence")
        return _licence_page(request, principal, session, user, err=err)
    return RedirectResponse("/enterprise/licence?sent=1", status_code=303)
