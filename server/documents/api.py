"""The documents JSON API: an application's documents (list, upload), an enterprise's business licences (list,
upload) and one document's file."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from server.accounts.models import ROLE_ENTERPRISE
from server.applications import service as applications
from server.applications.deps import ApplicationId
from server.deps import ClockDep, SessionDep, SettingsDep
from server.documents import service as documents
from server.documents import uploads
from server.documents.deps import ClerkDep, DocumentId, ViewerDep
from server.documents.models import APPLICATION_KINDS, BUSINESS_LICENCE
from server.documents.schemas import DocumentPublic
from server.documents.serving import file_response
from server.enterprises import service as enterprises
from server.errors import BadRequest, Conflict, NotFound

__all__ = ["api"]

api = APIRouter(prefix="/api/v1", tags=["documents"])


@api.get(
    "/applications/{application_id}/documents",
    response_model=list[DocumentPublic],
    responses={401: {}, 403: {}, 404: {}},
)
def api_application_documents(
    application_id: ApplicationId, user: ViewerDep, session: SessionDep
) -> list[DocumentPublic]:
    """The application's documents (reviewers, administrators, the enterprise it belongs to)."""
    application = applications.get_visible(session=session, application_id=application_id, user=user)
    return [DocumentPublic.of(d) for d in documents.for_application(session, application.id or 0)]


@api.post(
    "/applications/{application_id}/documents",
    response_model=DocumentPublic,
    status_code=201,
    responses={400: {}, 401: {}, 403: {}, 404: {}, 409: {}, 413: {}},
)
def api_application_upload(
    application_id: ApplicationId,
    user: ClerkDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    kind: Annotated[str, Form(max_length=20)],
    file: Annotated[UploadFile, File()],
) -> DocumentPublic:
    """Add a vehicle licence (``vehicle_licence``) or driving licence (``driving_licence``) to the enterprise's
    own application while it is a draft, submitted or returned: multipart, JPEG/PNG/PDF checked by content."""
    application = applications.get_visible(session=session, application_id=application_id, user=user)
    if application.status not in documents.UPLOADABLE:
        raise Conflict("documents can no longer be added to this application", code="DOCUMENT_CLOSED")
    if kind not in APPLICATION_KINDS:
        raise BadRequest("kind is vehicle_licence or driving_licence", code="DOCUMENT_KIND")
    upload = uploads.read_upload(file, kind, settings) or uploads.Upload(kind, "", b"")
    saved = uploads.save(
        session=session,
        uploads=[upload],
        enterprise_uscc=application.enterprise_uscc,
        application_id=application.id,
        user=user,
        settings=settings,
        now=now,
    )
    return DocumentPublic.of(saved[0])


@api.get("/documents/{document_id}", responses={401: {}, 403: {}, 404: {}})
def api_document_file(
    document_id: DocumentId, user: ViewerDep, session: SessionDep, download: bool = False
) -> Response:
    """The document's file, with the media type its content was checked to be."""
    document = documents.get_visible(session=session, document_id=document_id, user=user)
    return file_response(session, document, download=download)


@api.get(
    "/enterprises/{uscc}/licences",
    response_model=list[DocumentPublic],
    responses={401: {}, 403: {}, 404: {}},
)
def api_enterprise_licences(uscc: str, user: ViewerDep, session: SessionDep) -> list[DocumentPublic]:
    """An enterprise's business licences, newest first (reviewers, administrators, the enterprise itself)."""
    enterprise = enterprises.find(session, uscc)
    if user.role == ROLE_ENTERPRISE and user.enterprise_uscc != enterprise.uscc:
        raise NotFound("no such enterprise", code="ENTERPRISE_NOT_FOUND")
    return [DocumentPublic.of(d) for d in documents.for_enterprise(session, enterprise.uscc)]


@api.post(
    "/enterprise/licence",
    response_model=DocumentPublic,
    status_code=201,
    responses={401: {}, 403: {}, 413: {}, 422: {}},
)
def api_licence_upload(
    user: ClerkDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    file: Annotated[UploadFile, File()],
) -> DocumentPublic:
    """The signed-in enterprise's new business licence (multipart ``file``); after a rejection it asks for
    verification again."""
    enterprise = enterprises.find(session, user.enterprise_uscc or "")
    upload = uploads.read_upload(file, BUSINESS_LICENCE, settings) or uploads.Upload(
        BUSINESS_LICENCE, "", b""
    )
    uploads.check([upload], settings)
    enterprises.ask_again(session=session, enterprise=enterprise)
    saved = uploads.save(
        session=session,
        uploads=[upload],
        enterprise_uscc=enterprise.uscc,
        application_id=None,
        user=user,
        settings=settings,
        now=now,
    )
    return DocumentPublic.of(saved[0])
