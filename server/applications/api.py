"""The applications JSON API: apply, list, read, follow the history, submit, approve (issuing the pass), reject."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel
from sqlmodel import Session

from server.accounts.models import BUREAU_ROLES, User
from server.applications import enterprise_work, queries, risk, service
from server.applications.deps import ApplicationId, ClerkDep, ReviewerDep, expired_first
from server.applications.models import STATUSES, Application
from server.applications.schemas import (
    ApplicationBody,
    ApplicationList,
    ApplicationPublic,
    ApplicationShown,
    ApplicationSummary,
    EventPublic,
    ReasonBody,
    RiskReason,
)
from server.deps import ClockDep, CurrentUser, SessionDep, SettingsDep

__all__ = ["api"]

api = APIRouter(prefix="/api/v1/applications", tags=["applications"], dependencies=[Depends(expired_first)])
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or an unknown bearer token"},
    403: {"description": "wrong role, or (enterprise) not verified yet: `ENTERPRISE_NOT_VERIFIED`"},
    404: {"description": "no such application (or another enterprise's)"},
    409: {"description": "the application is not in a state that allows this: `STATUS_CONFLICT`"},
    422: {"description": "invalid input; `errors` maps each field to a message key"},
}


def _summary(row: queries.Row, viewer: User) -> ApplicationSummary:
    a = row.application
    # Risk flags are the bureau's own assessment (server/applications/risk.py): not shown to enterprises.
    bureau = viewer.role in BUREAU_ROLES
    return ApplicationSummary(
        risk=a.risk if bureau else None,
        risk_reasons=[RiskReason(**r) for r in risk.reasons_of(a)] if bureau else None,
        id=a.id or 0,
        status=a.status,
        enterprise_uscc=a.enterprise_uscc,
        enterprise_name=row.enterprise_name,
        plate=a.plate,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        created_at=a.created_at,
        updated_at=a.updated_at,
        submitted_at=a.submitted_at,
        decided_at=a.decided_at,
        reason=a.reason,
        pass_id=a.pass_id,
        serial=row.serial,
    )


def _public(session: Session, application: Application, viewer: User) -> ApplicationPublic:
    row = queries.row_of(session, application)
    # Masked for every role: the reviewer's review page is the one place that shows full numbers.
    shown = ApplicationShown.masked(service.body_of(row.application))
    return ApplicationPublic(**_summary(row, viewer).model_dump(), application=shown)


def _request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` inlined, to document a body the route validates itself."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                target = defs[node["$ref"].rsplit("/", 1)[1]]
                return inline({**target, **{k: v for k, v in node.items() if k != "$ref"}})
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return inline(schema)  # type: ignore[no-any-return]


@api.post(
    "",
    status_code=201,
    response_model=ApplicationPublic,
    responses=ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _request_schema(ApplicationBody)}},
        }
    },
)
def create_application(
    data: Annotated[dict[str, Any], Body()],
    user: ClerkDep,
    session: SessionDep,
    now: ClockDep,
    submit: Annotated[bool, Query(description="submit at once instead of saving a draft")] = False,
) -> ApplicationPublic:
    """A new application of your own enterprise (the `enterprise` part, if sent, must be it).

    Validated like `checkpass issue APPLICATION.json`, and the validity window against the current policy."""
    application = service.create(session=session, user=user, data=data, submit=submit, now=now)
    return _public(session, application, user)


@api.get("", response_model=ApplicationList, responses=ERRORS)
def list_applications(
    user: CurrentUser,
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
    plate: Annotated[str | None, Query(max_length=20, description="a plate, or part of one")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ApplicationList:
    """Newest first: an enterprise sees its own applications, bureau staff see all."""
    rows, total = queries.list_for(
        session=session, user=user, status=status, plate=plate, limit=limit, offset=offset
    )
    return ApplicationList(items=[_summary(r, user) for r in rows], total=total)


@api.get("/{application_id}", response_model=ApplicationPublic, responses=ERRORS)
def get_application(
    application_id: ApplicationId, user: CurrentUser, session: SessionDep
) -> ApplicationPublic:
    application = service.get_visible(session=session, application_id=application_id, user=user)
    return _public(session, application, user)


@api.get("/{application_id}/events", response_model=list[EventPublic], responses=ERRORS)
def application_events(
    application_id: ApplicationId, user: CurrentUser, session: SessionDep
) -> list[EventPublic]:
    """Every change, oldest first: who (bureau staff see usernames), when, from which status to which."""
    service.get_visible(session=session, application_id=application_id, user=user)
    return [
        EventPublic.of(event, actor, user)
        for event, actor in queries.events(session=session, application_id=application_id)
    ]


@api.post("/{application_id}/submit", response_model=ApplicationPublic, responses=ERRORS)
def submit_application(
    application_id: ApplicationId, user: ClerkDep, session: SessionDep, now: ClockDep
) -> ApplicationPublic:
    application = service.submit(session=session, user=user, application_id=application_id, now=now)
    return _public(session, application, user)


@api.post("/{application_id}/approve", response_model=ApplicationPublic, responses=ERRORS)
def approve_application(
    application_id: ApplicationId,
    user: ReviewerDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    replace: Annotated[
        bool,
        Query(
            description="revoke the live passes of the same plate whose validity overlaps (reason: "
            "'replaced by <new serial>'); without it such a pass refuses the approval: 409 `PLATE_CONFLICT`"
        ),
    ] = False,
) -> ApplicationPublic:
    """Approve and issue the pass in one step; of concurrent approvals exactly one succeeds (the others: 409).

    One vehicle, one pass: a live pass of the same plate with an overlapping window refuses the approval
    (409 `PLATE_CONFLICT`) unless `replace=true`."""
    application = service.approve(
        session=session,
        reviewer=user,
        application_id=application_id,
        settings=settings,
        now=now,
        replace=replace,
    )
    return _public(session, application, user)


@api.post("/{application_id}/reject", response_model=ApplicationPublic, responses=ERRORS)
def reject_application(
    application_id: ApplicationId,
    user: ReviewerDep,
    session: SessionDep,
    now: ClockDep,
    body: Annotated[ReasonBody | None, Body()] = None,
) -> ApplicationPublic:
    """Reject with a reason (required: `errors.reason` = `reason_required` otherwise)."""
    reason = body.reason if body else ""
    application = service.reject(
        session=session, reviewer=user, application_id=application_id, reason=reason, now=now
    )
    return _public(session, application, user)


# --- the enterprise's own work (issue 13; server/applications/enterprise_work.py) ----------------------------


def _derive(session: Session, user: User, application_id: int, kind: str, now: datetime) -> ApplicationPublic:
    draft = enterprise_work.derive(
        session=session, user=user, application_id=application_id, kind=kind, now=now
    )
    return _public(session, draft, user)


@api.post("/{application_id}/copy", response_model=ApplicationPublic, status_code=201, responses=ERRORS)
def copy_application(
    application_id: ApplicationId, user: ClerkDep, session: SessionDep, now: ClockDep
) -> ApplicationPublic:
    """A new draft with the same content (any of the enterprise's own applications); a window that has started
    is moved to start in the next hour, as long as before (within the policy's limit)."""
    return _derive(session, user, application_id, enterprise_work.COPY, now)


@api.post("/{application_id}/renew", response_model=ApplicationPublic, status_code=201, responses=ERRORS)
def renew_application(
    application_id: ApplicationId, user: ClerkDep, session: SessionDep, now: ClockDep
) -> ApplicationPublic:
    """A new draft for the same vehicle and people, valid from when the pass ends (issued or expired only). It
    replaces the pass, which is revoked at the new one's issue only if the two overlap."""
    return _derive(session, user, application_id, enterprise_work.RENEW, now)


@api.post("/{application_id}/amend", response_model=ApplicationPublic, status_code=201, responses=ERRORS)
def amend_application(
    application_id: ApplicationId, user: ClerkDep, session: SessionDep, now: ClockDep
) -> ApplicationPublic:
    """A new draft with the pass's content and window (a pass still valid only), to change (e.g. the driver) and
    submit; the old pass stays valid until the new one is issued, then is revoked."""
    return _derive(session, user, application_id, enterprise_work.AMEND, now)


@api.post("/{application_id}/withdraw", response_model=ApplicationPublic, responses=ERRORS)
def withdraw_application(
    application_id: ApplicationId,
    user: ClerkDep,
    session: SessionDep,
    now: ClockDep,
    body: Annotated[ReasonBody | None, Body()] = None,
) -> ApplicationPublic:
    """Take back a submitted (or returned) application; the reason is optional."""
    application = enterprise_work.withdraw(
        session=session, user=user, application_id=application_id, reason=body.reason if body else "", now=now
    )
    return _public(session, application, user)


@api.delete("/{application_id}", status_code=204, responses=ERRORS)
def delete_application(application_id: ApplicationId, user: ClerkDep, session: SessionDep) -> Response:
    """Delete a draft for good, with its documents (only a draft: 409 otherwise)."""
    enterprise_work.delete_draft(session=session, user=user, application_id=application_id)
    return Response(status_code=204)
