"""The quarantine JSON API: an enterprise lists its tasks and confirms arrivals; bureau staff list every task."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import Session

from server.crossings.deps import EnterpriseUser
from server.deps import ClockDep, SessionDep, SettingsDep
from server.quarantine import listing
from server.quarantine import service as quarantine
from server.quarantine.deps import TaskId, TaskViewer
from server.quarantine.models import CONFIRMED, QuarantineTask
from server.quarantine.schemas import ConfirmRequest, TaskCounts, TaskList, TaskPublic

__all__ = ["api"]

api = APIRouter(prefix="/api/v1/quarantine", tags=["quarantine"])
Status = Annotated[
    str, Query(pattern=r"^(|open|overdue|confirmed)$", description="open, overdue or confirmed; empty: all")
]


def public(session: Session, task: QuarantineTask, now: datetime) -> TaskPublic:
    checkpoint = quarantine.checkpoints_by_id(session, [task]).get(task.checkpoint_id)
    return _public(task, checkpoint.name if checkpoint else "", now)


def _public(task: QuarantineTask, checkpoint: str, now: datetime) -> TaskPublic:
    return TaskPublic(
        id=task.id or 0,
        crossing_id=task.crossing_id,
        passenger=task.passenger,
        name=task.name,
        enterprise_uscc=task.enterprise_uscc,
        pass_id=task.pass_id,
        plate=task.plate,
        checkpoint_id=task.checkpoint_id,
        checkpoint=checkpoint,
        decided_at=task.decided_at,
        due_at=task.due_at,
        status=task.status,  # type: ignore[arg-type]
        overdue=quarantine.is_overdue(task, now),
        place=task.place,
        arrived_at=task.arrived_at,
        confirmed_at=task.confirmed_at,
        late=task.status == CONFIRMED and task.confirmed_at is not None and task.confirmed_at > task.due_at,
    )


@api.get("/tasks", response_model=TaskList, responses={401: {}, 403: {}, 422: {}})
def list_tasks(
    user: TaskViewer,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    status: Status = "",
    enterprise: Annotated[
        str,
        Query(max_length=100, description="credit code (USCC) or part of a name; an enterprise's own only"),
    ] = "",
    checkpoint: Annotated[str, Query(max_length=12, description="checkpoint id")] = "",
    from_: Annotated[
        str,
        Query(alias="from", max_length=40, description="released at or after: local date or time, or ISO"),
    ] = "",
    to: Annotated[
        str, Query(max_length=40, description="released before (a bare date: that whole day included)")
    ] = "",
    page: Annotated[int, Query(ge=1, le=listing.MAX_PAGE, description="1-based page of 100 tasks")] = 1,
) -> TaskList:
    """Quarantine tasks: an enterprise's own, or every task for bureau staff (reviewers, auditors,
    administrators); open ones first by due time (the overdue at the top), then the confirmed; 100 a page
    (`next_page` when more follow). An unusable `enterprise`, `checkpoint`, `from` or `to` answers 422 AUDIT_FILTER_INVALID
    naming the field in `errors`; `counts` are of all the viewer's tasks, whatever the filters."""
    raw = {"status": status, "enterprise": enterprise, "checkpoint": checkpoint, "from": from_, "to": to}
    raw["page"] = str(page)
    found = listing.rows(session, user, listing.parse(session, raw, zone=settings.timezone), now)
    counts = listing.counts(session, user, now)
    return TaskList(
        counts=TaskCounts(open=counts.open, overdue=counts.overdue, confirmed=counts.confirmed),
        tasks=[_public(row.task, row.checkpoint_name, now) for row in found.rows],
        page=found.page,
        next_page=found.page + 1 if found.more else None,
    )


@api.get("/tasks/{task_id}", response_model=TaskPublic, responses={401: {}, 403: {}, 404: {}})
def get_task(task_id: TaskId, user: TaskViewer, session: SessionDep, now: ClockDep) -> TaskPublic:
    """One task (another enterprise's answers 404, like a missing one)."""
    task = quarantine.visible_task(session=session, task_id=task_id, viewer=user)
    return public(session, task, now)


@api.post(
    "/tasks/{task_id}/confirm",
    response_model=TaskPublic,
    responses={401: {}, 403: {}, 404: {}, 409: {}, 422: {}},
)
def confirm_task(
    task_id: TaskId, body: ConfirmRequest, user: EnterpriseUser, session: SessionDep, now: ClockDep
) -> TaskPublic:
    """The enterprise confirms that the person arrived at its quarantine place: where and when.
    QUARANTINE_INVALID (422) names each bad field in `errors` (`place`, `arrived_at`: before the crossing or in the future); 409
    QUARANTINE_CONFIRMED when confirmed already."""
    task = quarantine.visible_task(session=session, task_id=task_id, viewer=user)
    task = quarantine.confirm(
        session=session, task=task, user=user, place=body.place, arrived_at=body.arrived_at, now=now
    )
    return public(session, task, now)
