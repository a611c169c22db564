"""Documents: adding one (checked by content, stored owner-only), finding them, who may see one, deleting them
with their application. Nothing here commits: the caller's transaction takes the row, and a deleted document's
file goes when that transaction commits (``storage.remove_after_commit``)."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlmodel import Session, col, select

from server.accounts.models import ROLE_ADMIN, ROLE_ENTERPRISE, ROLE_REVIEWER, User
from server.documents import sniff, storage
from server.documents.models import APPLICATION_KINDS, BUSINESS_LICENCE, KINDS, Document
from server.errors import BadRequest, Forbidden, NotFound

__all__ = [
    "REMOVABLE",
    "UPLOADABLE",
    "VIEW_ROLES",
    "add",
    "content",
    "delete",
    "delete_for_application",
    "display_name",
    "for_application",
    "for_enterprise",
    "get_visible",
    "latest_licence",
]

VIEW_ROLES = (ROLE_ENTERPRISE, ROLE_REVIEWER, ROLE_ADMIN)  # auditors see statistics, not people's papers
UPLOADABLE = ("draft", "submitted", "returned")  # an application takes documents until it is decided
REMOVABLE = ("draft", "returned")  # and gives them up only while the enterprise may still change it
_EXTENSIONS = {sniff.JPEG: ".jpg", sniff.PNG: ".png", sniff.PDF: ".pdf"}


def display_name(filename: str, media_type: str) -> str:
    """The client's file name as a display string: no directories, no control or format characters (bidi
    overrides), at most 100 characters, and the extension of what the content really is."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(ch for ch in base if unicodedata.category(ch)[0] not in "CZ" or ch == " ").strip(" .")
    stem = kept.rsplit(".", 1)[0] if "." in kept else kept
    extension = _EXTENSIONS[media_type]
    return (stem[: 100 - len(extension)] or "document") + extension


def add(
    *,
    session: Session,
    kind: str,
    data: bytes,
    filename: str,
    enterprise_uscc: str,
    user: User | None,
    now: datetime,
    max_bytes: int,
    application_id: int | None = None,
) -> Document:
    """A new document after its content is checked (BadRequest/ContentTooLarge naming the field ``file``); its
    file is written at once, its row flushed in the caller's transaction."""
    if kind not in KINDS or (application_id is None) != (kind == BUSINESS_LICENCE):
        raise BadRequest(
            "no such kind of document here", code="DOCUMENT_KIND", fields={"kind": "document_kind"}
        )
    media_type = sniff.sniff(data, max_bytes=max_bytes)
    document = Document(
        kind=kind,
        enterprise_uscc=enterprise_uscc,
        application_id=application_id,
        stored_name=storage.write(session, data),
        display_name=display_name(filename, media_type),
        media_type=media_type,
        size=len(data),
        uploaded_by=user.id if user else None,
        uploaded_at=now,
    )
    session.add(document)
    session.flush()
    return document


def for_application(session: Session, application_id: int) -> list[Document]:
    """The application's documents, vehicle licences first, oldest first within a kind."""
    query = select(Document).where(col(Document.application_id) == application_id)
    rows = list(session.exec(query.order_by(col(Document.uploaded_at), col(Document.id))))
    return sorted(rows, key=lambda d: APPLICATION_KINDS.index(d.kind) if d.kind in APPLICATION_KINDS else 9)


def for_enterprise(session: Session, uscc: str) -> list[Document]:
    """The enterprise's business licences, newest first."""
    query = select(Document).where(
        col(Document.enterprise_uscc) == uscc, col(Document.kind) == BUSINESS_LICENCE
    )
    return list(session.exec(query.order_by(col(Document.uploaded_at).desc(), col(Document.id).desc())))


def latest_licence(session: Session, uscc: str) -> Document | None:
    found = for_enterprise(session, uscc)
    return found[0] if found else None


def get_visible(*, session: Session, document_id: int, user: User) -> Document:
    """The document if ``user`` may see it: reviewers and administrators all, an enterprise its own (another's
    is not found, so that ids tell nothing); other roles are refused."""
    if user.role not in VIEW_ROLES:
        raise Forbidden("your role may not see documents", code="ROLE_FORBIDDEN")
    document = session.get(Document, document_id)
    if document is None or (
        user.role == ROLE_ENTERPRISE and document.enterprise_uscc != user.enterprise_uscc
    ):
        raise NotFound("no such document", code="DOCUMENT_NOT_FOUND")
    return document


def content(session: Session, document: Document) -> bytes:
    return storage.read(session, document.stored_name)


def delete(session: Session, document: Document) -> None:
    """Remove one document: the row now, the file when the caller commits."""
    storage.remove_after_commit(session, [document.stored_name])
    session.delete(document)
    session.flush()


def delete_for_application(session: Session, application_id: int) -> int:
    """Remove the application's documents (a draft's deletion, the retention purge); how many there were. The
    rows go in the caller's transaction, the files when it commits."""
    rows = list(session.exec(select(Document).where(col(Document.application_id) == application_id)))
    storage.remove_after_commit(session, [row.stored_name for row in rows])
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)
