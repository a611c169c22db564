"""The facts the alert rules judge, gathered from the database: a batch of crossings (with what only the
server knows — revocations, the replay), the sightings of their passes, and escort requests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
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
from server.crossings.models import KIND_PERSONNEL, Crossing, EscortRequest
from server.db import is_in
from server.passes.models import Revocation

__all__ = ["Limits", "clone_findings", "crossing_findings", "escort_findings"]

MAX_DISTANCE_KM = 5500  # further apart than any two checkpoints in one country: bounds the clone look-back
MAX_SIGHTINGS = 5000


@dataclass(frozen=True)
class Limits:
    """The thresholds of the cloned-pass check (settings, not policy: they tune the audit, not the decision)."""

    reach: rules.Reach = field(default_factory=rules.Reach)
    interval: timedelta = timedelta(minutes=10)

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            reach=rules.Reach(
                max_speed_kmh=settings.audit_max_speed_kmh,
                clock_skew=timedelta(minutes=settings.audit_clock_skew_minutes),
                slack_km=settings.audit_distance_slack_km,
            ),
            interval=timedelta(minutes=settings.audit_interval_minutes),
        )

    @property
    def horizon(self) -> timedelta:
        """How far apart two sightings can be and still be too fast for one vehicle."""
        reach = timedelta(hours=MAX_DISTANCE_KM / self.reach.max_speed_kmh) + self.reach.clock_skew
        return min(reach, timedelta(days=30))


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
            select(Revocation.pass_id, Revocation.revoked_at).where(
                is_in(session, col(Revocation.pass_id), pass_ids)
            )
        ).all()
    )
    context.prefetch_passes(pass_ids)
    # Buses (issue 14): the manifest the device read against the one signed into the pass at issue.
    manifests = context.issued_manifests(
        {c.pass_id for c in crossings if c.pass_id and c.kind == KIND_PERSONNEL}
    )
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
        if crossing.pass_id in manifests and isinstance(body.get("bus"), dict):
            found = rules.manifest_finding(
                facts, recorded=str(body["bus"].get("manifest") or ""), issued=manifests[crossing.pass_id]
            )
            findings += [found] if found else []
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
    # The rules judge each new sighting against its neighbours in time (rules.clone_findings says why that is
    # enough). They are all among the located sightings from the batch's first to its last, and each pass's
    # nearest located one before and after (within the horizon: further apart is never too fast), whatever the
    # pass's history.
    span = (
        _sightings()
        .where(
            is_in(session, col(Crossing.pass_id), passes),
            col(Crossing.decided_at) >= first,
            col(Crossing.decided_at) <= last,
        )
        .order_by(col(Crossing.decided_at))
        .limit(MAX_SIGHTINGS)
    )
    nearest = [
        _nearest(session, passes, first - limits.horizon, first, latest=True),
        _nearest(session, passes, last, last + limits.horizon, latest=False),
    ]
    sightings = {
        cid: rules.Sighting(cid, pass_id, checkpoint_id, at, lat, lon, device_id)
        for query in (span, *nearest)
        for cid, pass_id, checkpoint_id, at, device_id, lat, lon in session.exec(query)
    }
    new = {c.id for c in seen}
    findings = rules.clone_findings(sightings.values(), new, reach=limits.reach)
    # Only a pair found too far apart needs to know whether one record re-decides the other, and that is
    # written in the record's body alone: read it for those few, not for every sighting.
    involved = {f.crossing_id for f in findings} | {f.detail["other_crossing_id"] for f in findings}
    repeats = _repeats_of(session, involved, {c.id: c for c in seen})
    if not repeats:
        return findings
    for cid, earlier in repeats.items():
        sightings[cid] = replace(sightings[cid], repeat_of=earlier)
    return rules.clone_findings(sightings.values(), new, reach=limits.reach)


def _repeats_of(session: Session, ids: set[str | None], loaded: dict[str, Crossing]) -> dict[str, str]:
    """The ``repeat_of`` of each of these crossings that has one (a key added in issue 12: older records lack it)."""
    bodies = {cid: loaded[cid].body_json for cid in ids if cid in loaded}
    others = [cid for cid in ids if cid is not None and cid not in loaded]
    if others:
        query = select(Crossing.id, Crossing.body_json).where(is_in(session, col(Crossing.id), others))
        bodies |= dict(session.exec(query).all())
    repeats = {}
    for cid, body in bodies.items():
        earlier = json.loads(body).get("repeat_of")
        if isinstance(earlier, str):
            repeats[cid] = earlier
    return repeats


def _sightings(*extra: Any) -> Any:
    # A checkpoint without coordinates cannot be judged on distance: its sightings are left out here, so the
    # located sightings around one become each other's neighbours.
    return (
        select(  # type: ignore[call-overload]  # sqlmodel types select() for at most 4 columns
            Crossing.id,
            Crossing.pass_id,
            Crossing.checkpoint_id,
            Crossing.decided_at,
            Crossing.device_id,
            Checkpoint.latitude,
            Checkpoint.longitude,
            *extra,
        )
        .join(Checkpoint, col(Checkpoint.id) == col(Crossing.checkpoint_id))
        .where(col(Checkpoint.latitude).is_not(None), col(Checkpoint.longitude).is_not(None))
    )


def _nearest(session: Session, passes: set[str], low: datetime, high: datetime, *, latest: bool) -> Any:
    """Each pass's latest located sighting in [low, high) when ``latest``, else its earliest in (low, high]."""
    at, cid = col(Crossing.decided_at), col(Crossing.id)
    order = (at.desc(), cid.desc()) if latest else (at, cid)
    rank = func.row_number().over(partition_by=col(Crossing.pass_id), order_by=order).label("rank")
    window = (at >= low) & (at < high) if latest else (at > low) & (at <= high)
    ranked = _sightings(rank).where(is_in(session, col(Crossing.pass_id), passes), window).subquery()
    return select(*(c for c in ranked.c if c.name != "rank")).where(ranked.c.rank == 1)


def escort_findings(
    session: Session, escorts: Iterable[EscortRequest], now: datetime, context: ReplayContext
) -> list[rules.Finding]:
    """Escort waits over the limit of the policy each crossing was decided under."""
    escorts = list(escorts)
    ids = [e.crossing_id for e in escorts]
    versions = (
        dict(
            session.exec(
                select(Crossing.id, Crossing.policy_version).where(is_in(session, col(Crossing.id), ids))
            ).all()
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
