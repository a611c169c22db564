"""The administrator's department pages: departments problems can be passed to, and each one's staff accounts
(role ``department``). Bureau accounts are managed on the users pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from server.accounts.deps import AdminUser
from server.departments import service as departments
from server.departments.models import Department
from server.deps import ClockDep, PrincipalDep, SessionDep
from server.errors import AppError
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)

DepartmentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Short = Annotated[str, Form(max_length=200)]


def _list_page(request: Request, principal: PrincipalDep, session: SessionDep, **context: Any) -> Response:
    context.setdefault("form", {})
    rows = [(d, len(departments.staff_of(session, d.id or 0))) for d in departments.list_all(session)]
    return page(request, "departments/list.html", principal, rows=rows, **context)


@web.get("/admin/departments", response_class=HTMLResponse)
def department_list(request: Request, _: AdminUser, principal: PrincipalDep, session: SessionDep) -> Response:
    return _list_page(request, principal, session)


@web.post("/admin/departments", response_class=HTMLResponse)
def department_create(
    request: Request,
    _: AdminUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    name_zh: Short = "",
    name_en: Short = "",
    phone: Short = "",
) -> Response:
    form = {"name_zh": name_zh, "name_en": name_en, "phone": phone}
    try:
        department = departments.create(
            session=session, name_zh=name_zh, name_en=name_en, phone=phone, now=now
        )
    except AppError as err:
        session.rollback()
        return _list_page(request, principal, session, status=err.status, form=form, errors=err.fields)
    return RedirectResponse(f"/admin/departments/{department.id}", status_code=303)


def _detail_page(
    request: Request, principal: PrincipalDep, session: SessionDep, department: Department, **context: Any
) -> Response:
    context.setdefault("form", {})
    staff = departments.staff_of(session, department.id or 0)
    return page(request, "departments/detail.html", principal, department=department, staff=staff, **context)


@web.get("/admin/departments/{department_id}", response_class=HTMLResponse)
def department_detail(
    request: Request, department_id: DepartmentId, _: AdminUser, principal: PrincipalDep, session: SessionDep
) -> Response:
    return _detail_page(request, principal, session, departments.by_id(session, department_id))


@web.post("/admin/departments/{department_id}/staff", response_class=HTMLResponse)
def staff_create(
    request: Request,
    department_id: DepartmentId,
    _: AdminUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    username: Short = "",
    display_name: Short = "",
    password: Short = "",
) -> Response:
    department = departments.by_id(session, department_id)
    try:
        departments.add_staff(
            session=session,
            department=department,
            username=username,
            password=password,
            display_name=display_name,
            now=now,
        )
    except AppError as err:
        session.rollback()
        form = {"username": username, "display_name": display_name}
        return _detail_page(
            request, principal, session, department, status=err.status, form=form, errors=err.fields
        )
    return RedirectResponse(f"/admin/departments/{department_id}?added=1", status_code=303)


@web.post("/admin/departments/{department_id}/active")
def department_active(
    department_id: DepartmentId,
    _: AdminUser,
    session: SessionDep,
    active: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    departments.set_active(
        session=session, department=departments.by_id(session, department_id), active=active == "1"
    )
    return RedirectResponse(f"/admin/departments/{department_id}", status_code=303)
