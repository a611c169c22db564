"""The release policy: the administrator's page to see and change it.

Each change is a new, dated version, carried to the checkpoints by a new signed trust bundle at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from passcore.policy import Policy
from server import flows
from server.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep
from server.errors import AppError
from server.policy import service as policy_service
from server.policy.deps import AdminUser
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=20_000)]
# Knobs added later (issues 12 and 14): a form that does not send them (a page from before) leaves them as they are.
Later = Annotated[str | None, Form(max_length=20_000)]


def _form_of(policy: Policy) -> dict[str, str]:
    data = policy.to_dict(every_knob=True)
    form = {name: str(data[name]) for name in policy_service.EDITABLE}
    form["hard_hit"] = ", ".join(policy.hard_hit)
    form["fever_referrals"] = "\n".join(policy.fever_referrals)
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
    pass_misuse: Later = None,
    repeat_window_minutes: Later = None,
    fever_referrals: Later = None,
    service_hotline: Later = None,
    bus_fever: Later = None,
    bus_occupancy_percent: Later = None,
    quarantine_confirm_hours: Later = None,
    later_knobs: Later = None,
    bus_knobs: Later = None,
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
    later = {
        "pass_misuse": pass_misuse,
        "repeat_window_minutes": repeat_window_minutes,
        "service_hotline": service_hotline,
        "bus_fever": bus_fever,
        "bus_occupancy_percent": bus_occupancy_percent,
        "quarantine_confirm_hours": quarantine_confirm_hours,
    }
    form |= {name: value for name, value in later.items() if value is not None}
    # An emptied list arrives as nothing at all: the page marks that it sends the list.
    if fever_referrals is not None or later_knobs is not None:
        form["fever_referrals"] = fever_referrals or ""
    # An emptied field arrives as nothing at all too; from a page that has the bus knobs (it says so) one left
    # empty is a mistake to mark, not "unchanged".
    if bus_knobs is not None:
        for name in ("bus_fever", "bus_occupancy_percent", "quarantine_confirm_hours"):
            form.setdefault(name, "")
    try:
        change = flows.update_policy(
            session=session, settings=settings, changes=form, now=now, by=admin.username
        )
    except AppError as err:
        session.rollback()
        form = _form_of(policy_service.current(session)) | form  # what was not sent stays as it is in force
        errors = err.fields or {"note": "admin_policy_refused"}
        return _policy_page(request, principal, session, status=err.status, form=form, errors=errors)
    saved = "new" if change.changed else "same"
    return RedirectResponse(f"/admin/policy?saved={saved}&bundle={change.bundle.version}", status_code=303)
