"""The passes JSON API: list, detail, files and revocation.

Every route that takes a pass id goes through ``passes.visible_pass``: an enterprise sees its own passes and
another enterprise's id answers 404; bureau staff see every pass.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from server.deps import ClockDep, CurrentUser, SessionDep, SettingsDep
from server.passes import card, views
from server.passes import service as passes
from server.passes.downloads import (
    FILE_RESPONSES,
    MANIFEST_RESPONSES,
    ManifestKind,
    ManifestPage,
    PageSize,
    file_response,
)
from server.passes.schemas import PassPublic, RevokeRequest, Status

__all__ = ["api"]

api = APIRouter(prefix="/api/v1", tags=["passes"])


@api.get("/passes", response_model=list[PassPublic], responses={401: {}})
def api_pass_list(
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    q: Annotated[str, Query(max_length=40, description="pass number, plate or pass id")] = "",
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[PassPublic]:
    """Passes, newest first: an enterprise's own, or every pass for bureau staff."""
    found = passes.list_passes(
        session=session, viewer=user, now=now, query=q, status=status, limit=limit, offset=offset
    )
    return [PassPublic.of(view) for view in views.with_revokers(session, user, found)]


def _one(session: SessionDep, pass_id: str, user: CurrentUser, now: ClockDep) -> PassPublic:
    view = passes.pass_view(session=session, pass_id=pass_id, viewer=user, now=now)
    return PassPublic.of(views.with_revokers(session, user, [view])[0])


@api.get("/passes/{pass_id}", response_model=PassPublic, responses={401: {}, 404: {}})
def api_pass(pass_id: str, user: CurrentUser, session: SessionDep, now: ClockDep) -> PassPublic:
    return _one(session, pass_id, user, now)


@api.get("/passes/{pass_id}/manifest/{number}/{kind}", response_class=Response, responses=MANIFEST_RESPONSES)
def api_pass_manifest_page(
    pass_id: str,
    number: ManifestPage,
    kind: ManifestKind,
    user: CurrentUser,
    session: SessionDep,
) -> Response:
    """One manifest page of a bus pass as a PNG or SVG QR code (the texts are the pass's `manifest`)."""
    file = passes.manifest_file(session=session, pass_id=pass_id, viewer=user, kind=kind, number=number)
    return file_response(file)


@api.get("/passes/{pass_id}/{kind}", response_class=Response, responses=FILE_RESPONSES)
def api_pass_file(
    pass_id: str,
    kind: card.Format,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    size: Annotated[PageSize, Query(alias="page", description="PDF page size")] = "A5",
) -> Response:
    """The pass as a PNG or SVG QR code, or the printable PDF card (Chinese text; A5 unless `page=A4`)."""
    file = passes.delivery_file(
        session=session, pass_id=pass_id, viewer=user, kind=kind, settings=settings, page=size
    )
    return file_response(file)


@api.post(
    "/passes/{pass_id}/revoke", response_model=PassPublic, responses={401: {}, 403: {}, 404: {}, 409: {}}
)
def api_pass_revoke(
    pass_id: str, body: RevokeRequest, user: CurrentUser, session: SessionDep, now: ClockDep
) -> PassPublic:
    """Revoke a pass: an enterprise its own, reviewers and administrators any. Checkpoints refuse it once
    they hold the next trust bundle (or its revocation delta)."""
    passes.revoke_pass(session=session, pass_id=pass_id, viewer=user, reason=body.reason, now=now)
    return _one(session, pass_id, user, now)
