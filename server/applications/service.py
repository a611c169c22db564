"""The application workflow: draft -> submitted -> approved / rejected -> issued -> revoked / expired.

Every state change is a conditional UPDATE (``... WHERE status = <the state it leaves>``), so two people acting on
one application at once cannot both succeed: the loser's update matches no row and gets STATUS_CONFLICT. Each
change is recorded as an ApplicationEvent in the same transaction. Use cases commit once at their end.
(issued -> revoked is recorded by ``server.passes.service.revoke_pass``, as part of the revocation.)
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from passcore import ids
from passcore.errors import InputError
from server.accounts.models import ROLE_ADMIN, ROLE_ENTERPRISE, ROLE_REVIEWER, User
from server.applications import bus, claims, conflicts, desk_index, people, replacing, risk
from server.applications.models import (
    APPROVED,
    DRAFT,
    EXPIRED,
    ISSUED,
    REJECTED,
    RETURNED,
    REVOKED,
    SUBMITTED,
    WITHDRAWN,
    Application,
    ApplicationEvent,
)
from server.applications.schemas import (
    ApplicationCreate,
    BusInfo,
    Driver,
    EnterpriseRef,
    Escort,
    Manager,
    Passenger,
    Vehicle,
    error_keys,
    parse_application,
)
from server.config import Settings
from server.enterprises.models import Enterprise
from server.errors import BadRequest, Conflict, Forbidden, NotFound
from server.keyring import service as keyring
from server.notices import announce
from server.passes import service as passes
from server.passes.models import IssuedPass
from server.policy import service as policy_service
from server.workdays import APPLICATION_DAYS, deadline

__all__ = [
    "REVIEW_ROLES",
    "TRANSITIONS",
    "approve",
    "body_of",
    "create",
    "expire_due",
    "forget_people",
    "get_visible",
    "reject",
    "submit",
    "update_draft",
]

REVIEW_ROLES = (ROLE_REVIEWER, ROLE_ADMIN)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    DRAFT: (SUBMITTED,),
    SUBMITTED: (APPROVED, REJECTED, RETURNED, WITHDRAWN),
    RETURNED: (SUBMITTED, WITHDRAWN),  # returned for correction: edited like a draft, then submitted again
    APPROVED: (ISSUED,),
    ISSUED: (REVOKED, EXPIRED),
}
MAX_REASON = 500
EDITABLE = (DRAFT, RETURNED)  # what the enterprise may still change
_ISSUE_ATTEMPTS = 5


def body_of(application: Application) -> ApplicationCreate:
    """The application as entered, full ID numbers included (opened from their sealed copy)."""
    if application.purged_at is not None:
        return _purged_body(application.body_json)
    return people.application_body(application)


def _purged_body(body_json: str) -> ApplicationCreate:
    """What retention left of an application (server.retention.issued: its people blanked), shown as it is: a
    blank name or number would not pass validation, and nothing in it is entered again."""
    data = json.loads(body_json)
    return ApplicationCreate.model_construct(
        **{
            **data,
            "enterprise": EnterpriseRef.model_construct(**data["enterprise"]),
            "vehicle": Vehicle.model_construct(**data["vehicle"]),
            "driver": Driver.model_construct(**data["driver"]),
            "escorts": [Escort.model_construct(**escort) for escort in data["escorts"]],
            # A bus (issue 14): its manager and passengers blanked the same way.
            "bus": _purged_bus(data.get("bus")),
            "passengers": [Passenger.model_construct(**p) for p in data.get("passengers") or []],
            "valid_from": datetime.fromisoformat(data["valid_from"]),
            "valid_until": datetime.fromisoformat(data["valid_until"]),
        }
    )


def _purged_bus(bus: Any) -> BusInfo | None:
    if not isinstance(bus, dict):
        return None
    return BusInfo.model_construct(
        **{**bus, "manager": Manager.model_construct(**(bus.get("manager") or {}))}
    )


def forget_people(*, session: Session, application_id: int) -> None:
    """Remove the application's full ID and licence numbers for good (retention; not committed): its body keeps
    them masked, and ``body_of`` refuses it with PEOPLE_PURGED from then on."""
    people.forget(session, application_id)


# --- who may do what -------------------------------------------------------------------------------------


def _require_reviewer(user: User) -> None:
    if user.role not in REVIEW_ROLES:
        raise Forbidden("only reviewers decide applications", code="ROLE_FORBIDDEN")


def _require_clerk(user: User) -> str:
    if user.role != ROLE_ENTERPRISE or not user.enterprise_uscc:
        raise Forbidden("only enterprise users apply for passes", code="ROLE_FORBIDDEN")
    return user.enterprise_uscc


def _verified_enterprise(session: Session, uscc: str) -> Enterprise:
    enterprise = session.get(Enterprise, uscc)
    if enterprise is None or not enterprise.verified:
        raise Forbidden(
            "your enterprise has not been verified by the transport bureau yet; you can apply once it is",
            code="ENTERPRISE_NOT_VERIFIED",
        )
    return enterprise


def get_visible(*, session: Session, application_id: int, user: User) -> Application:
    """The application if ``user`` may see it; an enterprise's own only, and another's is simply not found."""
    application = session.get(Application, application_id)
    if application is None or (
        user.role == ROLE_ENTERPRISE and application.enterprise_uscc != user.enterprise_uscc
    ):
        raise NotFound(f"no application {application_id}", code="APPLICATION_NOT_FOUND")
    return application


# --- validation ------------------------------------------------------------------------------------------


def _validate(
    session: Session, data: Any, enterprise: Enterprise, now: datetime, *, submitting: bool = False
) -> ApplicationCreate:
    """Parse ``data`` as an application of ``enterprise``, within the current policy's validity limit; when it is
    being submitted, a bus within the policy's seat limit (a draft may still be over it while it is worked on)."""
    if not isinstance(data, dict):
        raise BadRequest("an application is a JSON object", code="APPLICATION_INVALID")
    given = data.get("enterprise")
    if given is not None:
        try:
            uscc = given.get("uscc") if isinstance(given, dict) else None
            own = isinstance(uscc, str) and ids.validate_uscc(uscc) == enterprise.uscc
        except InputError:
            own = False
        if not own:
            raise Forbidden("you can apply only for your own enterprise", code="ENTERPRISE_MISMATCH")
    # The enterprise is always the applicant's own, under the name the bureau verified.
    data = {**data, "enterprise": {"name": enterprise.name, "uscc": enterprise.uscc}}
    try:
        body = parse_application(data)
    except InputError as err:
        cause = err.__cause__
        fields = error_keys(cause) if isinstance(cause, ValidationError) else {}
        raise BadRequest(err.message, code=err.code, fields=fields) from err
    try:
        passes.check_window(body, policy_service.current(session), now)
    except InputError as err:
        key = "window_over" if body.valid_until <= now else "window_too_long"
        raise BadRequest(err.message, code=err.code, fields={"valid_until": key}) from err
    if submitting:
        _check_seats(session, body)
    return body


