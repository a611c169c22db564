"""The facts the alert rules judge, gathered from the database: a batch of crossings (with what only the
server knows — revocations, the replay), the sightings of their passes, and escort requests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, func, select

from passcore.policy import Policy
from passcore.reasons import RELEASE
from server.alerts import rules
from server.alerts.context import DecisionContext
from server.alerts.context import findings as context_findings
from server.alerts.replay import ReplayContext, ReplayResult, replay_crossing
from server.checkpoints.models import Checkpoint
from server.config import Settings
from server.crossings.models import Crossing, EscortRequest
from server.passes.models import Revocation

__all__ = ["Limits", "clone_findings", "crossing_findings", "escort_findings"]

MAX_DISTANCE_KM = 5500  # further apart than any two checkpoints in one country: bounds the clone look-back
MAX_SIGHTINGS = 5000


@dataclass(frozen=True)
class Limits:
    """The thresholds of the cloned-pass check (settings, not policy: they tune the audit, not the decision)."""

    max_speed_kmh: float = 120.0
    same_checkpoint: timedelta = timedelta(minutes=10)
    interval: timedelta = timedelta(minutes=10)

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_speed_kmh=settings.audit_max_speed_kmh,
            same_checkpoint=timedelta(minutes=settings.audit_same_checkpoint_minutes),
            interval=timedelta(minutes=settings.audit_interval_minutes),
        )

    @property
    def horizon(self) -> timedelta:
        """How far apart two sightings can be and still be too fast for one vehicle."""
        reach = timedelta(hours=MAX_DISTANCE_KM / self.max_speed_kmh)
        return min(max(self.same_checkpoint, reach), timedelta(days=30))


def fever_count(body: dict[str, Any], policy: Policy | None) -> int:
    threshold = (policy or Policy()).fever_threshold_c
    # A purged body keeps only whether each person had a fever.
    return sum(
        bool(o.get("fever")) if o["temperature_c"] is None else Decimal(str(o["temperature_c"])) >= threshold
        for o in body["occupants"]
    )


def crossing_findings(
    session: Session, crossings: list[Crossing], context: ReplayContext
) -> list[rules.Finding]:
    pass_ids = {c.pass_id for c in crossings if c.pass_id}
    revoked = dict(
        session.exec(
            select(Revocation.pass_id, Revocation.revoked_at).where(col(Revocation.pass_id).in_(pass_ids))
        ).all()
    )
    context.prefetch_passes(pass_ids)
    findings: list[rules.Finding] = []
    for crossing in crossings:
        body = json.loads(crossing.body_json)
        # The instant the server believes: decided_at, or the receipt when decided_at is implausible.
        chosen = context.decision_context(crossing)
        findings += context_findings(
            chosen,
            crossing_id=crossing.id,
            device_id=crossing.device_id,
            checkpoint_id=crossing.checkpoint_id,
            pass_id=crossing.pass_id,
        )
        facts = rules.CrossingFacts(
            crossing_id=crossing.id,
            device_id=crossing.device_id,
            checkpoint_id=crossing.checkpoint_id,
            decided_at=chosen.at,
            outcome=crossing.outcome,
            reasons=frozenset(body["reasons"]),
            verification=body["verification"],
            pass_id=crossing.pass_id,
            fever_occupants=fever_count(body, context.policy(crossing.policy_version)),
            revoked_at=revoked.get(crossing.pass_id) if crossing.pass_id else None,
        )
        findings += rules.crossing_findings(facts)
        replay = replay_crossing(session, crossing, context=context)
        if not replay.matches and replay.replayable:
            findings.append(_differs(crossing, replay, chosen))
    return findings


def _differs(crossing: Crossing, replay: ReplayResult, chosen: DecisionContext) -> rules.Finding:
    """``decision_differs``; ``release_forbidden`` when the vehicle went through under a claim the server set
    aside and the rules stop it under the context the server chose (the reason a laptop would be tampered with)."""
    forbidden = (
        chosen.differs and replay.recorded_outcome == RELEASE and replay.outcome not in (None, RELEASE)
    )
    kind = rules.RELEASE_FORBIDDEN if forbidden else rules.DECISION_DIFFERS
    detail: dict[str, Any] = {
        "problem": replay.detail,
        "uploaded": {"outcome": replay.recorded_outcome, "reasons": list(replay.recorded_reasons)},
        "replayed": {"outcome": replay.outcome, "reasons": list(replay.reasons)},
    }
    if chosen.differs:
        detail["context"] = {
            "bundle": chosen.bundle_version,
            "policy": chosen.policy_version,
            "claimed_bundle": chosen.claim.bundle_version,
            "claimed_policy": chosen.claim.policy_version,
            "problems": list(chosen.problems),
        }
    return rules.Finding(
        kind=kind,
        dedupe_key=f"{kind}:{crossing.id}",
        occurred_at=chosen.at,
        crossing_id=crossing.id,
        device_id=crossing.device_id,
        pass_id=crossing.pass_id,
        checkpoint_id=crossing.checkpoint_id,
        detail=detail,
    )


def clone_findings(session: Session, crossings: list[Crossing], limits: Limits) -> list[rules.Finding]:
    seen = [c for c in crossings if c.pass_id]
    if not seen:
        return []
    passes = {c.pass_id for c in seen if c.pass_id}
    first, last = min(c.decided_at for c in seen), max(c.decided_at for c in seen)
    # Each new sighting is judged against its neighbours in time only: if any two sightings are too far apart for
    # the time between, so are two consecutive ones (distances add up along the way, times too), so comparing
    # every pair would add nothing but work that grows with the square of a much-copied pass's sightings. The
    # neighbours are all among the sightings from the batch's first to its last, and each pass's nearest one
    # before and after (within the horizon: further apart is never too fast), whatever the pass's history.
    span = (
        _sightings()
        .where(
            col(Crossing.pass_id).in_(passes),
            col(Crossing.decided_at) >= first,
            col(Crossing.decided_at) <= last,
        )
        .order_by(col(Crossing.decided_at))
        .limit(MAX_SIGHTINGS)
    )
    by_pass: dict[str, list[rules.Sighting]] = {}
    nearest = [
        _nearest(passes, first - limits.horizon, first, latest=True),
        _nearest(passes, last, last + limits.horizon, latest=False),
    ]
    for query in (span, *nearest):
        for cid, pass_id, checkpoint_id, at, device_id, lat, lon in session.exec(query):
            by_pass.setdefault(pass_id, []).append(
                rules.Sighting(cid, pass_id, checkpoint_id, at, lat, lon, device_id)
            )
    findings = []
    ids = {c.id for c in seen}
    for sightings in by_pass.values():
        sightings.sort(key=lambda s: (s.at, s.crossing_id))
        for i, new in enumerate(sightings):
            if new.crossing_id not in ids:
                continue
            for other in sightings[max(i - 1, 0) : i] + sightings[i + 1 : i + 2]:
                found = rules.clone_finding(
                    new, other, max_speed_kmh=limits.max_speed_kmh, window=limits.same_checkpoint
                )
                if found is not None:
                    findings.append(found)
    return findings


def _sightings(*extra: Any) -> Any:
    return select(  # type: ignore[call-overload]  # sqlmodel types select() for at most 4 columns
        Crossing.id,
        Crossing.pass_id,
        Crossing.checkpoint_id,
        Crossing.decided_at,
        Crossing.device_id,
        Checkpoint.latitude,
        Checkpoint.longitude,
        *extra,
    ).join(Checkpoint, col(Checkpoint.id) == col(Crossing.checkpoint_id))


def _nearest(passes: set[str], low: datetime, high: datetime, *, latest: bool) -> Any:
    """Each pass's latest sighting in [low, high) when ``latest``, else its earliest in (low, high]."""
    at, cid = col(Crossing.decided_at), col(Crossing.id)
    order = (at.desc(), cid.desc()) if latest else (at, cid)
    rank = func.row_number().over(partition_by=col(Crossing.pass_id), order_by=order).label("rank")
    window = (at >= low) & (at < high) if latest else (at > low) & (at <= high)
    ranked = _sightings(rank).where(col(Crossing.pass_id).in_(passes), window).subquery()
    return select(*(c for c in ranked.c if c.name != "rank")).where(ranked.c.rank == 1)


def escort_findings(
    session: Session, escorts: Iterable[EscortRequest], now: datetime, context: ReplayContext
) -> list[rules.Finding]:
    """Escort waits over the limit of the policy each crossing was decided under."""
    escorts = list(escorts)
    ids = [e.crossing_id for e in escorts]
    versions = (
        dict(
            session.exec(select(Crossing.id, Crossing.policy_version).where(col(Crossing.id).in_(ids))).all()
        )
        if ids
        else {}
    )
    findings = []
    for escort in escorts:
        version = versions.get(escort.crossing_id)
        policy = context.policy(version) if version is not None else None
        found = rules.escort_finding(
            escort_id=escort.id or 0,
            crossing_id=escort.crossing_id,
            checkpoint_id=escort.checkpoint_id,
            requested_at=escort.requested_at,
            handed_over_at=escort.handed_over_at,
            now=now,
            limit_minutes=(policy or Policy()).escort_wait_limit_minutes,
        )
        if found is not None:
            findings.append(found)
    return findings
