"""Issued passes: the enterprise's list, detail, downloads and phone page; revocation; the same as JSON.

Every route that takes a pass id goes through ``passes.visible_pass``: an enterprise sees its own passes and
another enterprise's id answers 404; bureau staff see every pass.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from server.deps import ClockDep, CurrentUser, PrincipalDep, SessionDep, SettingsDep
from server.errors import AppError
from server.passes import card
from server.passes import service as passes
from server.web.pages import page

web = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["passes"])

PAGE_SIZE = 50
Status = Literal["valid", "not_yet_valid", "expired", "revoked"]
PageSize = Literal["A5", "A4"]
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


def _file_response(file: card.DeliveryFile) -> Response:
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


# Portal pages ------------------------------------------------------------------------------------------


@web.get("/enterprise/passes", response_class=HTMLResponse)
def pass_list(
    request: Request,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    q: Annotated[str, Query(max_length=40)] = "",
    status: Annotated[Status | Literal[""], Query()] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
) -> Response:
    views = passes.list_passes(
        session=session,
        viewer=user,
        now=now,
        query=q,
        status=status or None,
        limit=PAGE_SIZE + 1,
        offset=(page_no - 1) * PAGE_SIZE,
    )
    return page(
        request,
        "passes/list.html",
        principal,
        views=views[:PAGE_SIZE],
        more=len(views) > PAGE_SIZE,
        q=q,
        status_filter=status,  # not `status`: page() takes that as the HTTP status
        page_no=page_no,
        statuses=passes.PASS_STATUSES,
    )


def _detail(
    request: Request, principal: PrincipalDep, view: passes.PassView, *, status: int = 200, **context: Any
) -> Response:
    user = principal.user
    may_revoke = user is not None and passes.can_revoke(user) and view.status != "revoked"
    return page(
        request, "passes/detail.html", principal, status=status, view=view, may_revoke=may_revoke, **context
    )


@web.get("/enterprise/passes/{pass_id}", response_class=HTMLResponse)
def pass_detail(
    request: Request,
    pass_id: str,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    done: str = "",
) -> Response:
    view = passes.pass_view(session=session, pass_id=pass_id, viewer=user, now=now)
    return _detail(request, principal, view, notice="revoked" if done == "revoked" else "", reason="")


@web.get("/enterprise/passes/{pass_id}/phone", response_class=HTMLResponse)
def pass_phone(
    request: Request,
    pass_id: str,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    view = passes.pass_view(session=session, pass_id=pass_id, viewer=user, now=now)
    return page(request, "passes/phone.html", principal, view=view)


@web.get("/enterprise/passes/{pass_id}/{kind}", responses=FILE_RESPONSES)
def pass_file(
    pass_id: str,
    kind: card.Format,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    size: Annotated[PageSize, Query(alias="page")] = "A5",
) -> Response:
    file = passes.delivery_file(
        session=session, pass_id=pass_id, viewer=user, kind=kind, settings=settings, page=size
    )
    return _file_response(file)


@web.post("/enterprise/passes/{pass_id}/revoke", response_class=HTMLResponse)
def pass_revoke(
    request: Request,
    pass_id: str,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        revocation = passes.revoke_pass(session=session, pass_id=pass_id, viewer=user, reason=reason, now=now)
    except AppError as err:
        if not err.fields:
            raise  # not found, not allowed, already revoked: the error page says so
        view = passes.pass_view(session=session, pass_id=pass_id, viewer=user, now=now)
        return _detail(
            request, principal, view, status=err.status, errors=err.fields, reason=reason, notice=""
        )
    return RedirectResponse(f"/enterprise/passes/{revocation.pass_id}?done=revoked", status_code=303)


# JSON API ----------------------------------------------------------------------------------------------


class PersonPublic(BaseModel):
    name: str
    id_number: str = Field(description="masked, e.g. 320583********1234")


class DriverPublic(PersonPublic):
    licence_number: str = Field(description="masked")


class RegionPublic(BaseModel):
    code: str
    name: str


class EnterprisePublic(BaseModel):
    uscc: str
    name: str


class RevocationPublic(BaseModel):
    revoked_at: datetime
    reason: str
    revoked_by: str


class PassPublic(BaseModel):
    pass_id: str
    serial: str = Field(description="issuing region code and serial, printed on the card")
    status: Status
    plate: str
    plate_colour: str
    enterprise: EnterprisePublic
    driver: DriverPublic
    escorts: list[PersonPublic]
    origin: RegionPublic
    destination: RegionPublic
    travel_history: list[RegionPublic]
    cargo: str
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    kid: str = Field(description="the issuer key that signed the pass")
    application_id: int | None
    revocation: RevocationPublic | None
    qr_text: str = Field(description="the signed pass as the QR carries it (masked numbers only)")

    @classmethod
    def of(cls, view: passes.PassView) -> PassPublic:
        record, claims, revocation = view.record, view.claims, view.revocation
        return cls(
            pass_id=record.pass_id,
            serial=record.serial,
            status=view.status,  # type: ignore[arg-type]
            plate=claims["plate"],
            plate_colour=claims["plate_colour"],
            enterprise=EnterprisePublic(uscc=record.enterprise_uscc, name=view.enterprise_name),
            driver=DriverPublic(**claims["driver"]),
            escorts=[PersonPublic(**p) for p in claims["escorts"]],
            origin=RegionPublic(**claims["origin"]),
            destination=RegionPublic(**claims["destination"]),
            travel_history=[RegionPublic(**r) for r in claims["travel_history"]],
            cargo=view.cargo,
            issued_at=record.issued_at,
            valid_from=record.valid_from,
            valid_until=record.valid_until,
            kid=record.kid,
            application_id=record.application_id,
            revocation=RevocationPublic.model_validate(revocation, from_attributes=True)
            if revocation
            else None,
            qr_text=record.qr_text,
        )


class RevokeRequest(BaseModel):
    reason: str = Field(max_length=2000, description="required: why the pass is revoked (kept for the audit)")


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
    views = passes.list_passes(
        session=session, viewer=user, now=now, query=q, status=status, limit=limit, offset=offset
    )
    return [PassPublic.of(view) for view in views]


@api.get("/passes/{pass_id}", response_model=PassPublic, responses={401: {}, 404: {}})
def api_pass(pass_id: str, user: CurrentUser, session: SessionDep, now: ClockDep) -> PassPublic:
    return PassPublic.of(passes.pass_view(session=session, pass_id=pass_id, viewer=user, now=now))


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
    return _file_response(file)


@api.post(
    "/passes/{pass_id}/revoke", response_model=PassPublic, responses={401: {}, 403: {}, 404: {}, 409: {}}
)
def api_pass_revoke(
    pass_id: str, body: RevokeRequest, user: CurrentUser, session: SessionDep, now: ClockDep
) -> PassPublic:
    """Revoke a pass: an enterprise its own, reviewers and administrators any. Checkpoints refuse it once
    they hold the next trust bundle (or its revocation delta)."""
    passes.revoke_pass(session=session, pass_id=pass_id, viewer=user, reason=body.reason, now=now)
    return PassPublic.of(passes.pass_view(session=session, pass_id=pass_id, viewer=user, now=now))