def _check_seats(session: Session, body: ApplicationCreate) -> None:
    try:
        bus.check_seats(body, policy_service.current(session))
    except InputError as err:
        raise BadRequest(err.message, code=err.code, fields={"bus.seats": "seat_limit_exceeded"}) from err


# --- state changes ---------------------------------------------------------------------------------------


def _event(
    session: Session,
    application: Application,
    actor: User | None,
    old: str,
    new: str,
    reason: str,
    now: datetime,
) -> None:
    session.add(
        ApplicationEvent(
            application_id=application.id or 0,
            at=now,
            actor_id=actor.id if actor else None,
            from_status=old,
            to_status=new,
            reason=reason[:MAX_REASON],
        )
    )


def _transition(
    session: Session,
    application: Application,
    *,
    to: str,
    actor: User | None,
    now: datetime,
    reason: str = "",
    values: dict[str, Any] | None = None,
) -> None:
    old = application.status
    if to == SUBMITTED:  # the answer's deadline counts from each (re)submission; a claim does not outlive it
        values = {
            **(values or {}),
            "due_on": deadline(now, APPLICATION_DAYS),
            "claimed_by": None,
            "claim_until": None,
        }
    if to not in TRANSITIONS.get(old, ()):
        raise Conflict(f"an application that is {old} cannot become {to}", code="STATUS_CONFLICT")
    if to == SUBMITTED:  # one vehicle, one pass; the risk flags, stored for the queue (issue 13)
        conflicts.check_submission(session, application, now=now)
        values = {
            **(values or {}),
            **risk.columns(session, application, policy_service.current(session).hard_hit),
        }
    if not _move(session, application, old, to, now, values):
        session.rollback()
        raise Conflict("the application was changed meanwhile; reload it", code="STATUS_CONFLICT")
    _event(session, application, actor, old, to, reason, now)
    announce.application_moved(session, application, old, to, reason=reason, now=now)  # notices (issue 13)


