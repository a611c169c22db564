"""The problem pages: the enterprise raises a problem and follows it; the bureau answers or passes it on; the
department it was passed to answers. One detail page serves the three, with the actions of the viewer's role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import col, select

from server.accounts.models import ROLE_DEPARTMENT, ROLE_ENTERPRISE, User
from server.checkpoints.deps import BureauUser
from server.checkpoints.models import Checkpoint
from server.crossings.deps import EnterpriseUser
from server.crossings.models import Crossing
from server.departments import service as departments
from server.deps import ClockDep, PrincipalDep, SessionDep, require
from server.enterprises.models import Enterprise
from server.errors import AppError
from server.passes.models import IssuedPass
from server.problems import service as problems
from server.problems.models import KINDS, STATUSES, Problem
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)

ProblemId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DepartmentUser = Annotated[User, Depends(require(ROLE_DEPARTMENT))]
Text = Annotated[str, Form(max_length=4000)]
HOME = {ROLE_ENTERPRISE: "/enterprise/problems", ROLE_DEPARTMENT: "/department/problems"}
CHOICES = 20  # the enterprise's latest crossings and passes offered on the form


def _home(user: User) -> str:
    return HOME.get(user.role, "/review/problems")


def _context(session: SessionDep, now: Any) -> dict[str, Any]:
    departments_by_id = {d.id: d for d in departments.list_all(session)}
    return {
        "now": now,
        "overdue": lambda p: problems.is_overdue(p, now),
        "department_of": lambda p: departments_by_id.get(p.department_id),
        "kinds": KINDS,
    }


def _list(request: Request, principal: PrincipalDep, session: SessionDep, user: User, now: Any) -> Response:
    status = request.query_params.get("status", "")
    overdue_only = request.query_params.get("overdue") == "1"
    rows = problems.list_for(
        session, user, status=status if status in STATUSES else "", overdue_only=overdue_only, now=now
    )
    names = {e.uscc: e.name for e in session.exec(select(Enterprise))} if user.role != ROLE_ENTERPRISE else {}
    return page(
        request,
        "problems/list.html",
        principal,
        rows=rows,
        base=_home(user),
        chosen=status,
        overdue_only=overdue_only,
        statuses=STATUSES,
        enterprise_name=names.get,
        **_context(session, now),
    )


@web.get("/enterprise/problems", response_class=HTMLResponse)
def enterprise_list(
    request: Request, user: EnterpriseUser, principal: PrincipalDep, session: SessionDep, now: ClockDep
) -> Response:
    return _list(request, principal, session, user, now)


@web.get("/department/problems", response_class=HTMLResponse)
def department_list(
    request: Request, user: DepartmentUser, principal: PrincipalDep, session: SessionDep, now: ClockDep
) -> Response:
    return _list(request, principal, session, user, now)


@web.get("/review/problems", response_class=HTMLResponse)
def bureau_list(
    request: Request, user: BureauUser, principal: PrincipalDep, session: SessionDep, now: ClockDep
) -> Response:
    return _list(request, principal, session, user, now)


def _new_page(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    user: User,
    *,
    form: dict[str, str],
    status: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    uscc = user.enterprise_uscc or ""
    crossings = session.exec(
        select(Crossing)
        .where(Crossing.enterprise_uscc == uscc)
        .order_by(col(Crossing.decided_at).desc())
        .limit(CHOICES)
    ).all()
    passes = session.exec(
        select(IssuedPass)
        .where(IssuedPass.enterprise_uscc == uscc)
        .order_by(col(IssuedPass.issued_at).desc())
        .limit(CHOICES)
    ).all()
    names = {c.id: c.name for c in session.exec(select(Checkpoint))}
    return page(
        request,
        "problems/new.html",
        principal,
        status=status,
        form=form,
        errors=errors or {},
        crossings=crossings,
        passes=passes,
        checkpoint_name=names.get,
        kinds=KINDS,
    )


@web.get("/enterprise/problems/new", response_class=HTMLResponse)
def problem_form(
    request: Request,
    user: EnterpriseUser,
    principal: PrincipalDep,
    session: SessionDep,
    crossing: Annotated[str, Query(max_length=36)] = "",
    pass_id: Annotated[str, Query(max_length=24)] = "",
) -> Response:
    form = {
        "kind": "held" if crossing else "other",
        "crossing_id": crossing,
        "pass_id": pass_id,
        "description": "",
    }
    return _new_page(request, principal, session, user, form=form)


@web.post("/enterprise/problems/new", response_class=HTMLResponse)
def problem_raise(
    request: Request,
    user: EnterpriseUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    kind: Annotated[str, Form(max_length=20)] = "",
    crossing_id: Annotated[str, Form(max_length=36)] = "",
    pass_id: Annotated[str, Form(max_length=24)] = "",
    description: Text = "",
) -> Response:
    form = {"kind": kind, "crossing_id": crossing_id, "pass_id": pass_id, "description": description}
    try:
        problem = problems.raise_problem(
            session=session,
            user=user,
            kind=kind,
            description=description,
            crossing_id=crossing_id,
            pass_id=pass_id,
            now=now,
        )
    except AppError as err:
        session.rollback()
        return _new_page(request, principal, session, user, form=form, status=err.status, errors=err.fields)
    return RedirectResponse(f"/enterprise/problems/{problem.id}?raised=1", status_code=303)


def _detail(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    user: User,
    problem_id: int,
    now: Any,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    failure: str = "",
    form: dict[str, str] | None = None,
) -> Response:
    problem = problems.visible_problem(session=session, problem_id=problem_id, viewer=user)
    checkpoint = session.get(Checkpoint, problem.checkpoint_id) if problem.checkpoint_id else None
    enterprise = session.get(Enterprise, problem.enterprise_uscc)
    return page(
        request,
        "problems/detail.html",
        principal,
        status=status,
        problem=problem,
        steps=problems.timeline(session, problem),
        checkpoint=checkpoint,
        enterprise=enterprise,
        base=_home(user),
        may_forward=user.role in problems.ACTORS and problem.status == "open",
        may_answer=_may_answer(user, problem),
        choices=departments.active(session),
        errors=errors or {},
        failure=failure,
        form=form or {},
        **_context(session, now),
    )


def _may_answer(user: User, problem: Problem) -> bool:
    if user.role == ROLE_DEPARTMENT:
        return problem.status == "forwarded" and problem.department_id == user.department_id
    return user.role in problems.ACTORS and problem.status == "open"


@web.get("/enterprise/problems/{problem_id}", response_class=HTMLResponse)
def enterprise_detail(
    request: Request,
    problem_id: ProblemId,
    user: EnterpriseUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    return _detail(request, principal, session, user, problem_id, now)


@web.get("/department/problems/{problem_id}", response_class=HTMLResponse)
def department_detail(
    request: Request,
    problem_id: ProblemId,
    user: DepartmentUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    return _detail(request, principal, session, user, problem_id, now)


@web.get("/review/problems/{problem_id}", response_class=HTMLResponse)
def bureau_detail(
    request: Request,
    problem_id: ProblemId,
    user: BureauUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    return _detail(request, principal, session, user, problem_id, now)


@web.post("/review/problems/{problem_id}/forward", response_class=HTMLResponse)
def problem_forward(
    request: Request,
    problem_id: ProblemId,
    user: BureauUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    department_id: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
    note: Text = "",
) -> Response:
    problem = problems.visible_problem(session=session, problem_id=problem_id, viewer=user)
    try:
        problems.forward(
            session=session, problem=problem, user=user, department_id=department_id, note=note, now=now
        )
    except AppError as err:
        session.rollback()
        return _detail(
            request, principal, session, user, problem_id, now,
            status=err.status, errors=err.fields, failure=err.code, form={"note": note},
        )  # fmt: skip
    return RedirectResponse(f"/review/problems/{problem_id}", status_code=303)


def _answer(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    user: User,
    problem_id: int,
    now: Any,
    text: str,
) -> Response:
    problem = problems.visible_problem(session=session, problem_id=problem_id, viewer=user)
    try:
        problems.answer(session=session, problem=problem, user=user, text=text, now=now)
    except AppError as err:
        session.rollback()
        return _detail(
            request, principal, session, user, problem_id, now,
            status=err.status, errors=err.fields, failure=err.code, form={"answer": text},
        )  # fmt: skip
    return RedirectResponse(f"{_home(user)}/{problem_id}", status_code=303)


@web.post("/review/problems/{problem_id}/answer", response_class=HTMLResponse)
def bureau_answer(
    request: Request,
    problem_id: ProblemId,
    user: BureauUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    answer: Text = "",
) -> Response:
    return _answer(request, principal, session, user, problem_id, now, answer)


@web.post("/department/problems/{problem_id}/answer", response_class=HTMLResponse)
def department_answer(
    request: Request,
    problem_id: ProblemId,
    user: DepartmentUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    answer: Text = "",
) -> Response:
    return _answer(request, principal, session, user, problem_id, now, answer)
