"""Reading crossings for the audit: filtered lists in keyset pages, newest first.

Pages are cut by the key (decided_at, id) of the last row shown, never by an offset: page 20,000 costs what page
one costs, and rows with equal times are neither repeated nor skipped. Every filter is served by an index that
ends in (decided_at, id) (``server.crossings.models.Crossing``), so the database reads the rows in order and stops
after one page.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from passcore.ids import PROVINCES
from server.audit import buses
from server.audit.filters import CrossingFilter
from server.checkpoints.models import Checkpoint, Device
from server.crossings.models import Crossing
from server.enterprises.models import Enterprise
from server.errors import BadRequest

__all__ = ["PAGE_SIZE", "Cursor", "Page", "Row", "batches", "conditions", "iterate", "page"]

PAGE_SIZE = 50
_ID = re.compile(r"[0-9a-f-]{36}")


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's decision time and id, as an opaque URL-safe token."""

    decided_at: datetime
    id: str

    def encode(self) -> str:
        text = f"{self.decided_at.astimezone(UTC).isoformat()}|{self.id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            moment, rid = text.split("|")
            decided_at = datetime.fromisoformat(moment)
            if decided_at.tzinfo is None or not _ID.fullmatch(rid):
                raise ValueError("not a cursor")
            # Hand-made times at the calendar's ends (year 1 east of UTC, year 9999 west of it) overflow here,
            # not later in the database driver.
            decided_at = decided_at.astimezone(UTC)
        except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as err:
            raise BadRequest("the page cursor is not one this server made", code="CURSOR_INVALID") from err
        return cls(decided_at, rid)


@dataclass(frozen=True)
class Row:
    """A crossing as lists show it."""

    crossing: Crossing
    checkpoint_name: str
    enterprise_name: str | None
    body: dict[str, Any] = field(repr=False)
    device_name: str = ""

    @property
    def reasons(self) -> list[str]:
        return [str(code) for code in self.body.get("reasons", [])]

    @property
    def occupants(self) -> list[dict[str, Any]]:
        return [o for o in self.body.get("occupants", []) if isinstance(o, dict)]

    @property
    def bus(self) -> buses.Counts | None:
        """A bus's passenger counts (None: a freight vehicle)."""
        return buses.counts(self.body) if buses.is_bus(self.body) else None

    @property
    def wait_seconds(self) -> int | None:
        """A bus's wait in the priority lane, first scan to decision."""
        return buses.wait_seconds(self.body, self.crossing.decided_at)


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    next: Cursor | None


def conditions(f: CrossingFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if f.start is not None:
        found.append(col(Crossing.decided_at) >= f.start)
    if f.end is not None:
        found.append(col(Crossing.decided_at) < f.end)
    if f.checkpoint_id is not None:
        found.append(col(Crossing.checkpoint_id) == f.checkpoint_id)
    if f.enterprises is not None:
        if len(f.enterprises) == 1:
            found.append(col(Crossing.enterprise_uscc) == f.enterprises[0])
        else:
            found.append(col(Crossing.enterprise_uscc).in_(f.enterprises))  # empty: matches nothing
    if f.pass_id is not None:
        found.append(col(Crossing.pass_id) == f.pass_id)
    if f.plate is not None:
        found.append(col(Crossing.plate) == f.plate)
    if f.plate_part is not None:
        # Anywhere in the plate; a province first makes it a prefix. PostgreSQL: the trigram index (0020).
        plate = col(Crossing.plate)
        if f.plate_part[0] in PROVINCES:
            found.append(plate.startswith(f.plate_part, autoescape=True))
        else:
            found.append(plate.contains(f.plate_part, autoescape=True))
    if f.outcome is not None:
        found.append(col(Crossing.outcome) == f.outcome)
    if f.officer is not None:
        found.append(col(Crossing.officer) == f.officer)
    if f.kind is not None:
        found.append(col(Crossing.kind) == f.kind)
    return found


def _after(cursor: Cursor) -> ColumnElement[bool]:
    # Spelled as a range on decided_at plus a tie-break rather than a row comparison: both databases then walk
    # the (…, decided_at, id) index backwards from the cursor.
    return and_(
        col(Crossing.decided_at) <= cursor.decided_at,
        or_(col(Crossing.decided_at) < cursor.decided_at, col(Crossing.id) < cursor.id),
    )


def _body(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def page(session: Session, f: CrossingFilter, *, after: Cursor | None = None, limit: int = PAGE_SIZE) -> Page:
    """One page of crossings, newest first, and the cursor of the next page (None on the last)."""
    where = conditions(f)
    if after is not None:
        where.append(_after(after))
    query = (
        select(Crossing, Checkpoint.name, Enterprise.name, Device.name)
        .join(Checkpoint, col(Checkpoint.id) == col(Crossing.checkpoint_id))
        .outerjoin(Enterprise, col(Enterprise.uscc) == col(Crossing.enterprise_uscc))
        .outerjoin(Device, col(Device.id) == col(Crossing.device_id))
        .where(*where)
        .order_by(col(Crossing.decided_at).desc(), col(Crossing.id).desc())
        .limit(limit + 1)
    )
    found = [
        Row(crossing, checkpoint, enterprise, _body(crossing.body_json), device or "")
        for crossing, checkpoint, enterprise, device in session.exec(query)
    ]
    more = len(found) > limit
    rows = found[:limit]
    last = rows[-1].crossing if more else None
    return Page(rows, Cursor(last.decided_at, last.id) if last else None)


def batches(session: Session, f: CrossingFilter, *, chunk: int = 2000) -> Iterator[list[Row]]:
    """Every crossing the filter matches, newest first, in lists of at most ``chunk`` (for exports of any size:
    a batch lets the export look up what it adds to each row in one query per batch, not one per row)."""
    after: Cursor | None = None
    while True:
        batch = page(session, f, after=after, limit=chunk)
        yield batch.rows
        session.expunge_all()  # rows already written need not stay in the session's identity map
        if batch.next is None:
            return
        after = batch.next


def iterate(session: Session, f: CrossingFilter, *, chunk: int = 2000) -> Iterator[Row]:
    """Every crossing the filter matches, newest first, read a chunk at a time."""
    for rows in batches(session, f, chunk=chunk):
        yield from rows