def _move(
    session: Session,
    application: Application,
    old: str,
    to: str,
    now: datetime,
    values: dict[str, Any] | None = None,
) -> bool:
    """``UPDATE application SET status = to … WHERE id = … AND status = old``: whether it was still ``old``."""
    result = session.execute(
        update(Application)
        .where(col(Application.id) == application.id, col(Application.status) == old)
        .values(status=to, updated_at=now, **(values or {}))
        .execution_options(synchronize_session=False)
    )
    session.expire(application)  # read back what the update wrote
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def create(
    *,
    session: Session,
    user: User,
    data: Any,
    submit: bool,
    now: datetime,
    derived: dict[str, Any] | None = None,
) -> Application:
    """A new application of the user's own (verified) enterprise: saved as a draft, or submitted at once.
    ``derived``: what a copy, renewal or amendment was made from (server.applications.enterprise_work)."""
    enterprise = _verified_enterprise(session, _require_clerk(user))
    body = _validate(session, data, enterprise, now, submitting=submit)
    application = Application(
        **(derived or {}),
        enterprise_uscc=enterprise.uscc,
        created_by=user.id or 0,
        status=DRAFT,
        body_json="{}",  # sealed below: the row's id is part of what the sealed numbers are bound to
        plate=body.vehicle.plate,
        kind=body.kind,
        created_at=now,
        updated_at=now,
    )
    session.add(application)
    session.flush()
    for name, value in people.seal_application(session, application.id or 0, body).items():
        setattr(application, name, value)
    for name, value in desk_index.columns(application.body_json).items():
        setattr(application, name, value)
    session.flush()
    _event(session, application, user, "", DRAFT, "", now)
    if submit:
        _transition(session, application, to=SUBMITTED, actor=user, now=now, values={"submitted_at": now})
    session.commit()
    return application


def _own(session: Session, user: User, application_id: int) -> tuple[Application, Enterprise]:
    uscc = _require_clerk(user)
    application = get_visible(session=session, application_id=application_id, user=user)
    return application, _verified_enterprise(session, uscc)


