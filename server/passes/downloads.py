"""A pass's files over HTTP (portal and API alike): the response with its disposition and caching, and what
the OpenAPI document says of it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from fastapi.responses import Response

from passcore.claims import MAX_MANIFEST_PAGES
from server.passes import card

__all__ = [
    "FILE_RESPONSES",
    "MANIFEST_RESPONSES",
    "ManifestKind",
    "ManifestPage",
    "PageSize",
    "file_response",
]

PageSize = Literal["A5", "A4"]
# A manifest page's file, in the portal and the API alike: its number (as many as a pass may name) and format.
ManifestPage = Annotated[int, Path(ge=1, le=MAX_MANIFEST_PAGES, description="the page, 1-based")]
ManifestKind = Literal["png", "svg"]
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}} for media in card.FORMATS.values()
        },
        "description": "the file, rendered from the signed QR text",
    },
    404: {"description": "no such pass (or another enterprise's)"},
    409: {"description": "the pass is revoked"},
}


MANIFEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("image/png", "image/svg+xml")
        },
        "description": "the manifest page's QR, rendered from its signed text",
    },
    404: {"description": "no such pass (or another enterprise's), a freight pass, or no such page"},
    409: {"description": "the pass is revoked, or its people were removed by retention"},
}


def file_response(file: card.DeliveryFile) -> Response:
    # The PDF is for printing, so it downloads; the images open in place (the phone page shows the PNG).
    disposition = "attachment" if file.media_type == "application/pdf" else "inline"
    return Response(
        file.content,
        media_type=file.media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{file.filename}"',
            # Names and masked numbers: a shared cache must not keep them.
            "Cache-Control": "private, no-cache",
        },
    )
