"""The one list of quarantine tasks (issue 14): the enterprise's own, or every task for bureau staff (reviewers
follow them up, auditors audit them, administrators both), filtered by state (open: not confirmed yet, overdue
among them; overdue: open past its due time; confirmed), enterprise, checkpoint and release time, most urgent first, a page at a time. The portal page
(``/review/quarantine``, ``/enterprise/quarantine``) and the API (``GET /api/v1/quarantine/tasks``) both read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from server.accounts.models import BUREAU_ROLES, ROLE_ENTERPRISE, User
from server.audit.filters import enterprises_matching, parse_range
from server.checkpoints.models import Checkpoint
from server.enterprises.models import Enterprise
from server.errors import BadRequest
from server.quarantine.models import CONFIRMED, OPEN, QuarantineTask

__all__ = [
    "FIELDS",
    "MAX_PAGE",
    "PAGE_SIZE",
    "STATES",
    "Counts",
    "Listing",
    "TaskFilter",
    "TaskRow",
    "counts",
    "parse",
    "rows",
    "state_of",
]

FIELDS = ("status", "enterprise", "checkpoint", "from", "to", "page")
OVERDUE = "overdue"  # not a stored status: open and past its due time
STATES = (OPEN, OVERDUE, CONFIRMED)  # the filters; a row's own state is one of them too
PAGE_SIZE = 100
MAX_PAGE = 1000  # 100 000 tasks deep: beyond that the filters are the way, and the offset stays cheap


@dataclass(frozen=True)
class TaskFilter:
    status: str | None = None
    enterprises: tuple[str, ...] | None = None
    checkpoint_id: int | None = None
    start: datetime | None = None  # released at the checkpoint at or after
    end: datetime | None = (
        None  # ... and before: the dashboard's range, whose task figures count by decided_at
    )
    page: int = 1


@dataclass(frozen=True)
class TaskRow:
    task: QuarantineTask
    state: str  # open, overdue or confirmed
    checkpoint_name: str
    enterprise_name: str | None


@dataclass(frozen=True)
class Listing:
    rows: list[TaskRow]
    page: int
    more: bool  # another page follows


@dataclass(frozen=True)
class Counts:
    open: int
    overdue: int
    confirmed: int


def state_of(task: QuarantineTask, now: datetime) -> str:
    if task.status == CONFIRMED:
        return CONFIRMED
    return OVERDUE if task.due_at < now else OPEN


def parse(session: Session, raw: Mapping[str, str], *, zone: str) -> TaskFilter:
    """The filter the query string asks for (``from``/``to`` as the audit's: local date or time, or ISO with a
    zone; a bare ``to`` date takes in its whole day); ``BadRequest`` (422, AUDIT_FILTER_INVALID) naming each
    unusable field. An enterprise's own scope is applied by ``rows``, whatever ``enterprise`` says."""
    fields: dict[str, str] = {}
    clean = {
        key: "".join(ch for ch in str(raw.get(key) or "") if ch.isprintable())[:100].strip() for key in FIELDS
    }
    status = clean["status"].lower() or None
    if status is not None and status not in STATES:
        fields["status"] = "audit_task_status_invalid"
    checkpoint_id = None
    if clean["checkpoint"]:
        if clean["checkpoint"].isdigit() and 1 <= int(clean["checkpoint"]) < 2**31:
            checkpoint_id = int(clean["checkpoint"])
        else:
            fields["checkpoint"] = "audit_checkpoint_invalid"
    page = 1
    if clean["page"]:
        if clean["page"].isdigit() and 1 <= int(clean["page"]) <= MAX_PAGE:
            page = int(clean["page"])
        else:
            fields["page"] = "quarantine_page_invalid"
    released = parse_range(clean, zone, fields)
    enterprises = enterprises_matching(session, clean["enterprise"], fields)
    if fields:
        raise BadRequest("some filters cannot be used", code="AUDIT_FILTER_INVALID", fields=fields)
    return TaskFilter(status, enterprises, checkpoint_id, released.start, released.end, page)


def _scope(viewer: User) -> list[ColumnElement[bool]] | None:
    """What the viewer may see: an enterprise its own tasks, bureau staff all; None: nothing at all."""
    if viewer.role == ROLE_ENTERPRISE:
        return [col(QuarantineTask.enterprise_uscc) == (viewer.enterprise_uscc or "")]
    return [] if viewer.role in BUREAU_ROLES else None


def _conditions(f: TaskFilter, now: datetime) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    status, due = col(QuarantineTask.status), col(QuarantineTask.due_at)
    if f.status == OVERDUE:
        found += [status == OPEN, due < now]
    elif f.status == OPEN:
        found.append(
            status == OPEN
        )  # overdue ones too: they are the first to chase (as the counts count them)
    elif f.status == CONFIRMED:
        found.append(status == CONFIRMED)
    if f.enterprises is not None:
        found.append(col(QuarantineTask.enterprise_uscc).in_(f.enterprises))  # empty: matches nothing
    if f.checkpoint_id is not None:
        found.append(col(QuarantineTask.checkpoint_id) == f.checkpoint_id)
    if f.start is not None:
        found.append(col(QuarantineTask.decided_at) >= f.start)
    if f.end is not None:
        found.append(col(QuarantineTask.decided_at) < f.end)
    return found


def rows(
    session: Session, viewer: User, f: TaskFilter, now: datetime, *, page_size: int = PAGE_SIZE
) -> Listing:
    """Open tasks first by due time (so the overdue, then the next due, are at the top), then the confirmed, by
    due time; ties by id, so the pages are stable while nothing changes. An enterprise's ``enterprise`` filter can
    only narrow its own tasks."""
    scope = _scope(viewer)
    if scope is None:
        return Listing([], f.page, more=False)
    query = (
        select(QuarantineTask, Checkpoint.name, Enterprise.name)
        .join(Checkpoint, col(Checkpoint.id) == col(QuarantineTask.checkpoint_id))
        .outerjoin(Enterprise, col(Enterprise.uscc) == col(QuarantineTask.enterprise_uscc))
        .where(*scope, *_conditions(f, now))
        .order_by(
            col(QuarantineTask.status) == CONFIRMED,
            col(QuarantineTask.due_at),
            col(QuarantineTask.id),
        )
        .offset((f.page - 1) * page_size)
        .limit(page_size + 1)  # one more tells whether a next page exists
    )
    found = [
        TaskRow(task, state_of(task, now), checkpoint, enterprise)
        for task, checkpoint, enterprise in session.exec(query)
    ]
    return Listing(found[:page_size], f.page, more=len(found) > page_size)


def counts(session: Session, viewer: User, now: datetime) -> Counts:
    """How many of the viewer's tasks are open, overdue (of the open) and confirmed, whatever the filter."""
    scope = _scope(viewer)

    def number(*where: Any) -> int:
        if scope is None:
            return 0
        query = select(func.count()).select_from(QuarantineTask).where(*scope, *where)
        return int(session.exec(query).one())

    return Counts(
        open=number(QuarantineTask.status == OPEN),
        overdue=number(QuarantineTask.status == OPEN, col(QuarantineTask.due_at) < now),
        confirmed=number(QuarantineTask.status == CONFIRMED),
    )
