"""A document's file as an HTTP answer, for the portal and the API alike."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import Response
from sqlmodel import Session

from server.documents import service as documents
from server.documents.models import Document

__all__ = ["file_response"]


def _disposition(document: Document, download: bool) -> str:
    # A PDF is never shown in the page's origin (its viewer runs scripts); images may be, under a CSP that allows
    # nothing else. The file name goes in RFC 6266's UTF-8 form, with a plain ASCII fallback.
    inline = document.media_type.startswith("image/") and not download
    fallback = f"document-{document.id}" + document.display_name[document.display_name.rfind(".") :]
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(document.display_name)}"


def file_response(session: Session, document: Document, *, download: bool = False) -> Response:
    return Response(
        documents.content(session, document),
        media_type=document.media_type,
        headers={
            "Content-Disposition": _disposition(document, download),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
            "Cache-Control": "no-store, private",
        },
    )
