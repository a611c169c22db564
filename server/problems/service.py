"""Use cases of a problem: the enterprise raises it, the bureau answers or passes it on, the department answers.

Who may see what: an enterprise its own problems; a department the problems passed to it; bureau staff all of
them. Anyone else gets 404, so a number reveals nothing. Each use case commits its own transaction, with its
notices (server.notices, outbox pattern).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from passcore import ids
from server import workdays
from server.accounts.models import (
    BUREAU_ROLES,
    ROLE_ADMIN,
    ROLE_DEPARTMENT,
    ROLE_ENTERPRISE,
    ROLE_REVIEWER,
    User,
)
from server.crossings.models import Crossing
from server.departments import service as departments
from server.departments.models import Department
from server.enterprises.models import Enterprise
from server.errors import BadRequest, Conflict, Forbidden, NotFound
from server.notices import service as notices
from server.passes.models import IssuedPass
from server.problems import deadlines
from server.problems.models import (
    ANSWERED,
    ANSWERED_EVENT,
    FORWARDED,
    FORWARDED_EVENT,
    KINDS,
    OPEN,
    RAISED,
    Problem,
    ProblemEvent,
)

__all__ = [
    "ACTORS",
    "MAX_TEXT",
    "Step",
    "answer",
    "forward",
    "is_overdue",
    "list_for",
    "overdue",
    "raise_problem",
    "timeline",
    "visible_problem",
]

MAX_TEXT = 2000
ACTORS = (ROLE_REVIEWER, ROLE_ADMIN)  # auditors look at problems, they do not answer them


def _text(value: str, field: str, *, minimum: int = 2) -> str:
    text = value.strip()
    if len(text) < minimum or len(text) > MAX_TEXT or not ids.usable_text(text, multiline=True):
        raise BadRequest(
            f"{field} must be {minimum}–{MAX_TEXT} characters",
            code="PROBLEM_INVALID",
            fields={field: "problem_text"},
        )
    return text


def is_overdue(problem: Problem, now: datetime) -> bool:
    return deadlines.is_overdue(problem.due_on, now, answered=problem.status == ANSWERED)


def overdue(session: Session, now: datetime) -> list[Problem]:
    """Every unanswered problem whose deadline ended before today (local), for the periodic alert sweep."""
    today = workdays.local_day(now)
    query = select(Problem).where(col(Problem.status) != ANSWERED, col(Problem.due_on) < today)
    return list(session.exec(query.order_by(col(Problem.due_on), col(Problem.id))))


def _event(
    session: Session,
    problem: Problem,
    action: str,
    user: User,
    now: datetime,
    *,
    text: str = "",
    department_id: int | None = None,
) -> None:
    assert problem.id is not None and user.id is not None
    session.add(
        ProblemEvent(
            problem_id=problem.id, action=action, at=now, by=user.id, department_id=department_id, text=text
        )
    )


def _number(problem: Problem) -> str:
    return f"{problem.id}"


def raise_problem(
    *,
    session: Session,
    user: User,
    kind: str,
    description: str,
    crossing_id: str = "",
    pass_id: str = "",
    now: datetime,
) -> Problem:
    """A new problem of the user's enterprise about one of its own crossings or passes (or neither). Committed."""
    if user.role != ROLE_ENTERPRISE or not user.enterprise_uscc:
        raise Forbidden("only an enterprise raises problems", code="ROLE_FORBIDDEN")
    fields: dict[str, str] = {}
    if kind not in KINDS:
        fields["kind"] = "problem_kind"
    try:
        text = _text(description, "description", minimum=5)
    except BadRequest as err:
        fields |= err.fields
        text = ""
    problem = Problem(
        enterprise_uscc=user.enterprise_uscc,
        raised_by=user.id or 0,
        kind=kind,
        description=text,
        received_at=now,
        due_on=deadlines.first_due(now),
    )
    if crossing_id.strip():
        crossing = session.get(Crossing, crossing_id.strip())
        # Another enterprise's crossing is "not found" to this one, as everywhere in the portal.
        if crossing is None or crossing.enterprise_uscc != user.enterprise_uscc:
            fields["crossing_id"] = "problem_crossing"
        else:
            problem.crossing_id, problem.checkpoint_id, problem.plate = (
                crossing.id,
                crossing.checkpoint_id,
                crossing.plate,
            )
            problem.pass_id = crossing.pass_id
    if pass_id.strip() and not problem.pass_id:
        issued = session.get(IssuedPass, pass_id.strip())
        if issued is None or issued.enterprise_uscc != user.enterprise_uscc:
            fields["pass_id"] = "problem_pass"  # noqa: S105 (an error code, not a password)
        else:
            problem.pass_id, problem.plate = issued.pass_id, problem.plate or issued.plate
    if fields:
        raise BadRequest("the problem is not complete", code="PROBLEM_INVALID", fields=fields)
    session.add(problem)
    session.flush()
    _event(session, problem, RAISED, user, now, text=text)
    enterprise = session.get(Enterprise, user.enterprise_uscc)
    params = {"id": _number(problem), "enterprise": enterprise.name if enterprise else user.enterprise_uscc}
    for role in ACTORS:
        notices.notify(
            session, "problem.raised", params, now=now, link=f"/review/problems/{problem.id}", role=role
        )
    session.commit()
    return problem


