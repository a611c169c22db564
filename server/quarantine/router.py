"""The quarantine pages: the enterprise confirms each passenger's arrival at its quarantine place; bureau staff
(reviewers follow the tasks up, auditors audit them) read every task. One list (``server.quarantine.listing``:
filters, most urgent first, a page at a time, each task linking its crossing) and one task page serve both, with
the viewer's actions; ``/audit/quarantine`` redirects to the bureau's list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session, col, select

from server.accounts.models import ROLE_ENTERPRISE, User
from server.checkpoints.models import Checkpoint
from server.crossings.deps import EnterpriseUser
from server.deps import (
    ClockDep,
    CurrentUser,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    require,
    require_bureau,
)
from server.enterprises.models import Enterprise
from server.errors import AppError
from server.quarantine import listing
from server.quarantine import service as quarantine
from server.quarantine.deps import TaskId
from server.quarantine.models import OPEN, QuarantineTask
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)


def _home(user: User) -> str:
    return "/enterprise/quarantine" if user.role == ROLE_ENTERPRISE else "/review/quarantine"


def _helpers(session: Session, tasks: list[QuarantineTask], now: datetime) -> dict[str, Any]:
    checkpoints = quarantine.checkpoints_by_id(session, tasks)
    names = _names(session, tasks)
    return {
        "now": now,
        "overdue": lambda task: quarantine.is_overdue(task, now),
        "late": lambda task: task.confirmed_at is not None and task.confirmed_at > task.due_at,
        "checkpoint_name": lambda task: (
            checkpoints[task.checkpoint_id].name if task.checkpoint_id in checkpoints else ""
        ),
        "enterprise_name": lambda task: names.get(task.enterprise_uscc or "", task.enterprise_uscc or ""),
    }


def _names(session: Session, tasks: list[QuarantineTask]) -> dict[str, str]:
    wanted = {t.enterprise_uscc for t in tasks if t.enterprise_uscc}
    if not wanted:
        return {}
    return dict(
        session.exec(select(Enterprise.uscc, Enterprise.name).where(col(Enterprise.uscc).in_(wanted))).all()
    )


def list_page(
    request: Request,
    user: CurrentUser,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    status: Annotated[str, Query(max_length=20)] = "",
    enterprise: Annotated[str, Query(max_length=100)] = "",
    checkpoint: Annotated[str, Query(max_length=12)] = "",
    from_: Annotated[str, Query(alias="from", max_length=40)] = "",
    to: Annotated[str, Query(max_length=40)] = "",
    page_number: Annotated[str, Query(alias="page", max_length=6)] = "",
) -> Response:
    """The tasks the viewer may see, filtered (an unusable filter: 422, each field's error beside it)."""
    raw = {"status": status, "enterprise": enterprise, "checkpoint": checkpoint, "from": from_, "to": to}
    raw["page"] = page_number
    base = _home(user)
    context: dict[str, Any] = {"form": raw, "rows": [], "errors": {}, "next_url": "", "previous_url": ""}
    code = 200
    try:
        found = listing.rows(session, user, listing.parse(session, raw, zone=settings.timezone), now)
    except AppError as err:
        code, context["errors"] = err.status, err.fields
    else:
        context["rows"] = found.rows
        if found.more:
            context["next_url"] = f"{base}?{_query(raw, page=str(found.page + 1))}"
        if found.page > 1:
            context["previous_url"] = f"{base}?{_query(raw, page=str(found.page - 1))}"
    return page(
        request,
        "quarantine/list.html",
        principal,
        status=code,
        base=base,
        crossings="/enterprise/crossings" if user.role == ROLE_ENTERPRISE else "/audit/crossings",
        states=listing.STATES,
        checkpoints=session.exec(select(Checkpoint).order_by(col(Checkpoint.name))).all(),
        counts=listing.counts(session, user, now),
        **context,
        **_helpers(session, [row.task for row in context["rows"]], now),
    )


def _query(raw: dict[str, str], **extra: str) -> str:
    return urlencode({key: value for key, value in (raw | extra).items() if value})


def _detail(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    user: User,
    task_id: int,
    now: datetime,
    *,
    status: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    failure: str = "",
) -> Response:
    task = quarantine.visible_task(session=session, task_id=task_id, viewer=user)
    default = {
        "place": "",
        "arrived_at": now.astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m-%dT%H:%M"),
    }
    return page(
        request,
        "quarantine/detail.html",
        principal,
        status=status,
        task=task,
        base=_home(user),
        may_confirm=user.role == ROLE_ENTERPRISE and task.status == OPEN,
        form=form or default,
        errors=errors or {},
        failure=failure,
        **_helpers(session, [task], now),
    )


def detail_page(
    request: Request,
    task_id: TaskId,
    user: CurrentUser,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
) -> Response:
    return _detail(request, principal, session, settings, user, task_id, now)


# The same list and task page for the enterprise (its own tasks) and for bureau staff (every task), each under its
# own prefix and role guard; the guard runs before the page, so another role gets 403 whatever it asks.
for _base, _guard in (
    ("/enterprise/quarantine", require(ROLE_ENTERPRISE)),
    ("/review/quarantine", require_bureau),
):
    web.add_api_route(
        _base, list_page, methods=["GET"], response_class=HTMLResponse, dependencies=[Depends(_guard)]
    )
    web.add_api_route(
        _base + "/{task_id}",
        detail_page,
        methods=["GET"],
        response_class=HTMLResponse,
        dependencies=[Depends(_guard)],
    )


@web.get("/audit/quarantine", response_class=RedirectResponse, dependencies=[Depends(require_bureau)])
def audit_list(request: Request) -> RedirectResponse:
    """The audit's former list of quarantine tasks: the one list now (bookmarks keep their filters)."""
    query = request.url.query
    return RedirectResponse("/review/quarantine" + (f"?{query}" if query else ""), status_code=308)


@web.post("/enterprise/quarantine/{task_id}", response_class=HTMLResponse)
def enterprise_confirm(
    request: Request,
    task_id: TaskId,
    user: EnterpriseUser,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    place: Annotated[str, Form(max_length=400)] = "",
    arrived_at: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    task = quarantine.visible_task(session=session, task_id=task_id, viewer=user)
    try:
        quarantine.confirm(
            session=session,
            task=task,
            user=user,
            place=place,
            arrived_at=quarantine.parse_local(arrived_at, settings.timezone),
            now=now,
        )
    except AppError as err:
        session.rollback()
        return _detail(
            request, principal, session, settings, user, task_id, now,
            status=err.status, form={"place": place, "arrived_at": arrived_at}, errors=err.fields,
            failure=err.code,
        )  # fmt: skip
    return RedirectResponse(f"/enterprise/quarantine?confirmed={task_id}", status_code=303)
