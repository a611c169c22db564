"""The enterprise's own work on its applications (issue 13): copy one, renew or amend a pass, withdraw what is
waiting for a decision, delete a draft.

A copy, a renewal and an amendment are new drafts with the content of the one they come from, opened for editing;
they record what they were made from (``derived_from``, ``derivation``). A renewal and an amendment also name the
pass they replace (``replaces_pass_id``): the plate's one-pass rule does not count it as a conflict, and it is
revoked when the new pass is issued if the two overlap (``server.applications.replacing``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, SQLModel

from passcore import ids
from server.accounts.models import User
from server.applications import people, service
from server.applications.models import DRAFT, EXPIRED, ISSUED, WITHDRAWN, Application
from server.applications.schemas import ApplicationCreate
from server.documents import service as documents
from server.errors import BadRequest, Conflict
from server.passes.models import IssuedPass, Revocation
from server.policy import service as policy_service

__all__ = ["AMEND", "COPY", "DERIVATIONS", "RENEW", "delete_draft", "derive", "withdraw", "withdrawable"]

COPY, RENEW, AMEND = "copy", "renew", "amend"
DERIVATIONS = (COPY, RENEW, AMEND)
WITHDRAWABLE = tuple(status for status, targets in service.TRANSITIONS.items() if WITHDRAWN in targets)


def withdrawable(application: Application) -> bool:
    return application.status in WITHDRAWABLE


def _next_hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _live_pass(session: Session, application: Application, now: datetime) -> IssuedPass | None:
    """The application's pass while it is neither revoked nor run out."""
    record = session.get(IssuedPass, application.pass_id) if application.pass_id else None
    if record is None or record.valid_until <= now or session.get(Revocation, record.pass_id) is not None:
        return None
    return record


def _window(
    kind: str, body: ApplicationCreate, record: IssuedPass | None, now: datetime, max_days: int
) -> tuple[datetime, datetime]:
    """The new validity window: an amendment keeps the pass's; a renewal follows it (or starts in the next hour
    when it has run out); a copy keeps a window still to come, else moves it to start in the next hour. The length
    is kept, within what the policy allows now."""
    length = min(body.valid_until - body.valid_from, timedelta(days=max_days))
    if kind == AMEND and record is not None:
        return record.valid_from, record.valid_until
    if kind == RENEW:
        start = max(record.valid_until if record is not None else body.valid_until, _next_hour(now))
        return start, start + length
    if body.valid_from > now:
        return body.valid_from, body.valid_from + length
    start = _next_hour(now)
    return start, start + length


def derive(*, session: Session, user: User, application_id: int, kind: str, now: datetime) -> Application:
    """A new draft made from one of the enterprise's own applications: a copy (of any), a renewal (of an issued
    or expired pass) or an amendment (of a pass still live). Another enterprise's application is not found."""
    if kind not in DERIVATIONS:
        raise BadRequest(f"unknown kind {kind!r}", code="DERIVATION_UNKNOWN")
    service.require_clerk(user)
    source = service.get_visible(session=session, application_id=application_id, user=user)
    if source.purged_at is not None or source.people_sealed == people.PURGED:
        raise Conflict(
            "the people of this application were removed by retention; start a new application",
            code="PEOPLE_PURGED",
        )
    record = _live_pass(session, source, now)
    if kind == RENEW and source.status not in (ISSUED, EXPIRED):
        raise Conflict("only an issued or expired pass can be renewed", code="STATUS_CONFLICT")
    if kind == AMEND and (source.status != ISSUED or record is None):
        raise Conflict("only a pass that is still valid can be amended", code="STATUS_CONFLICT")
    body = service.body_of(source)
    valid_from, valid_until = _window(
        kind, body, record, now, policy_service.current(session).max_validity_days
    )
    data: dict[str, Any] = body.model_copy(
        update={"valid_from": valid_from, "valid_until": valid_until}
    ).model_dump(mode="json")
    derived: dict[str, Any] = {"derived_from": source.id, "derivation": kind}
    if kind in (RENEW, AMEND) and record is not None:
        derived["replaces_pass_id"] = record.pass_id
    return service.create(session=session, user=user, data=data, submit=False, now=now, derived=derived)


def withdraw(*, session: Session, user: User, application_id: int, reason: str, now: datetime) -> Application:
    """Take back an application waiting for a decision (submitted, or returned for correction)."""
    service.require_clerk(user)
    application = service.get_visible(session=session, application_id=application_id, user=user)
    if not ids.usable_text(reason, multiline=True):
        raise BadRequest("the reason contains control characters", code="REASON_INVALID")
    reason = reason.strip()[: service.MAX_REASON]
    service.change_status(
        session=session, application=application, to=WITHDRAWN, actor=user, now=now, reason=reason
    )
    session.commit()
    return application


def delete_draft(*, session: Session, user: User, application_id: int) -> None:
    """Delete a draft for good, with its documents and everything else that refers to it (its history, its
    person hashes). Only a draft: what the bureau has seen stays on record."""
    service.require_clerk(user)
    application = service.get_visible(session=session, application_id=application_id, user=user)
    if application.status != DRAFT:
        raise Conflict(
            f"an application that is {application.status} cannot be deleted; only a draft can",
            code="STATUS_CONFLICT",
        )
    documents.delete_for_application(session, application.id or 0)
    # Every table with a reference to the application (events, person hashes, and whatever refers to one later):
    # a draft has been seen by nobody but its enterprise, so nothing of it needs keeping.
    for table in reversed(SQLModel.metadata.sorted_tables):
        for column in table.columns:
            if table.name != "application" and any(
                fk.column.table.name == "application" for fk in column.foreign_keys
            ):
                session.execute(delete(table).where(column == application.id))
    # The conditional delete: a draft submitted a moment ago in another tab is not deleted.
    result = session.execute(
        delete(Application).where(Application.id == application.id, Application.status == DRAFT)  # type: ignore[arg-type]
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict("the application was changed meanwhile; reload it", code="STATUS_CONFLICT")
    session.commit()
