"""The audit's alert rules as pure functions over plain values: no database, no clock, no I/O.

Each rule turns facts about a crossing (or an escort request, two sightings of one pass, a device's chain)
into ``Finding``s. A finding carries a dedupe key, so the same fact found again — on ingest, by the periodic
check, by ``checkpass audit verify-chains`` — is raised once. Details hold codes and numbers only: names,
ID numbers and temperatures stay in the crossing record, where retention can purge them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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
    "MANIFEST_MISMATCH",
    "PASS_FORGED",
    "PASS_MISMATCH",
    "PASS_REVOKED",
    "QUARANTINE_OVERDUE",
    "RELEASE_FORBIDDEN",
    "STALE_RULES",
    "UPLOAD_CONFLICT",
    "ChainLink",
    "ChainProblem",
    "CrossingFacts",
    "Finding",
    "Reach",
    "Sighting",
    "chain_finding",
    "clone_finding",
    "clone_findings",
    "crossing_findings",
    "escort_finding",
    "first_problem",
    "haversine_km",
    "manifest_finding",
    "quarantine_overdue_finding",
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
# An enterprise's problem not answered by the end of its deadline (seed 002's service discipline; server/problems).
PROBLEM_OVERDUE = "problem_overdue"
# Issue 14: a quarantine arrival the enterprise did not confirm in time (server/quarantine); a bus record whose
# manifest digest is not the one the bureau signed into the pass (another manifest read, or an edited record).
QUARANTINE_OVERDUE, MANIFEST_MISMATCH = "quarantine_overdue", "manifest_mismatch"
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
    PROBLEM_OVERDUE,
    QUARANTINE_OVERDUE,
    MANIFEST_MISMATCH,
)

FORGED_CODES = frozenset({"PASS_SIGNATURE_INVALID", "PASS_MALFORMED", "PASS_UNKNOWN_KEY"})
# MANIFEST_INVALID (issue 14): a bus's manifest page forged, or bound to another pass: misuse of the pass.
MISMATCH_CODES = frozenset(
    {"PLATE_MISMATCH", "PERSON_MISMATCH", "LICENCE_MISMATCH", "OCCUPANT_NOT_ON_PASS", "MANIFEST_INVALID"}
)
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
    """A pass seen at a checkpoint (coordinates in decimal degrees, or None when the checkpoint has none).

    ``repeat_of``: the device's earlier record that this one re-decides (a re-measure), as the record says."""

    crossing_id: str
    pass_id: str
    checkpoint_id: int
    at: datetime
    latitude: float | None = None
    longitude: float | None = None
    device_id: str | None = None
    repeat_of: str | None = None

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True)
class Reach:
    """How far one vehicle can be believed to get in a given time (settings: they tune the audit, not the
    decision). Generous on purpose: a false clone alert accuses a driver and costs an officer an hour.

    - ``max_speed_kmh``: the fastest believable road speed. It is applied to the straight line between the
      checkpoints, which is never longer than the road: that is the allowance for roads that wind.
    - ``clock_skew``: added to the time between two sightings, for device clocks that disagree.
    - ``slack_km``: taken off the distance, for coordinates typed to two decimals or a checkpoint whose lanes lie
      a little way from its marked point.
    """

    max_speed_kmh: float = 150.0
    clock_skew: timedelta = timedelta(minutes=5)
    slack_km: float = 2.0

    def too_far(self, distance_km: float, gap: timedelta) -> bool:
        hours = (abs(gap) + self.clock_skew).total_seconds() / 3600
        return distance_km - self.slack_km > self.max_speed_kmh * hours


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance: roads are longer, so this errs towards not accusing anyone."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def clone_finding(a: Sighting, b: Sighting, *, reach: Reach) -> Finding | None:
    """Two sightings of one pass that one vehicle cannot explain: at two located checkpoints further apart than
    ``reach`` allows in the time between them.

    Never a clone: two sightings at one checkpoint (a repeat, a re-measure, a vehicle that turned back — however
    soon), a record that re-decides the other (``repeat_of``), or a checkpoint without coordinates (nothing to
    judge the distance by; see docs/design.md, Alerts)."""
    if a.crossing_id == b.crossing_id or a.pass_id != b.pass_id or a.checkpoint_id == b.checkpoint_id:
        return None
    if a.repeat_of == b.crossing_id or b.repeat_of == a.crossing_id:
        return None
    if not (a.located and b.located):
        return None
    first, later = sorted((a, b), key=lambda s: (s.at, s.crossing_id))
    gap = later.at - first.at
    distance = haversine_km(first.latitude, first.longitude, later.latitude, later.longitude)  # type: ignore[arg-type]
    if not reach.too_far(distance, gap):
        return None
    allowed_hours = (gap + reach.clock_skew).total_seconds() / 3600
    pair = ":".join(sorted((a.crossing_id, b.crossing_id)))
    return Finding(
        kind=CLONED_PASS,
        dedupe_key=f"{CLONED_PASS}:{pair}",
        occurred_at=later.at,
        crossing_id=later.crossing_id,
        device_id=later.device_id,
        pass_id=later.pass_id,
        checkpoint_id=later.checkpoint_id,
        detail={
            "other_crossing_id": first.crossing_id,
            "other_checkpoint_id": first.checkpoint_id,
            "minutes": round(gap.total_seconds() / 60, 1),
            "distance_km": round(distance, 1),
            # The least speed that explains the pair even after the allowances: what the alert accuses.
            "speed_kmh": round((distance - reach.slack_km) / allowed_hours, 1) if allowed_hours > 0 else None,
            "max_speed_kmh": reach.max_speed_kmh,
            "skew_minutes": reach.clock_skew.total_seconds() / 60,
            "slack_km": reach.slack_km,
        },
    )


