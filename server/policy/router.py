"""The release policy: the administrator's page to change it, and the policy in force as JSON.

Each change is a new, dated version, carried to the checkpoints by a new signed trust bundle at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from passcore.policy import Policy
from server import flows
from server.accounts.models import ROLE_ADMIN, User
from server.deps import ClockDep, CurrentUser, PrincipalDep, SessionDep, SettingsDep, require
from server.errors import AppError
from server.policy import service as policy_service
from server.web.pages import page

web = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["policy"])

AdminUser = Annotated[User, Depends(require(ROLE_ADMIN))]
Text = Annotated[str, Form(max_length=20_000)]


def _form_of(policy: Policy) -> dict[str, str]:
    data = policy.to_dict()
    form = {name: str(data[name]) for name in policy_service.EDITABLE}
    form["hard_hit"] = ", ".join(policy.hard_hit)
    form["pass_mandatory"] = "yes" if policy.pass_mandatory else "no"
    return form


def _policy_page(
    request: Request, principal: PrincipalDep, session: Session, *, status: int = 200, **context: Any
) -> Response:
    policy = policy_service.current(session)
    context.setdefault("form", _form_of(policy))
    return page(
        request,
        "admin/policy.html",
        principal,
        status=status,
        policy=policy,
        history=policy_service.history(session),
        **context,
    )


@web.get("/admin/policy", response_class=HTMLResponse)
def policy_page(
    request: Request,
    principal: PrincipalDep,
    admin: AdminUser,
    session: SessionDep,
    saved: str = "",
    bundle: int = 0,
) -> Response:
    return _policy_page(
        request, principal, session, saved=saved if saved in ("new", "same") else "", bundle=bundle
    )


@web.post("/admin/policy", response_class=HTMLResponse)
def policy_save(
    request: Request,
    principal: PrincipalDep,
    admin: AdminUser,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    hard_hit: Text = "",
    fever_threshold_c: Text = "",
    pass_mandatory: Text = "",
    hard_hit_without_enterprise: Text = "",
    identity_check: Text = "",
    escort_wait_limit_minutes: Text = "",
    review_answer_hours: Text = "",
    max_validity_days: Text = "",
    note: Text = "",
) -> Response:
    form = {
        "hard_hit": hard_hit,
        "fever_threshold_c": fever_threshold_c,
        "pass_mandatory": pass_mandatory,
        "hard_hit_without_enterprise": hard_hit_without_enterprise,
        "identity_check": identity_check,
        "escort_wait_limit_minutes": escort_wait_limit_minutes,
        "review_answer_hours": review_answer_hours,
        "max_validity_days": max_validity_days,
        "note": note,
    }
    try:
        change = flows.update_policy(
            session=session, settings=settings, changes=form, now=now, by=admin.username
        )
    except AppError as err:
        session.rollback()
        errors = err.fields or {"note": "admin_policy_refused"}
        return _policy_page(request, principal, session, status=err.status, form=form, errors=errors)
    saved = "new" if change.changed else "same"
    return RedirectResponse(f"/admin/policy?saved={saved}&bundle={change.bundle.version}", status_code=303)


class PolicyPublic(BaseModel):
    version: int
    effective_from: datetime
    hard_hit: list[str] = Field(
        description="GB/T 2260 region codes; a province or city code covers its parts"
    )
    fever_threshold_c: str = Field(description="decimal °C; at or above: MEDICAL_HOLD")
    pass_mandatory: bool
    hard_hit_without_enterprise: str
    identity_check: str
    escort_wait_limit_minutes: int
    review_answer_hours: int
    max_validity_days: int
    temperature_min_c: str
    temperature_max_c: str
    bundle_stale_hours: int
    retention_days: int
    note: str

    @classmethod
    def of(cls, policy: Policy) -> PolicyPublic:
        return cls.model_validate(policy.to_dict())


class PolicyUpdate(BaseModel):
    """Only the fields given change; the others keep their values in force."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass silently as "no change"

    hard_hit: list[str] | None = Field(default=None, max_length=5000)
    fever_threshold_c: str | None = Field(default=None, max_length=10)
    pass_mandatory: bool | None = None
    hard_hit_without_enterprise: str | None = Field(default=None, max_length=20)
    identity_check: str | None = Field(default=None, max_length=20)
    escort_wait_limit_minutes: int | None = None
    review_answer_hours: int | None = None
    max_validity_days: int | None = None
    note: str | None = Field(default=None, max_length=500)


class PolicyChangePublic(BaseModel):
    policy: PolicyPublic
    changed: bool = Field(description="false when the values given were those already in force")
    bundle_version: int = Field(description="the trust bundle version that carries the policy")


@api.get("/policy", response_model=PolicyPublic, responses={401: {}})
def api_policy(user: CurrentUser, session: SessionDep) -> PolicyPublic:
    """The release policy in force (the same as in the trust bundle)."""
    return PolicyPublic.of(policy_service.current(session))


@api.put("/policy", response_model=PolicyChangePublic, responses={401: {}, 403: {}, 422: {}})
def api_policy_update(
    body: PolicyUpdate, admin: AdminUser, session: SessionDep, settings: SettingsDep, now: ClockDep
) -> PolicyChangePublic:
    """A new policy version effective now, signed into a new trust bundle version (administrators)."""
    changes = body.model_dump(exclude_none=True)
    change = flows.update_policy(
        session=session, settings=settings, changes=changes, now=now, by=admin.username
    )
    return PolicyChangePublic(
        policy=PolicyPublic.of(change.policy), changed=change.changed, bundle_version=change.bundle.version
    )
