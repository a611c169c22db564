"""The duty view of the 24-hour service centre: what whoever takes the calls must see at once — escort requests
waiting, vehicles refused or held in the last hours, and problems not yet answered (overdue first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from passcore.reasons import MEDICAL_HOLD, REFUSE
from server.checkpoints.models import Checkpoint
from server.crossings.models import ESCORT_ANSWERED, ESCORT_OPEN, Crossing, EscortRequest
from server.problems.models import ANSWERED, Problem

__all__ = ["RECENT_HOURS", "Duty", "duty"]

RECENT_HOURS = 6  # a vehicle refused or held longer ago is no longer a call to expect
LIMIT = 50


@dataclass(frozen=True)
class Duty:
    escorts: list[tuple[EscortRequest, Checkpoint | None]]
    stopped: list[tuple[Crossing, Checkpoint | None]]
    problems: list[Problem]


def duty(session: Session, now: datetime) -> Duty:
    checkpoints = {c.id: c for c in session.exec(select(Checkpoint))}
    escorts = session.exec(
        select(EscortRequest)
        .where(col(EscortRequest.status).in_((ESCORT_OPEN, ESCORT_ANSWERED)))
        .order_by(col(EscortRequest.requested_at))
        .limit(LIMIT)
    )
    stopped = session.exec(
        select(Crossing)
        .where(
            col(Crossing.outcome).in_((REFUSE, MEDICAL_HOLD)),
            col(Crossing.decided_at) >= now - timedelta(hours=RECENT_HOURS),
        )
        .order_by(col(Crossing.decided_at).desc(), col(Crossing.id))
        .limit(LIMIT)
    )
    problems = session.exec(
        select(Problem)
        .where(Problem.status != ANSWERED)
        .order_by(col(Problem.due_on), col(Problem.id))
        .limit(LIMIT)
    )
    return Duty(
        escorts=[(e, checkpoints.get(e.checkpoint_id)) for e in escorts],
        stopped=[(c, checkpoints.get(c.checkpoint_id)) for c in stopped],
        problems=list(problems),
    )
