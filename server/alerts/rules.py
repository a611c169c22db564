"""The audit's alert rules as pure functions over plain values: no database, no clock, no I/O.

Each rule turns facts about a crossing (or an escort request, two sightings of one pass, a device's chain)
into ``Finding``s. A finding carries a dedupe key, so the same fact found again — on ingest, by the periodic
check, by ``checkpass audit verify-chains`` — is raised once. Details hold codes and numbers only: names,
ID numbers and temperatures stay in the crossing record, where retention can purge them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from passcore.chain import GENESIS
from passcore.reasons import MEDICAL_HOLD

__all__ = [
    "BUNDLE_NOT_SERVED",
    "CHAIN_GAP",
    "CHAIN_TAMPERED",
    "CLONED_PASS",
    "CROSSING_RULES",
    "DECIDED_AT_IMPLAUSIBLE",
    "DECISION_DIFFERS",
    "ESCORT_WAIT",
    "FEVER",
    "KINDS",
    "PASS_FORGED",
    "PASS_MISMATCH",
    "PASS_REVOKED",
    "RELEASE_FORBIDDEN",
    "STALE_RULES",
    "UPLOAD_CONFLICT",
    "ChainLink",
    "ChainProblem",
    "CrossingFacts",
    "Finding",
    "Sighting",
    "chain_finding",
    "clone_finding",
    "crossing_findings",
    "escort_finding",
    "first_problem",
    "haversine_km",
]

PASS_FORGED, PASS_MISMATCH, FEVER, ESCORT_WAIT = "pass_forged", "pass_mismatch", "fever", "escort_wait"
PASS_REVOKED, CLONED_PASS, CHAIN_GAP, CHAIN_TAMPERED = (
    "pass_revoked",
    "cloned_pass",
    "chain_gap",
    "chain_tampered",
)
DECISION_DIFFERS, UPLOAD_CONFLICT = "decision_differs", "upload_conflict"
# A record's claimed context against what the server served the device (server/alerts/context.py).
STALE_RULES, BUNDLE_NOT_SERVED = "stale_rules", "bundle_not_served"
DECIDED_AT_IMPLAUSIBLE, RELEASE_FORBIDDEN = "decided_at_implausible", "release_forbidden"
KINDS = (
    PASS_FORGED,
    PASS_MISMATCH,
    PASS_REVOKED,
    CLONED_PASS,
    FEVER,
    ESCORT_WAIT,
    DECISION_DIFFERS,
    RELEASE_FORBIDDEN,
    STALE_RULES,
    BUNDLE_NOT_SERVED,
    DECIDED_AT_IMPLAUSIBLE,
    CHAIN_GAP,
    CHAIN_TAMPERED,
    UPLOAD_CONFLICT,
)

FORGED_CODES = frozenset({"PASS_SIGNATURE_INVALID", "PASS_MALFORMED", "PASS_UNKNOWN_KEY"})
MISMATCH_CODES = frozenset({"PLATE_MISMATCH", "PERSON_MISMATCH", "LICENCE_MISMATCH", "OCCUPANT_NOT_ON_PASS"})
EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


@dataclass(frozen=True)
class Finding:
    kind: str
    dedupe_key: str
    occurred_at: datetime
    crossing_id: str | None = None
    device_id: str | None = None
    pass_id: str | None = None
    checkpoint_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CrossingFacts:
    """What one stored crossing says, plus what only the server knows (when the pass was revoked)."""

    crossing_id: str
    device_id: str
    checkpoint_id: int
    decided_at: datetime
    outcome: str
    reasons: frozenset[str]
    verification: str | None
    pass_id: str | None = None
    fever_occupants: int = 0
    revoked_at: datetime | None = None


def _forged(facts: CrossingFacts) -> dict[str, Any] | None:
    codes = FORGED_CODES & (facts.reasons | {facts.verification})
    return {"codes": sorted(codes)} if codes else None


def _mismatch(facts: CrossingFacts) -> dict[str, Any] | None:
    codes = MISMATCH_CODES & facts.reasons
    return {"codes": sorted(codes)} if codes else None


def _fever(facts: CrossingFacts) -> dict[str, Any] | None:
    if "FEVER" in facts.reasons or facts.outcome == MEDICAL_HOLD:
        return {"occupants": facts.fever_occupants, "outcome": facts.outcome}
    return None


def _revoked(facts: CrossingFacts) -> dict[str, Any] | None:
    if "PASS_REVOKED" in facts.reasons or facts.verification == "PASS_REVOKED":
        return {"known_to_device": True}
    # The device's bundle predated the revocation: the pass got through although the bureau had revoked it.
    if facts.revoked_at is not None and facts.revoked_at <= facts.decided_at:
        return {"known_to_device": False, "outcome": facts.outcome}
    return None


# kind -> rule: every rule that applies raises its own alert.
CROSSING_RULES: tuple[tuple[str, Callable[[CrossingFacts], dict[str, Any] | None]], ...] = (
    (PASS_FORGED, _forged),
    (PASS_MISMATCH, _mismatch),
    (PASS_REVOKED, _revoked),
    (FEVER, _fever),
)


def crossing_findings(facts: CrossingFacts) -> list[Finding]:
    findings = []
    for kind, rule in CROSSING_RULES:
        detail = rule(facts)
        if detail is not None:
            findings.append(
                Finding(
                    kind=kind,
                    dedupe_key=f"{kind}:{facts.crossing_id}",
                    occurred_at=facts.decided_at,
                    crossing_id=facts.crossing_id,
                    device_id=facts.device_id,
                    pass_id=facts.pass_id,
                    checkpoint_id=facts.checkpoint_id,
                    detail=detail,
                )
            )
    return findings


# ---- escort waits ----------------------------------------------------------------------------------------------


def escort_finding(
    *,
    escort_id: int,
    crossing_id: str,
    checkpoint_id: int,
    requested_at: datetime,
    handed_over_at: datetime | None,
    now: datetime,
    limit_minutes: int,
) -> Finding | None:
    """Over the limit: still waiting longer than it allows, or handed over later than it allows (not at it)."""
    end = handed_over_at or now
    waited = end - requested_at
    if waited <= timedelta(minutes=limit_minutes):
        return None
    return Finding(
        kind=ESCORT_WAIT,
        dedupe_key=f"{ESCORT_WAIT}:{escort_id}",
        occurred_at=requested_at + timedelta(minutes=limit_minutes),
        crossing_id=crossing_id,
        checkpoint_id=checkpoint_id,
        detail={
            "escort_id": escort_id,
            "waited_minutes": int(waited.total_seconds() // 60),
            "limit_minutes": limit_minutes,
            "handed_over": handed_over_at is not None,
        },
    )


# ---- cloned passes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sighting:
    """A pass seen at a checkpoint (coordinates in decimal degrees, or None when the checkpoint has none)."""

    crossing_id: str
    pass_id: str
    checkpoint_id: int
    at: datetime
    latitude: float | None = None
    longitude: float | None = None
    device_id: str | None = None


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance: roads are longer, so this errs towards not accusing anyone."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def clone_finding(a: Sighting, b: Sighting, *, max_speed_kmh: float, window: timedelta) -> Finding | None:
    """Two sightings of one pass that one vehicle cannot explain: at two checkpoints faster than
    ``max_speed_kmh`` would allow, or twice at one checkpoint less than ``window`` apart."""
    if a.crossing_id == b.crossing_id or a.pass_id != b.pass_id:
        return None
    first, later = sorted((a, b), key=lambda s: (s.at, s.crossing_id))
    gap = later.at - first.at
    detail: dict[str, Any] = {
        "other_crossing_id": first.crossing_id,
        "other_checkpoint_id": first.checkpoint_id,
        "minutes": round(gap.total_seconds() / 60, 1),
    }
    if first.checkpoint_id == later.checkpoint_id:
        if gap >= window:
            return None
        detail |= {"same_checkpoint": True, "window_minutes": window.total_seconds() / 60}
    else:
        if None in (first.latitude, first.longitude, later.latitude, later.longitude):
            return None  # a checkpoint without a location cannot be judged on distance
        distance = haversine_km(first.latitude, first.longitude, later.latitude, later.longitude)  # type: ignore[arg-type]
        hours = gap.total_seconds() / 3600
        if distance == 0 or (hours > 0 and distance / hours <= max_speed_kmh):
            return None
        detail |= {
            "same_checkpoint": False,
            "distance_km": round(distance, 1),
            "speed_kmh": round(distance / hours, 1) if hours > 0 else None,
            "max_speed_kmh": max_speed_kmh,
        }
    pair = ":".join(sorted((a.crossing_id, b.crossing_id)))
    return Finding(
        kind=CLONED_PASS,
        dedupe_key=f"{CLONED_PASS}:{pair}",
        occurred_at=later.at,
        crossing_id=later.crossing_id,
        device_id=later.device_id,
        pass_id=later.pass_id,
        checkpoint_id=later.checkpoint_id,
        detail=detail,
    )


# ---- device hash chains ----------------------------------------------------------------------------------------

GAP, LINK_BROKEN, BODY_EDITED = "GAP", "LINK_BROKEN", "BODY_EDITED"


@dataclass(frozen=True)
class ChainLink:
    """One stored record of a device's chain. ``body`` None: purged, so only its links can be checked."""

    seq: int
    crossing_id: str
    prev_hash: str
    record_hash: str
    body: str | None


