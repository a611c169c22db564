"""The duty view of the 24-hour service centre, for bureau staff taking the calls. It refreshes itself through
live.js (``?partial=1`` returns the rows alone)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from server.checkpoints.deps import BureauUser
from server.deps import ClockDep, PrincipalDep, SessionDep
from server.enterprises.models import Enterprise
from server.policy import service as policy_service
from server.problems import duty as duty_view
from server.problems import service as problems
from server.web.templating import page

__all__ = ["REFRESH_SECONDS", "web"]

web = APIRouter(include_in_schema=False)
REFRESH_SECONDS = 20


@web.get("/review/duty", response_class=HTMLResponse)
def duty(
    request: Request, _: BureauUser, principal: PrincipalDep, session: SessionDep, now: ClockDep
) -> Response:
    partial = request.query_params.get("partial") == "1"
    found = duty_view.duty(session, now)
    usccs = {p.enterprise_uscc for p in found.problems}
    names = {e.uscc: e.name for e in (session.get(Enterprise, u) for u in usccs) if e is not None}
    policy = policy_service.current(session)
    response = page(
        request,
        "problems/_duty_rows.html" if partial else "problems/duty.html",
        principal,
        duty=found,
        now=now,
        hours=duty_view.RECENT_HOURS,
        refresh=REFRESH_SECONDS,
        hotline=policy.service_hotline,
        wait_limit=policy.escort_wait_limit_minutes,
        waited=lambda moment: int((now - moment).total_seconds() // 60),
        overdue=lambda p: problems.is_overdue(p, now),
        enterprise_name=names.get,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
