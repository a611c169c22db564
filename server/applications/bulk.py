"""Bulk approval (issue 13): the reviewer selects applications on the queue and confirms once; only low-risk ones
are approved — submitted, no risk flag (``risk == 0``), no other pass or open application of the plate overlapping
(server/applications/conflicts.py), not claimed by someone else — each through ``service.approve``, so each is
checked and issued exactly as a single approval is. The rest are listed with why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from server.accounts.models import User
from server.applications import conflicts, queries, service
from server.applications.claims import claim_holder
from server.applications.models import SUBMITTED
from server.config import Settings
from server.errors import AppError, NotFound

__all__ = ["MAX_BULK", "Outcome", "Plan", "approve_all", "plan"]

MAX_BULK = 100  # one queue page at most; each approval signs a pass


@dataclass
class Plan:
    ready: list[queries.Row] = field(default_factory=list)
    skipped: list[tuple[int, queries.Row | None, str]] = field(default_factory=list)  # (id, row, why: a code)


@dataclass
class Outcome:
    approved: list[queries.Row] = field(default_factory=list)
    refused: list[tuple[int, queries.Row | None, str]] = field(default_factory=list)


def _why_not(
    session: Session, reviewer: User, application_id: int, now: datetime
) -> tuple[queries.Row | None, str]:
    """(the row, "" when it may be approved in bulk, else why not: a stable code)."""
    try:
        application = service.get_visible(session=session, application_id=application_id, user=reviewer)
    except NotFound:
        return None, "APPLICATION_NOT_FOUND"
    row = queries.row_of(session, application)
    if application.status != SUBMITTED:
        return row, "STATUS_CONFLICT"
    if application.risk:
        return row, "RISK_FLAGGED"
    holder = claim_holder(application, now)
    if holder is not None and holder != reviewer.id:
        return row, "CLAIMED"
    if conflicts.plate_conflicts(session, application, now=now):
        return row, "PLATE_CONFLICT"
    return row, ""


def plan(*, session: Session, reviewer: User, ids: list[int], now: datetime) -> Plan:
    """What a bulk approval of ``ids`` would approve, and what it would leave and why."""
    result = Plan()
    for application_id in ids:
        row, why = _why_not(session, reviewer, application_id, now)
        if why or row is None:
            result.skipped.append((application_id, row, why))
        else:
            result.ready.append(row)
    return result


def approve_all(
    *, session: Session, reviewer: User, ids: list[int], settings: Settings, now: datetime
) -> Outcome:
    """Approve each of ``ids`` that is still low-risk, one transaction each (a refusal leaves the others)."""
    service._require_reviewer(reviewer)
    result = Outcome()
    for application_id in ids:
        row, why = _why_not(session, reviewer, application_id, now)
        if why or row is None:
            result.refused.append((application_id, row, why))
            continue
        try:
            application = service.approve(
                session=session, reviewer=reviewer, application_id=application_id, settings=settings, now=now
            )
        except AppError as err:
            session.rollback()
            result.refused.append((application_id, row, err.code))
            continue
        result.approved.append(queries.row_of(session, application))
    return result