def clone_findings(sightings: Iterable[Sighting], new: Collection[str], *, reach: Reach) -> list[Finding]:
    """The clone findings of the sightings named in ``new``, each judged against its neighbours in time among
    the located sightings of its pass.

    Neighbours only: when two sightings are too far apart for the time between, so is some consecutive pair of
    the located sightings between them (distances add up along the way, times too; a checkpoint without
    coordinates tells nothing, so it is left out rather than let it hide the step around it). Comparing every
    pair would add nothing but work growing with the square of a much-copied pass's sightings. The one
    exception is the allowances, which each step gets afresh: a pair only just too far apart may be missed
    when a sighting lies between them."""
    by_pass: dict[str, dict[str, Sighting]] = {}
    for sighting in sightings:
        if sighting.located:
            by_pass.setdefault(sighting.pass_id, {})[sighting.crossing_id] = sighting
    findings: dict[str, Finding] = {}  # two new neighbours find their pair twice
    for unique in by_pass.values():
        ordered = sorted(unique.values(), key=lambda s: (s.at, s.crossing_id))
        for i, sighting in enumerate(ordered):
            if sighting.crossing_id not in new:
                continue
            for other in ordered[max(i - 1, 0) : i] + ordered[i + 1 : i + 2]:
                found = clone_finding(sighting, other, reach=reach)
                if found is not None:
                    findings[found.dedupe_key] = found
    return list(findings.values())


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


def problem_overdue_finding(
    *, problem_id: int, due_on: date, department_id: int | None, checkpoint_id: int | None, now: datetime
) -> Finding:
    """One alert per deadline: passing the problem on sets a new deadline, and missing that one is new again."""
    return Finding(
        kind=PROBLEM_OVERDUE,
        dedupe_key=f"{PROBLEM_OVERDUE}:{problem_id}:{due_on.isoformat()}",
        occurred_at=now,
        checkpoint_id=checkpoint_id,
        detail={"problem": problem_id, "due_on": due_on.isoformat(), "department": department_id},
    )


def quarantine_overdue_finding(
    *,
    task_id: int,
    due_at: datetime,
    crossing_id: str,
    checkpoint_id: int,
    pass_id: str | None,
    enterprise: str | None,
) -> Finding:
    """Once per task: it has one deadline, and a late confirmation does not undo the finding."""
    return Finding(
        kind=QUARANTINE_OVERDUE,
        dedupe_key=f"{QUARANTINE_OVERDUE}:{task_id}",
        occurred_at=due_at,  # when it became overdue, whenever the sweep noticed
        crossing_id=crossing_id,
        pass_id=pass_id,
        checkpoint_id=checkpoint_id,
        detail={"task": task_id, "due_at": due_at.isoformat(), "enterprise": enterprise},
    )


def manifest_finding(facts: CrossingFacts, *, recorded: str, issued: str | None) -> Finding | None:
    """A bus record that read a manifest (``recorded``: its digest, hex) other than the one signed into the pass
    it names (``issued``; None: the pass carries no manifest, a freight pass)."""
    if not recorded or recorded == issued:
        return None
    return Finding(
        kind=MANIFEST_MISMATCH,
        dedupe_key=f"{MANIFEST_MISMATCH}:{facts.crossing_id}",
        occurred_at=facts.decided_at,
        crossing_id=facts.crossing_id,
        device_id=facts.device_id,
        pass_id=facts.pass_id,
        checkpoint_id=facts.checkpoint_id,
        detail={"recorded": recorded, "issued": issued},
    )


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
