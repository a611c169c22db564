"""Working the alerts: list them (newest first, keyset pages), acknowledge, close — recording who acted and why."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlmodel import Session, col, select

from passcore.ids import usable_text
from server.accounts.models import ROLE_ADMIN, ROLE_AUDITOR, User
from server.alerts.models import (
    ALERT_ACKNOWLEDGED,
    ALERT_CLOSED,
    ALERT_OPEN,
    ALERT_STATUSES,
    Alert,
    AlertEvent,
)
from server.alerts.rules import KINDS
from server.checkpoints.models import Checkpoint
from server.errors import BadRequest, Conflict, Forbidden, NotFound

__all__ = [
    "ACTIONS",
    "ACTORS",
    "AlertRow",
    "act",
    "can_act",
    "counts",
    "detail_of",
    "events_of",
    "get_alert",
    "list_alerts",
    "row_of",
]

# action -> (status afterwards, statuses it may start from)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "acknowledge": (ALERT_ACKNOWLEDGED, (ALERT_OPEN,)),
    "close": (ALERT_CLOSED, (ALERT_OPEN, ALERT_ACKNOWLEDGED)),
}
ACTORS = (ROLE_AUDITOR, ROLE_ADMIN)  # reviewers see alerts; auditors and administrators work them
PAGE = 50
MAX_NOTE = 500


@dataclass(frozen=True)
class AlertRow:
    alert: Alert
    checkpoint: str | None  # its name
    actor: str | None  # who acted last (display name or username)

    @property
    def detail(self) -> dict[str, Any]:
        return detail_of(self.alert)


def detail_of(alert: Alert) -> dict[str, Any]:
    try:
        value = json.loads(alert.detail)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def can_act(user: User | None) -> bool:
    return user is not None and user.role in ACTORS


def list_alerts(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    before: int | None = None,
    limit: int = PAGE,
) -> tuple[list[AlertRow], int | None]:
    """A page of alerts, latest happening first (an offline checkpoint's old news sorts where it happened); the
    second value is the ``before`` of the next page: the id of this page's last alert (None: last page)."""
    query = (
        select(Alert, Checkpoint.name, User.display_name, User.username)
        .outerjoin(Checkpoint, col(Checkpoint.id) == col(Alert.checkpoint_id))
        .outerjoin(User, col(User.id) == col(Alert.acted_by))
        .order_by(col(Alert.occurred_at).desc(), col(Alert.id).desc())
        .limit(limit + 1)
    )
    if status in ALERT_STATUSES:
        query = query.where(Alert.status == status)
    if kind in KINDS:
        query = query.where(Alert.kind == kind)
    if before is not None:
        cursor = session.get(Alert, before)
        if cursor is None:
            return [], None
        query = query.where(
            or_(
                col(Alert.occurred_at) < cursor.occurred_at,
                and_(col(Alert.occurred_at) == cursor.occurred_at, col(Alert.id) < before),
            )
        )
    rows = [
        AlertRow(alert, checkpoint, (display or username) if username else None)
        for alert, checkpoint, display, username in session.exec(query)
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].alert.id if more and rows else None)


def counts(session: Session) -> dict[str, int]:
    query = select(Alert.status, func.count()).group_by(col(Alert.status))
    found = {status: int(n) for status, n in session.exec(query)}
    return {status: found.get(status, 0) for status in ALERT_STATUSES}


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("no such alert", code="ALERT_NOT_FOUND")
    return alert


def events_of(session: Session, alert_id: int) -> list[tuple[AlertEvent, str]]:
    query = (
        select(AlertEvent, User.display_name, User.username)
        .join(User, col(User.id) == col(AlertEvent.by))
        .where(AlertEvent.alert_id == alert_id)
        .order_by(col(AlertEvent.at), col(AlertEvent.id))
    )
    return [(event, display or username) for event, display, username in session.exec(query)]


def _clean_note(action: str, note: str) -> str:
    text = note.strip()
    if len(text) > MAX_NOTE or not usable_text(text):
        raise BadRequest(
            f"a note of at most {MAX_NOTE} characters, without control characters",
            code="ALERT_NOTE_INVALID",
            fields={"note": "alert_note_invalid"},
        )
    if action == "close" and not text:
        # A closed alert is the audit's conclusion: say what was found or done.
        raise BadRequest(
            "say why the alert is closed", code="ALERT_NOTE_REQUIRED", fields={"note": "alert_note_required"}
        )
    return text


def act(*, session: Session, alert: Alert, action: str, user: User, note: str, now: datetime) -> Alert:
    """Acknowledge or close an alert. Conditional on its status, so two auditors acting at once cannot both win."""
    if not can_act(user):
        raise Forbidden("auditors and administrators work alerts", code="ROLE_FORBIDDEN")
    if action not in ACTIONS:
        raise BadRequest("the action is acknowledge or close", code="ALERT_ACTION_INVALID")
    status, allowed = ACTIONS[action]
    text = _clean_note(action, note)
    changed = session.exec(
        update(Alert)
        .where(col(Alert.id) == alert.id, col(Alert.status).in_(allowed))
        .values(status=status, acted_by=user.id, acted_at=now, note=text)
    )
    if changed.rowcount != 1:
        session.rollback()
        raise Conflict(f"this alert is already {_current(session, alert)}", code="ALERT_STATE")
    session.add(AlertEvent(alert_id=alert.id or 0, action=status, by=user.id or 0, at=now, note=text))
    session.commit()
    session.refresh(alert)
    return alert


def _current(session: Session, alert: Alert) -> str:
    session.refresh(alert)
    return alert.status


def row_of(session: Session, alert: Alert) -> AlertRow:
    checkpoint = session.get(Checkpoint, alert.checkpoint_id) if alert.checkpoint_id else None
    actor = session.get(User, alert.acted_by) if alert.acted_by else None
    return AlertRow(
        alert,
        checkpoint.name if checkpoint else None,
        (actor.display_name or actor.username) if actor else None,
    )