def visible_problem(*, session: Session, problem_id: int, viewer: User) -> Problem:
    problem = session.get(Problem, problem_id)
    if problem is None or not _may_see(problem, viewer):
        raise NotFound("no such problem", code="PROBLEM_NOT_FOUND")
    return problem


def _may_see(problem: Problem, viewer: User) -> bool:
    if viewer.role == ROLE_ENTERPRISE:
        return problem.enterprise_uscc == viewer.enterprise_uscc
    if viewer.role == ROLE_DEPARTMENT:
        return viewer.department_id is not None and problem.department_id == viewer.department_id
    return viewer.role in BUREAU_ROLES


def list_for(
    session: Session, viewer: User, *, status: str = "", overdue_only: bool = False, now: datetime
) -> list[Problem]:
    """The problems the viewer may see, oldest deadline first; unanswered ones before answered ones."""
    query = select(Problem)
    if viewer.role == ROLE_ENTERPRISE:
        query = query.where(Problem.enterprise_uscc == (viewer.enterprise_uscc or ""))
    elif viewer.role == ROLE_DEPARTMENT:
        query = query.where(Problem.department_id == (viewer.department_id or -1))
    elif viewer.role not in BUREAU_ROLES:
        return []
    if status:
        query = query.where(Problem.status == status)
    query = query.order_by(col(Problem.status) == ANSWERED, col(Problem.due_on), col(Problem.id)).limit(500)
    rows = list(session.exec(query))
    return [p for p in rows if is_overdue(p, now)] if overdue_only else rows


def forward(
    *, session: Session, problem: Problem, user: User, department_id: int, note: str, now: datetime
) -> Problem:
    """Pass an open problem to the department responsible; marked late after the day it was received. Committed."""
    if user.role not in ACTORS:
        raise Forbidden("only reviewers and administrators pass problems on", code="ROLE_FORBIDDEN")
    if problem.status != OPEN:
        raise Conflict("this problem was passed on or answered already", code="PROBLEM_NOT_OPEN")
    department = session.get(Department, department_id)
    if department is None or not department.active:
        raise BadRequest(
            "choose a department", code="PROBLEM_INVALID", fields={"department_id": "problem_department"}
        )
    text = _text(note, "note", minimum=0) if note.strip() else ""
    problem.status = FORWARDED
    problem.department_id = department.id
    problem.forwarded_at = now
    problem.forwarded_late = deadlines.forward_is_late(problem.received_at, now)
    problem.due_on = deadlines.forwarded_due(now)
    session.add(problem)
    _event(session, problem, FORWARDED_EVENT, user, now, department_id=department.id, text=text)
    params = {"id": _number(problem), "department": department.name_zh}
    staff = [u.id for u in departments.staff_of(session, department.id or 0) if u.id is not None and u.active]
    notices.notify(
        session,
        "problem.forwarded",
        params,
        now=now,
        link=f"/department/problems/{problem.id}",
        user_ids=staff,
    )
    notices.notify(
        session,
        "problem.passed_on",
        params,
        now=now,
        link=f"/enterprise/problems/{problem.id}",
        enterprise_uscc=problem.enterprise_uscc,
    )
    session.commit()
    return problem


def answer(*, session: Session, problem: Problem, user: User, text: str, now: datetime) -> Problem:
    """The answer to the enterprise: by the bureau while the problem is open, by the department it was passed
    to once forwarded. Committed."""
    if user.role == ROLE_DEPARTMENT:
        if problem.status != FORWARDED or problem.department_id != user.department_id:
            raise Conflict("this problem is not waiting for your department", code="PROBLEM_NOT_YOURS")
    elif user.role in ACTORS:
        if problem.status != OPEN:
            raise Conflict(
                "a problem passed on is answered by its department"
                if problem.status == FORWARDED
                else "this problem was answered already",
                code="PROBLEM_NOT_OPEN",
            )
    else:
        raise Forbidden("your role may not answer problems", code="ROLE_FORBIDDEN")
    body = _text(text, "answer")
    problem.status = ANSWERED
    problem.answered_at = now
    problem.answer = body
    session.add(problem)
    by_department = problem.department_id if user.role == ROLE_DEPARTMENT else None
    _event(session, problem, ANSWERED_EVENT, user, now, department_id=by_department, text=body)
    notices.notify(
        session,
        "problem.answered",
        {"id": _number(problem)},
        now=now,
        link=f"/enterprise/problems/{problem.id}",
        enterprise_uscc=problem.enterprise_uscc,
    )
    session.commit()
    return problem


@dataclass(frozen=True)
class Step:
    """One line of the timeline: what happened, when, and the department concerned (names only, never people)."""

    action: str
    at: datetime
    department: Department | None
    text: str
    by_bureau: bool


def timeline(session: Session, problem: Problem) -> list[Step]:
    query = (
        select(ProblemEvent)
        .where(ProblemEvent.problem_id == (problem.id or 0))
        .order_by(col(ProblemEvent.id))
    )
    steps = []
    for event in session.exec(query):
        department = session.get(Department, event.department_id) if event.department_id else None
        by = session.get(User, event.by)
        steps.append(
            Step(
                action=event.action,
                at=event.at,
                department=department,
                text=event.text,
                by_bureau=by is not None and by.role in BUREAU_ROLES,
            )
        )
    return steps
