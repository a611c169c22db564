"""The server's replay of a crossing's decision (``server.alerts.replay``), as the audit shows it."""

from __future__ import annotations

from sqlmodel import Session

from server.alerts.replay import replay_crossing
from server.audit.schemas import ReplayPublic
from server.crossings.models import Crossing

__all__ = ["replay_of"]


def replay_of(session: Session, crossing: Crossing) -> ReplayPublic:
    result = replay_crossing(session, crossing)
    return ReplayPublic(
        matches=result.matches,
        replayable=result.replayable,
        outcome=result.outcome,
        reasons=list(result.reasons),
        detail=result.detail,
        message=result.message,
    )