def update_draft(
    *, session: Session, user: User, application_id: int, data: Any, submit: bool, now: datetime
) -> Application:
    """Change a draft or an application returned for correction (recorded as draft -> draft, returned ->
    returned), and submit it if asked."""
    application, enterprise = _own(session, user, application_id)
    old = application.status
    if old not in EDITABLE:
        raise Conflict(f"an application that is {old} cannot be changed", code="STATUS_CONFLICT")
    body = _validate(session, data, enterprise, now, submitting=submit)
    sealed = people.seal_application(session, application.id or 0, body)
    result = session.execute(
        update(Application)
        .where(col(Application.id) == application.id, col(Application.status) == old)
        .values(
            **sealed,
            **desk_index.columns(sealed["body_json"]),
            plate=body.vehicle.plate,
            kind=body.kind,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict("the application was changed meanwhile; reload it", code="STATUS_CONFLICT")
    session.expire(application)
    _event(session, application, user, old, old, "", now)
    if submit:
        _transition(session, application, to=SUBMITTED, actor=user, now=now, values={"submitted_at": now})
    session.commit()
    return application


def submit(*, session: Session, user: User, application_id: int, now: datetime) -> Application:
    """Send a draft (or a corrected application) to the bureau; it is validated again (the window may have passed
    since it was saved)."""
    application, enterprise = _own(session, user, application_id)
    if application.status not in EDITABLE:
        raise Conflict(
            f"an application that is {application.status} cannot be submitted", code="STATUS_CONFLICT"
        )
    body = _validate(session, body_of(application).model_dump(mode="json"), enterprise, now, submitting=True)
    sealed = people.seal_application(session, application.id or 0, body)
    _transition(
        session,
        application,
        to=SUBMITTED,
        actor=user,
        now=now,
        values={"submitted_at": now, **sealed, **desk_index.columns(sealed["body_json"])},
    )
    session.commit()
    return application


def approve(
    *,
    session: Session,
    reviewer: User,
    application_id: int,
    settings: Settings,
    now: datetime,
    replace: bool = False,
) -> Application:
    """Approve a submitted application and issue its pass in the same transaction (events: approved, issued).

    A live pass of the same plate with an overlapping window refuses it (PLATE_CONFLICT) unless ``replace``: that
    pass is then revoked in the same transaction (server.applications.conflicts)."""
    for attempt in range(_ISSUE_ATTEMPTS):
        try:
            return _approve_once(session, reviewer, application_id, settings, now, replace)
        except BadRequest as err:
            # Pass numbers are taken optimistically (the next free one, retried on a clash); when many
            # passes are issued at once that can run out of tries. All was rolled back: start again.
            if err.code != "SERIAL_CONFLICT" or attempt == _ISSUE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _approve_once(
    session: Session, reviewer: User, application_id: int, settings: Settings, now: datetime, replace: bool
) -> Application:
    _require_reviewer(reviewer)
    application = get_visible(session=session, application_id=application_id, user=reviewer)
    claims.require_free(application, reviewer, now)  # another reviewer's running claim (the review desk)
    # The conditional update comes first: it takes the row, so a concurrent approval waits for this
    # transaction and then finds the application no longer submitted. No pass is signed before it.
    values = {"decided_at": now, "decided_by": reviewer.id, "reason": ""}
    _transition(session, application, to=APPROVED, actor=reviewer, now=now, values=values)
    try:
        enterprise = session.get(Enterprise, application.enterprise_uscc)
        if enterprise is None or not enterprise.verified:
            raise Conflict(
                "the enterprise is no longer verified; a pass cannot be issued to it",
                code="ENTERPRISE_NOT_VERIFIED",
            )
        replaced = conflicts.check_approval(session, application, now=now, replace=replace)
        body = body_of(application)
        bus.check_seats(
            body, policy_service.current(session)
        )  # the policy may have tightened since submission
        issued = passes.issue(
            session=session,
            application=body,
            signer=keyring.active_issuer(session=session, settings=settings),
            policy=policy_service.current(session),
            issuer_region=settings.issuer_region,
            now=now,
        )
        issued.record.application_id = application.id
        session.add(issued.record)
        session.flush()
        replacing.retire_replaced(session, application, issued.record, reviewer, now)
        conflicts.revoke_replaced(session, replaced, serial=issued.record.serial, reviewer=reviewer, now=now)
        _transition(
            session,
            application,
            to=ISSUED,
            actor=reviewer,
            now=now,
            values={"pass_id": issued.record.pass_id},
        )
        session.commit()
    except InputError as err:
        session.rollback()
        # APPLICATION_INVALID here: the window is over, or longer than a policy changed since allows.
        code = "CANNOT_ISSUE" if err.code == "APPLICATION_INVALID" else err.code
        raise BadRequest(f"no pass can be issued: {err.message}", code=code) from err
    except IntegrityError as err:  # the unique application_id of a pass: a second pass never survives
        session.rollback()
        raise Conflict("a pass was already issued for this application", code="STATUS_CONFLICT") from err
    except BaseException:
        session.rollback()
        raise
    return application


def reject(
    *, session: Session, reviewer: User, application_id: int, reason: str, now: datetime
) -> Application:
    _require_reviewer(reviewer)
    application = get_visible(session=session, application_id=application_id, user=reviewer)
    reason = reason.strip()
    if not reason:
        raise BadRequest(
            "a rejection needs a reason", code="REASON_REQUIRED", fields={"reason": "reason_required"}
        )
    if len(reason) > MAX_REASON:
        raise BadRequest(
            f"the reason is longer than {MAX_REASON} characters",
            code="REASON_TOO_LONG",
            fields={"reason": "reason_too_long"},
        )
    if not ids.usable_text(reason, multiline=True):
        raise BadRequest(
            "the reason contains control characters",
            code="REASON_INVALID",
            fields={"reason": "reason_invalid"},
        )
    claims.require_free(application, reviewer, now)  # another reviewer's running claim (the review desk)
    values = {"decided_at": now, "decided_by": reviewer.id, "reason": reason}
    _transition(session, application, to=REJECTED, actor=reviewer, now=now, reason=reason, values=values)
    session.commit()
    return application


def expire_due(*, session: Session, now: datetime) -> int:
    """Mark issued applications whose pass has run out as expired (an event each); returns how many.

    Run before applications are shown, so there is no job to schedule; an application someone else has just
    expired or revoked is skipped, never an error.
    """
    due = session.exec(
        select(Application)
        .join(IssuedPass, col(IssuedPass.pass_id) == col(Application.pass_id))
        .where(Application.status == ISSUED, col(IssuedPass.valid_until) <= now)
        .order_by(col(Application.id))  # the same lock order everywhere: no deadlock between two of these
    ).all()
    expired = 0
    for application in due:
        if _move(session, application, ISSUED, EXPIRED, now):
            _event(session, application, None, ISSUED, EXPIRED, "", now)
            expired += 1
    if expired:
        session.commit()
    return expired


# --- for the enterprise's own work (server.applications.enterprise_work) ----------------------------------


def require_clerk(user: User) -> str:
    """The user's enterprise; Forbidden for anyone but an enterprise's own user."""
    return _require_clerk(user)


def change_status(
    *, session: Session, application: Application, to: str, actor: User, now: datetime, reason: str = ""
) -> None:
    """A state change allowed by TRANSITIONS, with its event (not committed)."""
    _transition(session, application, to=to, actor=actor, now=now, reason=reason)
