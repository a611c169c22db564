"""The reviewer's desk (issue 13): claiming an application, internal notes, returning it for correction (退回补正).

A claim says who works an application and until when (``claim_until``, the settings' ``review_claim_minutes`` from
the claim). While a claim runs, only its holder decides the application: approval, rejection and return by anyone
else are refused with CLAIMED (``require_free``), an administrator included, who takes the claim over first
(``claim(..., take_over=True)``). An expired claim binds nobody. Claims are taken with a conditional UPDATE, so of two
reviewers claiming at once one wins and the other is told who has it. A decision ends the claim with the status
(it only matters while an application is submitted; resubmission clears it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from passcore import ids
from server.accounts.models import ROLE_ADMIN, User
from server.applications import service
from server.applications.claims import claim_holder, require_free
from server.applications.models import RETURNED, SUBMITTED, Application, ReviewNote
from server.errors import BadRequest, Conflict, Forbidden
from server.notices import service as notices

__all__ = [
    "MAX_NOTE",
    "add_note",
    "claim",
    "claim_holder",
    "notes",
    "release",
    "require_free",
    "return_for_correction",
]

MAX_NOTE = 1000


def claim(
    *, session: Session, user: User, application_id: int, minutes: int, now: datetime, take_over: bool = False
) -> Application:
    """Claim a submitted application for ``minutes`` (again: extends one's own claim). ``take_over``: an
    administrator takes someone else's running claim."""
    service._require_reviewer(user)
    application = service.get_visible(session=session, application_id=application_id, user=user)
    if take_over and user.role != ROLE_ADMIN:
        raise Forbidden("only an administrator takes over a claim", code="ROLE_FORBIDDEN")
    free = or_(
        col(Application.claimed_by).is_(None),
        col(Application.claimed_by) == user.id,
        col(Application.claim_until) <= now,
    )
    conditions = [col(Application.id) == application.id, col(Application.status) == SUBMITTED]
    if not take_over:
        conditions.append(free)
    result = session.execute(
        update(Application)
        .where(*conditions)
        .values(claimed_by=user.id, claim_until=now + timedelta(minutes=minutes))
        .execution_options(synchronize_session=False)
    )
    session.expire(application)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        if application.status != SUBMITTED:
            raise Conflict("only a submitted application can be claimed", code="STATUS_CONFLICT")
        raise Conflict("another reviewer has claimed this application", code="CLAIMED")
    session.commit()
    return application


def release(*, session: Session, user: User, application_id: int) -> Application:
    """Give a claim back (the holder's own; an administrator releases anyone's). Nothing to release is no error."""
    service._require_reviewer(user)
    application = service.get_visible(session=session, application_id=application_id, user=user)
    conditions = [col(Application.id) == application.id]
    if user.role != ROLE_ADMIN:
        conditions.append(col(Application.claimed_by) == user.id)
    session.execute(
        update(Application)
        .where(*conditions)
        .values(claimed_by=None, claim_until=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(application)
    return application


def _checked_text(text: str, *, field: str, limit: int, missing: str) -> str:
    text = text.strip()
    if not text:
        raise BadRequest(f"the {field} is empty", code=missing, fields={field: missing.lower()})
    if len(text) > limit:
        raise BadRequest(
            f"the {field} is longer than {limit} characters",
            code="TEXT_TOO_LONG",
            fields={field: "text_too_long"},
        )
    if not ids.usable_text(text, multiline=True):
        raise BadRequest(
            f"the {field} contains control characters", code="TEXT_INVALID", fields={field: "text_invalid"}
        )
    return text


def add_note(*, session: Session, user: User, application_id: int, text: str, now: datetime) -> ReviewNote:
    """An internal note (reviewers and administrators; never shown to the enterprise)."""
    service._require_reviewer(user)
    application = service.get_visible(session=session, application_id=application_id, user=user)
    note = ReviewNote(
        application_id=application.id or 0,
        author_id=user.id or 0,
        at=now,
        text=_checked_text(text, field="note", limit=MAX_NOTE, missing="NOTE_REQUIRED"),
    )
    session.add(note)
    session.commit()
    return note


def notes(*, session: Session, application_id: int) -> list[tuple[ReviewNote, User]]:
    """The application's internal notes, oldest first, with their authors."""
    found = session.exec(
        select(ReviewNote, User)
        .join(User, col(User.id) == col(ReviewNote.author_id))
        .where(ReviewNote.application_id == application_id)
        .order_by(col(ReviewNote.at), col(ReviewNote.id))
    ).all()
    return [(note, author) for note, author in found]


def return_for_correction(
    *, session: Session, reviewer: User, application_id: int, fix: str, now: datetime
) -> Application:
    """Send a submitted application back to its enterprise with what to fix; the enterprise edits it like a draft
    and submits it again, which starts the answer's deadline again. The enterprise is notified."""
    service._require_reviewer(reviewer)
    application = service.get_visible(session=session, application_id=application_id, user=reviewer)
    fix = _checked_text(fix, field="fix", limit=service.MAX_REASON, missing="FIX_REQUIRED")
    require_free(application, reviewer, now)
    values = {"reason": fix, "due_on": None, "claimed_by": None, "claim_until": None}
    service._transition(session, application, to=RETURNED, actor=reviewer, now=now, reason=fix, values=values)
    notices.notify(
        session,
        "application.returned",
        {"id": str(application.id), "plate": application.plate, "fix": fix},
        now=now,
        link=f"/enterprise/applications/{application.id}",
        enterprise_uscc=application.enterprise_uscc,
    )
    session.commit()
    return application
