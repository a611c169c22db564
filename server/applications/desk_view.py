"""What the review desk adds to the bureau's pages: the queue's filters read from a URL query (the queue's own, or
the one a review page carries back to its queue), and the review page's desk: deadline, claim, notes, next."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from sqlmodel import Session

from server.accounts.models import ROLE_ADMIN, User
from server.applications import desk, service
from server.applications.claims import claim_holder
from server.applications.desk_queue import CLAIMS, QUEUE_STATUSES, RISKS, SORTS, Filters, default_status
from server.applications.models import SUBMITTED, Application
from server.errors import BadRequest
from server.workdays import is_overdue

__all__ = ["desk_context", "filters_from", "filters_of_back"]

_TEXT_LIMIT = 60


def _choice(params: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = params.get(name, default) or default
    if value not in choices:
        raise BadRequest(
            f"{name} must be one of {', '.join(c or '(none)' for c in choices)}", code="FILTER_INVALID"
        )
    return value


def _text(params: Mapping[str, str], name: str) -> str:
    # PostgreSQL refuses NUL in any text it compares; longer input names nothing.
    value = (params.get(name) or "").replace("\x00", "").strip()
    if len(value) > _TEXT_LIMIT:
        raise BadRequest(f"{name} is longer than {_TEXT_LIMIT} characters", code="FILTER_INVALID")
    return value


def filters_from(params: Mapping[str, str]) -> Filters:
    """The queue's filters from its URL query; a value out of range is an error that says which."""
    region = _text(params, "region")
    if region and not (region.isdigit() and region.isascii() and len(region) in (2, 4, 6)):
        raise BadRequest(
            "region is a code of 2, 4 or 6 digits (province, city, county)", code="FILTER_INVALID"
        )
    page_text = params.get("page") or "1"
    if not (page_text.isascii() and page_text.isdigit() and 1 <= int(page_text) <= 100_000):
        raise BadRequest("page must be a number from 1", code="FILTER_INVALID")
    q = _text(params, "q")
    return Filters(
        status=_choice(params, "status", QUEUE_STATUSES, default_status(q)),
        sort=_choice(params, "sort", SORTS, "oldest"),
        q=q,
        region=region,
        enterprise=_text(params, "enterprise"),
        plate=_text(params, "plate"),
        person=_text(params, "person"),
        risk=_choice(params, "risk", RISKS, ""),
        overdue=params.get("overdue") in ("1", "on", "true"),
        claim=_choice(params, "claim", CLAIMS, ""),
        page=int(page_text),
    )


def filters_of_back(back: str) -> Filters:
    """The filters a review page carries back to its queue (``back``, a URL query); bad ones give the plain queue."""
    try:
        return filters_from(dict(parse_qsl(back[:1000])))
    except BadRequest:
        return Filters()


def desk_context(
    session: Session, user: User, application: Application, *, now: datetime, back: str
) -> dict[str, Any]:
    """The review page's desk: the deadline and whether it is past, the claim, internal notes (reviewers and
    administrators only), and the query of the queue it came from (for 'back' and 'next')."""
    holder_id = claim_holder(application, now)
    holder = session.get(User, holder_id) if holder_id is not None else None
    staff = user.role in service.REVIEW_ROLES
    return {
        "due_on": application.due_on,
        "due_overdue": application.status == SUBMITTED
        and application.due_on is not None
        and is_overdue(application.due_on, now),
        "claim_holder": holder.username if holder else None,
        "claim_mine": holder_id is not None and holder_id == user.id,
        "claim_until": application.claim_until if holder_id is not None else None,
        "may_claim": staff and application.status == SUBMITTED,
        "may_take_over": user.role == ROLE_ADMIN and holder_id is not None and holder_id != user.id,
        "review_notes": desk.notes(session=session, application_id=application.id or 0) if staff else None,
        "back": filters_of_back(back).query(),
    }
