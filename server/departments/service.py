"""Configuring departments and their staff accounts (administrators only, through the router)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from passcore import ids
from server.accounts import service as accounts
from server.accounts.models import ROLE_DEPARTMENT, User
from server.accounts.passwords import check_new_password
from server.departments.models import Department
from server.errors import BadRequest, Conflict, NotFound

__all__ = ["active", "add_staff", "by_id", "create", "list_all", "set_active", "staff_of"]


def list_all(session: Session) -> list[Department]:
    return list(session.exec(select(Department).order_by(col(Department.id))))


def active(session: Session) -> list[Department]:
    return [d for d in list_all(session) if d.active]


def by_id(session: Session, department_id: int) -> Department:
    department = session.get(Department, department_id)
    if department is None:
        raise NotFound("no such department", code="DEPARTMENT_NOT_FOUND")
    return department


def _text(value: str, limit: int, field: str, *, required: bool) -> str:
    text = " ".join(value.split())
    if (required and not text) or len(text) > limit or not ids.usable_text(text):
        raise BadRequest(
            f"{field} is missing or too long", code="DEPARTMENT_INVALID", fields={field: "department_text"}
        )
    return text


def create(*, session: Session, name_zh: str, name_en: str, phone: str, now: datetime) -> Department:
    """A new department. Committed."""
    department = Department(
        name_zh=_text(name_zh, 50, "name_zh", required=True),
        name_en=_text(name_en, 80, "name_en", required=False),
        phone=_text(phone, 30, "phone", required=False),
        created_at=now,
    )
    if session.exec(select(Department).where(Department.name_zh == department.name_zh)).first():
        raise Conflict(
            "a department of this name exists",
            code="DEPARTMENT_EXISTS",
            fields={"name_zh": "department_taken"},
        )
    session.add(department)
    session.commit()
    return department


def set_active(*, session: Session, department: Department, active: bool) -> None:
    """Deactivating a department stops forwarding to it and signs its staff out of its problems. Committed."""
    department.active = active
    session.add(department)
    session.commit()


def staff_of(session: Session, department_id: int) -> list[User]:
    query = select(User).where(User.role == ROLE_DEPARTMENT, User.department_id == department_id)
    return list(session.exec(query.order_by(col(User.username))))


def add_staff(
    *,
    session: Session,
    department: Department,
    username: str,
    password: str,
    display_name: str,
    now: datetime,
) -> User:
    """A staff account of the department (role ``department``). Committed."""
    check_new_password(password)
    user = accounts.create_user(
        session=session,
        username=username,
        password=password,
        role=ROLE_DEPARTMENT,
        display_name=display_name,
        now=now,
    )
    user.department_id = department.id
    session.add(user)
    session.commit()
    return user