@dataclass(frozen=True)
class ChainProblem:
    problem: str  # GAP, LINK_BROKEN or BODY_EDITED
    seq: int  # the first bad record's seq (for a gap: the record after it)
    crossing_id: str
    missing: tuple[int, int] | None = None  # first and last seq missing, for a gap


def first_problem(
    links: Iterable[ChainLink], *, expect_seq: int = 1, expect_prev: str | None = GENESIS
) -> tuple[int, ChainProblem | None]:
    """Walk a device's records in seq order; return how many were checked and the first bad one.

    ``expect_prev`` None trusts the first record's link (to check a window that starts mid-chain).
    """
    checked = 0
    for link in links:
        checked += 1
        if (
            link.body is not None
            and hashlib.sha256(link.body.encode("utf-8")).hexdigest() != link.record_hash
        ):
            return checked, ChainProblem(BODY_EDITED, link.seq, link.crossing_id)
        if link.seq != expect_seq:
            missing = (expect_seq, link.seq - 1)
            return checked, ChainProblem(GAP, link.seq, link.crossing_id, missing)
        if expect_prev is not None and link.prev_hash != expect_prev:
            return checked, ChainProblem(LINK_BROKEN, link.seq, link.crossing_id)
        expect_seq, expect_prev = link.seq + 1, link.record_hash
    return checked, None


def chain_finding(device_id: str, checkpoint_id: int | None, problem: ChainProblem, at: datetime) -> Finding:
    kind = CHAIN_GAP if problem.problem == GAP else CHAIN_TAMPERED
    detail: dict[str, Any] = {"problem": problem.problem, "seq": problem.seq}
    if problem.missing:
        detail["missing"] = list(problem.missing)
    return Finding(
        kind=kind,
        dedupe_key=f"{kind}:{device_id}:{problem.seq}",
        occurred_at=at,
        crossing_id=problem.crossing_id,
        device_id=device_id,
        checkpoint_id=checkpoint_id,
        detail=detail,
    )
