"""Documents as they arrive in a request: the files of a multipart form, read within the size limit and checked
before anything is saved, and the body limits of the routes that carry them (``server.main``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.datastructures import UploadFile

from server.accounts.models import User
from server.config import Settings
from server.documents import service, sniff
from server.documents.models import APPLICATION_KINDS, Document
from server.errors import AppError

__all__ = [
    "APPLICATION_FORM_FILES",
    "Upload",
    "UploadsDep",
    "body_limits",
    "check",
    "field_error",
    "read_upload",
    "save",
]

# Routes whose bodies may carry documents (paths with ids as patterns), and how many each may carry: the form's own
# limit is added. Registration, the one anonymous route among them, takes a single licence.
UPLOAD_PATHS = (
    (r"/register", 1),
    (r"/enterprise/licence", 1),
    (r"/enterprise/applications/(new|\d{1,10}/(edit|documents))", 2),
    (r"/api/v1/applications/\d{1,10}/documents", 1),
    (r"/api/v1/enterprise/licence", 1),
)
APPLICATION_FORM_FILES = APPLICATION_KINDS  # the form's file inputs are named after the kinds


@dataclass(frozen=True)
class Upload:
    field: str  # the form field, which is also the document's kind
    filename: str
    data: bytes


def body_limits(settings: Settings) -> list[tuple[str, int]]:
    return [(path, settings.max_body_bytes + n * settings.max_document_bytes) for path, n in UPLOAD_PATHS]


def read_upload(item: object, field: str, settings: Settings) -> Upload | None:
    """The file sent in ``field`` (None when the input was left empty), read up to one byte past the limit so
    that an oversized file is refused without holding more of it."""
    if not isinstance(item, UploadFile) or not (item.filename or item.size):
        return None
    data = item.file.read(settings.max_document_bytes + 1)  # spooled by the form parser: no network wait
    return Upload(field=field, filename=item.filename or "", data=data)


async def _application_files(request: Request) -> list[Upload]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return []
    form = await request.form()  # parsed once per request; the CSRF check has usually done it already
    settings: Settings = request.app.state.settings
    found = [read_upload(form.get(field), field, settings) for field in APPLICATION_FORM_FILES]
    return [upload for upload in found if upload is not None]


UploadsDep = Annotated[list[Upload], Depends(_application_files)]


def check(uploads: list[Upload], settings: Settings) -> None:
    """Refuse the request before anything is saved when a file is not an acceptable document: the sniffing's
    error (``DOCUMENT_EMPTY``, ``DOCUMENT_TOO_LARGE``, ``DOCUMENT_TYPE``) naming the kind, without fields (the
    page that shows it decides where the message goes: ``field_error``)."""
    for upload in uploads:
        try:
            sniff.sniff(upload.data, max_bytes=settings.max_document_bytes)
        except AppError as err:
            raise type(err)(f"{upload.field}: {err.detail}", code=err.code) from err


def field_error(err: AppError, field: str) -> AppError:
    """``err`` with its message placed by the file input ``field`` (invalid.<key> in locales/documents.json)."""
    if err.code in _FIELD_KEYS:
        err.fields = {field: _FIELD_KEYS[err.code]}
    return err


_FIELD_KEYS = {
    "DOCUMENT_EMPTY": "document_empty",
    "DOCUMENT_TOO_LARGE": "document_too_large",
    "DOCUMENT_TYPE": "document_type",
    "DOCUMENT_MISSING": "document_missing",
}


def save(
    *,
    session: Session,
    uploads: list[Upload],
    enterprise_uscc: str,
    application_id: int | None,
    user: User | None,
    settings: Settings,
    now: datetime,
) -> list[Document]:
    """Store checked uploads as the application's (or, without one, the enterprise's) documents; committed."""
    saved = [
        service.add(
            session=session,
            kind=upload.field,
            data=upload.data,
            filename=upload.filename,
            enterprise_uscc=enterprise_uscc,
            application_id=application_id,
            user=user,
            now=now,
            max_bytes=settings.max_document_bytes,
        )
        for upload in uploads
    ]
    session.commit()
    return saved
