"""The bureau's alert pages: the list, an alert with its crossing replayed, acknowledging and closing.

Every page is for bureau staff; acknowledging and closing is for auditors and administrators.
The ``web`` router also carries the periodic audit (``server.retention.schedule``) into the serving app.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from passcore import reasons
from server.alerts import actions, queue
from server.alerts.deps import AlertDep, Before, KindFilter, StatusFilter
from server.alerts.models import ALERT_STATUSES, Alert
from server.alerts.replay import replay_crossing
from server.alerts.rules import KINDS
from server.checkpoints.models import Checkpoint, Device
from server.crossings.models import Crossing
from server.deps import ClockDep, CurrentUser, PrincipalDep, SessionDep, require_bureau
from server.errors import AppError
from server.retention import schedule
from server.web.i18n import translate
from server.web.templating import lang_of, page

__all__ = ["web"]

web = APIRouter(
    prefix="/audit",
    include_in_schema=False,
    dependencies=[Depends(require_bureau)],
    lifespan=schedule.lifespan,
)


def _words(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    """Reason codes and outcomes in the reader's language (passcore keeps the words of both)."""
    lang = lang_of(request, principal)
    return {
        "reasons_text": lambda codes: translate("punct.semicolon", lang).join(
            reasons.describe(code, lang) for code in codes
        ),
        "outcome_words": lambda outcome: reasons.outcome_words(outcome, lang) if outcome else "",
    }


@web.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    status: StatusFilter = None,
    kind: KindFilter = None,
    before: Before = None,
) -> Response:
    selected = status if status in ALERT_STATUSES else ""
    kind = kind if kind in KINDS else ""
    rows, next_before = actions.list_alerts(
        session, status=selected or None, kind=kind or None, before=before
    )
    return page(
        request,
        "alerts/list.html",
        principal,
        rows=rows,
        next_before=next_before,
        counts=actions.counts(session),
        queue=queue.stats(session, now),  # the audit lag: how far behind the uploads these alerts are
        statuses=ALERT_STATUSES,
        kinds=KINDS,
        selected=selected,
        kind=kind,
        **_words(request, principal),
    )


def _detail_page(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    alert: Alert,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    crossing = session.get(Crossing, alert.crossing_id) if alert.crossing_id else None
    device = session.get(Device, alert.device_id) if alert.device_id else None
    return page(
        request,
        "alerts/detail.html",
        principal,
        status=status,
        row=actions.row_of(session, alert),
        crossing=crossing,
        replay=replay_crossing(session, crossing) if crossing else None,
        device=device,
        checkpoint=session.get(Checkpoint, alert.checkpoint_id) if alert.checkpoint_id else None,
        events=actions.events_of(session, alert.id or 0),
        may_act=actions.can_act(principal.user),
        **_words(request, principal),
        **context,
    )


@web.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request,
    alert: AlertDep,
    principal: PrincipalDep,
    session: SessionDep,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    return _detail_page(request, principal, session, alert, done=done if done in actions.ACTIONS else "")


@web.post("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_action(
    request: Request,
    alert: AlertDep,
    user: CurrentUser,
    principal: PrincipalDep,
    session: SessionDep,
    now: ClockDep,
    action: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        actions.act(session=session, alert=alert, action=action, user=user, note=note, now=now)
    except AppError as err:
        session.rollback()
        alert = actions.get_alert(session, alert.id or 0)
        return _detail_page(
            request,
            principal,
            session,
            alert,
            status=err.status,
            errors=err.fields,
            failure=err.code,
            note=note,
        )
    return RedirectResponse(f"/audit/alerts/{alert.id}?done={action}", status_code=303)
