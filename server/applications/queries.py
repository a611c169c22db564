"""Reading applications: an enterprise's list, the bureau's queue (oldest first, overdue marked), search, history."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from passcore import ids
from passcore.errors import InputError
from passcore.policy import Policy
from server.accounts.models import ROLE_ENTERPRISE, User
from server.applications.models import SUBMITTED, Application, ApplicationEvent
from server.enterprises.models import Enterprise
from server.passes.models import IssuedPass
from server.policy import service as policy_service

__all__ = ["Row", "events", "list_for", "queue", "row_of", "search"]

_SERIAL = re.compile(r"(\d{6})\s*-?\s*(\d{1,6})")
_PASS_ID = re.compile(r"[0-9a-f]{24}")


@dataclass(frozen=True)
class Row:
    """An application with what lists show beside it."""

    application: Application
    enterprise_name: str
    serial: str | None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    waiting: timedelta | None = None  # queue only: since submission
    overdue: bool = False


def row_of(session: Session, application: Application) -> Row:
    enterprise = session.get(Enterprise, application.enterprise_uscc)
    record = session.get(IssuedPass, application.pass_id) if application.pass_id else None
    return _row(application, enterprise.name if enterprise else "", record.serial if record else None)


def _rows_query() -> Any:
    return (
        select(Application, Enterprise.name, IssuedPass.serial)
        .join(Enterprise, col(Enterprise.uscc) == col(Application.enterprise_uscc))
        .outerjoin(IssuedPass, col(IssuedPass.pass_id) == col(Application.pass_id))
    )


def _row(application: Application, name: str, serial: str | None, **extra: Any) -> Row:
    # Lists need only the window, which the stored body holds in clear: no ID number is opened for a list.
    body = json.loads(application.body_json)
    window = (datetime.fromisoformat(body["valid_from"]), datetime.fromisoformat(body["valid_until"]))
    return Row(application, name, serial, *window, **extra)


def _plate_condition(text: str) -> Any:
    """Exactly the plate when ``text`` is one, else plates containing it (typed partly, e.g. ``A1234``)."""
    try:
        return col(Application.plate) == ids.normalize_plate(text)
    except InputError:
        fragment = text.strip().upper().translate(str.maketrans("", "", " ·•.-"))
        return col(Application.plate).contains(fragment, autoescape=True)


def list_for(
    *,
    session: Session,
    user: User,
    status: str | None = None,
    plate: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Row], int]:
    """Newest first: an enterprise's own applications, or everyone's for the bureau; and how many match."""
    conditions = []
    if user.role == ROLE_ENTERPRISE:
        conditions.append(col(Application.enterprise_uscc) == user.enterprise_uscc)
    if status:
        conditions.append(col(Application.status) == status)
    plate = (plate or "").replace("\x00", "").strip()
    if plate:
        conditions.append(_plate_condition(plate))
    total = session.exec(select(func.count()).select_from(Application).where(*conditions)).one()
    found = session.exec(
        _rows_query().where(*conditions).order_by(col(Application.id).desc()).offset(offset).limit(limit)
    ).all()
    return [_row(*found_row) for found_row in found], int(total)


def queue(*, session: Session, now: datetime, limit: int = 500) -> tuple[list[Row], Policy]:
    """Submitted applications, the longest waiting first, marked overdue after the policy's answer time."""
    policy = policy_service.current(session)
    answer = timedelta(hours=policy.review_answer_hours)
    found = session.exec(
        _rows_query()
        .where(Application.status == SUBMITTED)
        .order_by(col(Application.submitted_at), col(Application.id))
        .limit(limit)
    ).all()
    rows = []
    for application, name, serial in found:
        waiting = now - (application.submitted_at or now)
        rows.append(_row(application, name, serial, waiting=waiting, overdue=waiting > answer))
    return rows, policy


def search(*, session: Session, text: str, limit: int = 100) -> list[Row]:
    """Applications in any status by plate (whole or part), pass number (320583-000001) or pass id."""
    text = text.replace("\x00", "").strip()[:40]  # PostgreSQL refuses NUL in any text it compares
    if not text:
        return []
    serial = _SERIAL.fullmatch(text)
    if serial:
        condition = col(IssuedPass.serial) == f"{serial[1]}-{int(serial[2]):06d}"
    elif _PASS_ID.fullmatch(text.lower()):
        condition = col(Application.pass_id) == text.lower()
    else:
        condition = _plate_condition(text)
    found = session.exec(_rows_query().where(condition).order_by(col(Application.id).desc()).limit(limit))
    return [_row(*found_row) for found_row in found]


def events(*, session: Session, application_id: int) -> list[tuple[ApplicationEvent, User | None]]:
    """The application's history, oldest first, with who did each step (None: the system)."""
    found = session.exec(
        select(ApplicationEvent, User)
        .outerjoin(User, col(User.id) == col(ApplicationEvent.actor_id))
        .where(ApplicationEvent.application_id == application_id)
        .order_by(col(ApplicationEvent.at), col(ApplicationEvent.id))
    ).all()
    return [(event, user) for event, user in found]
