"""The server's replay of a crossing's decision (``server.alerts.replay``), as the audit shows it: with the context
the server chose for it and why, when that is not what the record claims."""

from __future__ import annotations

from sqlmodel import Session

from server.alerts.context import DecisionContext
from server.alerts.replay import replay_crossing
from server.audit.schemas import ReplayContextPublic, ReplayPublic
from server.crossings.models import Crossing

__all__ = ["replay_of"]


def _context(chosen: DecisionContext) -> ReplayContextPublic:
    claim = chosen.claim
    return ReplayContextPublic(
        bundle_version=chosen.bundle_version,
        policy_version=chosen.policy_version,
        at=chosen.at,
        claimed_bundle_version=claim.bundle_version,
        claimed_policy_version=claim.policy_version,
        claimed_at=claim.decided_at,
        differs=chosen.differs,
        known=chosen.known,
        problems=list(chosen.problems),
    )


def replay_of(session: Session, crossing: Crossing) -> ReplayPublic:
    result = replay_crossing(session, crossing)
    return ReplayPublic(
        matches=result.matches,
        replayable=result.replayable,
        outcome=result.outcome,
        reasons=list(result.reasons),
        detail=result.detail,
        message=result.message,
        context=_context(result.context) if result.context else None,
    )
