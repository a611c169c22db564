"""What the enterprise's and the bureau's application pages share: the template helpers, the application's
detail page (the clerk's view or the reviewer's), and recovering from a failed use case."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from passcore import ids
from passcore.policy import Policy
from server.accounts.models import ROLE_ENTERPRISE, ROLE_REVIEWER, User
from server.applications import bus, queries, service
from server.applications.conflict_view import review_context
from server.applications.desk_view import desk_context
from server.applications.forms import COLOURS
from server.applications.models import SUBMITTED, Application
from server.applications.schemas import ApplicationCreate
from server.deps import Principal
from server.documents import service as documents
from server.enterprises.models import Enterprise
from server.errors import AppError
from server.passes.models import IssuedPass
from server.policy import service as policy_service
from server.web.i18n import catalog, translate
from server.web.templating import lang_of, page

__all__ = ["NOTICES", "detail_page", "enterprise_verified", "helpers", "recover"]

NOTICES = (
    "saved",
    "submitted",
    "issued",
    "rejected",
    "withdrawn",
    "deleted",
    "returned",
    "claimed",
    "released",
    "noted",
)


def helpers(request: Request, principal: Principal, err: AppError | None = None) -> dict[str, Any]:
    lang = lang_of(request, principal)

    def duration(span: timedelta) -> str:
        minutes = max(int(span.total_seconds() // 60), 0)
        days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
        if days:
            return translate("apps.duration.days", lang, d=days, h=hours)
        return translate("apps.duration.hours", lang, h=hours, m=minutes)

    failure = None
    if err is not None:
        key = f"apps.error.{err.code}"
        failure = translate(key, lang) if key in catalog() else err.detail
    notice = request.query_params.get("notice")
    return {
        "mask": ids.mask_id,
        "colours": COLOURS,
        "duration": duration,
        "failure": failure,
        "notice": notice if notice in NOTICES else None,
    }


def recover(session: Session, principal: Principal) -> None:
    """Undo a failed use case, keeping the signed-in user loaded: a rollback expires every row the session
    holds, and the error page (rendered after the session is closed) still reads the principal's."""
    session.rollback()
    for row in (principal.user, principal.web):
        if row is not None:
            session.refresh(row)


def enterprise_verified(session: Session, user: User) -> bool:
    enterprise = session.get(Enterprise, user.enterprise_uscc) if user.enterprise_uscc else None
    return bool(enterprise and enterprise.verified)


def _serial(session: Session, application: Application) -> str | None:
    record = session.get(IssuedPass, application.pass_id) if application.pass_id else None
    return record.serial if record else None


def detail_page(
    request: Request,
    principal: Principal,
    session: Session,
    user: User,
    application: Application,
    *,
    now: datetime,
    err: AppError | None = None,
    reason: str = "",
    **kept: str,
) -> Response:
    """``kept``: other text the user typed into a form that failed (a note, what to fix), shown again."""
    template = "applications/detail.html" if user.role == ROLE_ENTERPRISE else "applications/review.html"
    reviewing = template.endswith("review.html")  # one vehicle, one pass; risk (applications/_conflicts.html)
    waiting = (
        now - application.submitted_at
        if application.status == SUBMITTED and application.submitted_at
        else None
    )
    policy = policy_service.current(session)
    answer = timedelta(hours=policy.review_answer_hours)
    body = service.body_of(application)
    shown = helpers(request, principal, err)
    if err is not None and err.code == "SEAT_LIMIT_EXCEEDED":
        shown["failure"] = _seat_limit_text(body, policy, lang_of(request, principal)) or shown["failure"]
    return page(
        request,
        template,
        principal,
        status=err.status if err else 200,
        application=application,
        body=body,
        enterprise=session.get(Enterprise, application.enterprise_uscc),
        serial=_serial(session, application),
        history=queries.events(session=session, application_id=application.id or 0),
        waiting=waiting,
        overdue=waiting is not None and waiting > answer,
        can_decide=user.role in service.REVIEW_ROLES and application.status == SUBMITTED,
        # Full ID numbers are for the reviewer who checks them against the documents (DESIGN 8): masked for
        # auditors and administrators too.
        full_ids=user.role == ROLE_REVIEWER,
        seat_percent=bus.occupancy_percent(policy),  # a bus's seat use (applications/_bus_facts.html)
        errors=err.fields if err else {},
        reason=reason,
        documents=documents.for_application(session, application.id or 0),  # applications/_documents.html
        **shown,
        **(
            review_context(session, application, now=now, lang=lang_of(request, principal))
            if reviewing
            else {}
        ),
        **(
            desk_context(session, user, application, now=now, back=_back(request))
            if template.endswith("review.html")
            else {}
        ),
        kept=kept,
    )


def _seat_limit_text(body: ApplicationCreate, policy: Policy, lang: str) -> str | None:
    """An approval (or a submission from the detail page) refused for the seat limit, with its numbers in the page's
    language: the policy in force now is the one the refusal was checked against."""
    use = bus.seat_use(body, policy)
    if use is None:
        return None
    return translate(
        "bus.seat_limit_exceeded",
        lang,
        aboard=use.aboard,
        allowed=use.allowed,
        seats=use.seats,
        percent=use.percent,
    )


def _back(request: Request) -> str:
    """The queue a review page was opened from (its URL query), carried in the page's links and forms."""
    return request.query_params.get("back", "")
