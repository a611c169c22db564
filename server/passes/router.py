"""Issued passes in the portal: the enterprise's list, detail, downloads and phone page; revocation.

Every route that takes a pass id goes through ``passes.visible_pass``: an enterprise sees its own passes and
another enterprise's id answers 404; bureau staff see every pass.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.deps import ClockDep, CurrentUser, PrincipalDep, SessionDep, SettingsDep
from server.driver_links import service as driver_links
from server.errors import AppError
from server.passes import card, views
from server.passes import service as passes
from server.passes.downloads import FILE_RESPONSES, ManifestKind, ManifestPage, PageSize, file_response
from server.passes.schemas import Status
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


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
    found = passes.list_passes(
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
        views=views.with_revokers(session, user, found[:PAGE_SIZE]),
        more=len(found) > PAGE_SIZE,
        q=q,
        status_filter=status,  # not `status`: page() takes that as the HTTP status
        page_no=page_no,
        statuses=passes.PASS_STATUSES,
    )


def _detail(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    view: passes.PassView,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    user = principal.user
    may_revoke = user is not None and passes.can_revoke(user) and view.status != "revoked"
    if user is not None:
        (view,) = views.with_revokers(session, user, [view])
        context = {"driver_links": driver_links.for_pass(session, view.record.pass_id), **context}
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
    return _detail(
        request, principal, session, view, notice="revoked" if done == "revoked" else "", reason=""
    )


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


# Before the pass's own files: "manifest.txt" would otherwise be taken for a {kind}.
@web.get("/enterprise/passes/{pass_id}/manifest.txt")
def pass_manifest_text(pass_id: str, user: CurrentUser, session: SessionDep) -> Response:
    return file_response(passes.manifest_file(session=session, pass_id=pass_id, viewer=user, kind="txt"))


@web.get("/enterprise/passes/{pass_id}/manifest/{number}/{kind}")
def pass_manifest_page(
    pass_id: str,
    number: ManifestPage,
    kind: ManifestKind,
    user: CurrentUser,
    session: SessionDep,
) -> Response:
    file = passes.manifest_file(session=session, pass_id=pass_id, viewer=user, kind=kind, number=number)
    return file_response(file)


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
    return file_response(file)


@web.post("/enterprise/passes/{pass_id}/revoke", response_class=HTMLResponse)
def pass_revoke(
    request: Request,
    pass_id: str,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    reason: Annotated[str, Form(max_length=2000)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if confirm != "yes" and reason.strip():
        # Revocation cannot be undone: it is confirmed first (a <dialog> in the browser, review_desk.js; without
        # JavaScript this page asks). A missing reason is reported at once, by the revocation itself.
        view = passes.pass_view(session=session, pass_id=pass_id, viewer=user, now=now)
        if passes.can_revoke(user) and view.status != "revoked":
            return _detail(
                request,
                principal,
                session,
                view,
                status=200,
                errors={},
                reason=reason,
                notice="",
                confirm_revoke=True,
            )
    try:
        revocation = passes.revoke_pass(session=session, pass_id=pass_id, viewer=user, reason=reason, now=now)
    except AppError as err:
        if not err.fields:
            raise  # not found, not allowed, already revoked: the error page says so
        view = passes.pass_view(session=session, pass_id=pass_id, viewer=user, now=now)
        return _detail(
            request, principal, session, view, status=err.status, errors=err.fields, reason=reason, notice=""
        )
    return RedirectResponse(f"/enterprise/passes/{revocation.pass_id}?done=revoked", status_code=303)
