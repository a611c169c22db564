"""Response bodies of the documents API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from server.documents.models import Document

__all__ = ["DocumentPublic"]


class DocumentPublic(BaseModel):
    id: int
    kind: str
    application_id: int | None
    display_name: str
    media_type: str
    size: int
    uploaded_at: datetime

    @classmethod
    def of(cls, document: Document) -> DocumentPublic:
        return cls.model_validate(document.model_dump())
