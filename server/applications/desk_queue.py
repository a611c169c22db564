"""The review queue (issue 13): pages, orders (oldest, deadline, risk), filters (status, region, enterprise, plate,
person, risk, overdue, claim) and a search over names, enterprise names and credit codes, plates and numbers.

Every filter is in the URL (``Filters.query``), so a queue is bookmarkable and paging keeps it. Names are searched in
the row's ``search_text`` (server/applications/desk_index.py), never in the stored bodies; the orders use the indexes
(status, submitted_at) and (status, due_on) of migration 0018 and A1's index on ``risk``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import and_, false, or_
from sqlmodel import Session, col, func, select

from passcore import ids
from passcore.errors import InputError
from server.accounts.models import User
from server.applications import queries
from server.applications.desk_index import normalise
from server.applications.models import DRAFT, STATUSES, SUBMITTED, Application
from server.enterprises.models import Enterprise
from server.passes.models import IssuedPass
from server.workdays import is_overdue, local_day

__all__ = [
    "ANY",
    "CLAIMS",
    "QUEUE_STATUSES",
    "RISKS",
    "SORTS",
    "DeskRow",
    "Filters",
    "Page",
    "default_status",
    "find",
    "next_id",
]

SORTS = ("oldest", "deadline", "risk")
ANY = "any"  # every status but draft: the bureau does not review what was not sent
QUEUE_STATUSES = (SUBMITTED, *(s for s in STATUSES if s not in (DRAFT, SUBMITTED)), ANY)
RISKS = ("", "flagged", "none")
CLAIMS = ("", "mine", "free", "others")
_SERIAL = re.compile(r"(\d{6})\s*-\s*(\d{1,6})")
_PASS_ID = re.compile(r"[0-9a-f]{24}")
_NUMBER = re.compile(r"#?(\d{1,10})")


def default_status(q: str) -> str:
    """Without a search, the queue is what waits for review; a search looks through every status (but drafts)."""
    return ANY if q.strip() else SUBMITTED


@dataclass(frozen=True)
class Filters:
    """What the reviewer asked the queue for; the defaults are the plain queue (submitted, oldest first)."""

    status: str = SUBMITTED
    sort: str = "oldest"
    q: str = ""
    region: str = ""
    enterprise: str = ""
    plate: str = ""
    person: str = ""
    risk: str = ""
    overdue: bool = False
    claim: str = ""
    page: int = 1

    def query(self, **changes: Any) -> str:
        """The URL query of these filters (with ``changes``), defaults left out: for links, paging and forms."""
        changed = replace(self, **changes)
        default = asdict(Filters(status=default_status(changed.q)))
        kept = {k: v for k, v in asdict(changed).items() if v != default[k]}
        if "overdue" in kept:
            kept["overdue"] = "1"
        return urlencode(kept)

    @property
    def narrowed(self) -> bool:
        """Whether anything but the order and page differs from the plain queue."""
        return replace(self, sort="oldest", page=1) != Filters(status=self.status) or self.status != SUBMITTED


@dataclass(frozen=True)
class DeskRow:
    row: queries.Row
    claimed_by: str | None  # the username of a running claim's holder
    mine: bool


@dataclass(frozen=True)
class Page:
    rows: list[DeskRow]
    total: int
    page: int
    pages: int
    size: int


def _number_condition(text: str) -> Any | None:
    """An application id (123 or #123), pass number (320583-000123) or pass id: found in any status."""
    serial = _SERIAL.fullmatch(text)
    if serial:
        return col(IssuedPass.serial) == f"{serial[1]}-{int(serial[2]):06d}"
    if _PASS_ID.fullmatch(text.lower()):
        return col(Application.pass_id) == text.lower()
    number = _NUMBER.fullmatch(text)
    if number and int(number[1]) < 2**31:
        return col(Application.id) == int(number[1])
    return None


def _text_condition(text: str) -> Any:
    """A name (a person's or an enterprise's), a plate (whole or part) or a credit code."""
    conditions = [
        col(Application.search_text).contains(normalise(text), autoescape=True),
        col(Enterprise.name).contains(text, autoescape=True),
    ]
    try:
        conditions.append(col(Application.enterprise_uscc) == ids.validate_uscc(text))
    except InputError:
        pass
    return or_(*conditions)


def _conditions(filters: Filters, user: User, now: datetime) -> list[Any]:
    conditions: list[Any] = []
    q = filters.q.strip()
    number = _number_condition(q) if q else None
    if number is not None:
        conditions.append(number)  # a number names one application: its status does not hide it
    elif filters.status == ANY:
        conditions.append(col(Application.status) != DRAFT)
    else:
        conditions.append(col(Application.status) == filters.status)
    if q and number is None:
        conditions.append(_text_condition(q))
    if filters.region:
        # Codes are stored between spaces: "3205" finds 320583 and 320500, never 132050.
        conditions.append(col(Application.regions).contains(" " + filters.region, autoescape=True))
    if filters.enterprise.strip():
        text = filters.enterprise.strip()
        try:
            conditions.append(col(Application.enterprise_uscc) == ids.validate_uscc(text))
        except InputError:
            conditions.append(col(Enterprise.name).contains(text, autoescape=True))
    if filters.plate.strip():
        conditions.append(queries._plate_condition(filters.plate))
    if filters.person.strip():
        person = normalise(filters.person)
        # Between the "|" separators: a whole name or a part of one, never across two names.
        conditions.append(
            col(Application.search_text).contains(person, autoescape=True) if person else false()
        )
    if filters.risk == "flagged":
        conditions.append(col(Application.risk) > 0)
    elif filters.risk == "none":
        conditions.append(col(Application.risk) == 0)
    if filters.overdue:
        conditions.append(col(Application.status) == SUBMITTED)
        conditions.append(col(Application.due_on) < local_day(now))
    running = and_(col(Application.claimed_by).is_not(None), col(Application.claim_until) > now)
    if filters.claim == "mine":
        conditions.append(and_(running, col(Application.claimed_by) == user.id))
    elif filters.claim == "free":
        conditions.append(~running)
    elif filters.claim == "others":
        conditions.append(and_(running, col(Application.claimed_by) != user.id))
    return conditions


def _order(sort: str) -> list[Any]:
    oldest = [col(Application.submitted_at).asc(), col(Application.id).asc()]
    if sort == "deadline":
        # No deadline (not submitted) last, on SQLite and PostgreSQL alike.
        return [col(Application.due_on).asc().nulls_last(), *oldest]
    if sort == "risk":
        return [col(Application.risk).desc(), *oldest]
    return oldest


def _joins(filters: Filters) -> tuple[bool, bool]:
    """Whether the filters read the enterprise (its name) and the pass (its number): only then are they joined
    before paging, so that the usual queue pages over the application's own indexes."""
    q = filters.q.strip()
    number = _number_condition(q) if q else None
    enterprise = bool(q and number is None) or bool(filters.enterprise.strip())
    return enterprise, q != "" and _SERIAL.fullmatch(q) is not None


def _select(columns: Any, filters: Filters, user: User, now: datetime) -> Any:
    enterprise, issued = _joins(filters)
    query = select(*columns).select_from(Application)
    if enterprise:
        query = query.join(Enterprise, col(Enterprise.uscc) == col(Application.enterprise_uscc))
    if issued:
        query = query.outerjoin(IssuedPass, col(IssuedPass.pass_id) == col(Application.pass_id))
    return query.where(*_conditions(filters, user, now))


def find(*, session: Session, filters: Filters, user: User, now: datetime, size: int) -> Page:
    """One page of the queue as ``filters`` ask, and how many match in all.

    Two steps: the page's ids (ordered and counted over the application's indexes, nothing but ids read for the
    rows skipped), then those rows with their enterprise and pass number."""
    total = int(session.exec(_select([func.count()], filters, user, now)).one())
    pages = max((total + size - 1) // size, 1)
    page = min(max(filters.page, 1), pages)
    ids = list(
        session.exec(
            _select([Application.id], filters, user, now)
            .order_by(*_order(filters.sort))
            .offset((page - 1) * size)
            .limit(size)
        ).all()
    )
    fetched = (
        session.exec(
            select(Application, Enterprise.name, IssuedPass.serial)
            .join(Enterprise, col(Enterprise.uscc) == col(Application.enterprise_uscc))
            .outerjoin(IssuedPass, col(IssuedPass.pass_id) == col(Application.pass_id))
            .where(col(Application.id).in_(ids))
        ).all()
        if ids
        else []
    )
    by_id = {application.id: (application, name, serial) for application, name, serial in fetched}
    found = [by_id[i] for i in ids if i in by_id]
    holders = {
        a.claimed_by
        for a, _, _ in found
        if a.claimed_by is not None and a.claim_until and a.claim_until > now
    }
    names = (
        dict(session.exec(select(User.id, User.username).where(col(User.id).in_(holders))).all())
        if holders
        else {}
    )
    rows = []
    for application, name, serial in found:
        waiting = now - application.submitted_at if application.submitted_at else None
        late = (
            application.status == SUBMITTED
            and application.due_on is not None
            and is_overdue(application.due_on, now)
        )
        row = queries._row(application, name, serial, waiting=waiting, overdue=late)
        holder = application.claimed_by if application.claimed_by in holders else None
        rows.append(
            DeskRow(row, names.get(holder) if holder else None, holder is not None and holder == user.id)
        )
    return Page(rows, total, page, pages, size)


def next_id(*, session: Session, filters: Filters, user: User, now: datetime, after: int) -> int | None:
    """The next application to review in this queue's order: submitted, not claimed by someone else, not ``after``
    (the one just decided, which may still show under a status filter)."""
    mine_or_free = or_(
        col(Application.claimed_by).is_(None),
        col(Application.claimed_by) == user.id,
        col(Application.claim_until) <= now,
    )
    query = (
        _select([Application.id], replace(filters, status=SUBMITTED, page=1), user, now)
        .where(col(Application.status) == SUBMITTED, mine_or_free, col(Application.id) != after)
        .order_by(*_order(filters.sort))
        .limit(1)
    )
    found = session.exec(query).first()
    return int(found) if found is not None else None
