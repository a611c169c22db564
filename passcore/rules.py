"""The release decision (docs/design.md, "Release rules") as a pure function.

``decide`` takes what the checkpoint knows — the pass verification (or none), what the officer observed,
everyone aboard with temperature and origin, the policy in force — and returns a ``Decision`` carrying the
outcome, every reason that applied and the versions it was made under, so an auditor can replay it.
Bad input (a missing or implausible temperature, an unreadable plate) raises ``InputError``: that asks for a
re-measure or a correction, never a decision.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, get_args

from passcore import ids
from passcore.claims import PassClaims
from passcore.errors import InputError
from passcore.policy import IDENTITY_ID_LAST4, MISUSE_AS_NO_PASS, Policy, parse_temperature
from passcore.reasons import ESCORT_REQUIRED, MEDICAL_HOLD, MESSAGES, REFUSE, RELEASE
from passcore.trust import Verification

__all__ = [
    "MAX_OCCUPANTS",
    "MISUSE_REASONS",
    "ROLES",
    "Decision",
    "Observation",
    "Occupant",
    "PassJudgement",
    "Role",
    "check_occupants",
    "decide",
    "hard_hit",
    "judge_pass",
    "measured",
    "ordered",
    "receiving_enterprise",
    "roster",
    "same_name",
]

# "manager": a personnel-transport pass's on-board manager from the employing enterprise (passcore.bus_rules).
Role = Literal["driver", "escort", "passenger", "manager"]
ROLES: tuple[str, ...] = get_args(Role)
MAX_OCCUPANTS = 20
# Reasons that mean the pass is being misused: an alert is raised, and the vehicle is refused (or, under the
# policy's pass_misuse = as_no_pass, judged as a vehicle without a pass).
MISUSE_REASONS = frozenset(
    {
        "PASS_MALFORMED",
        "PASS_SIGNATURE_INVALID",
        "PASS_UNKNOWN_KEY",
        "PASS_REVOKED",
        "PLATE_MISMATCH",
        "PERSON_MISMATCH",
        "LICENCE_MISMATCH",
        "OCCUPANT_NOT_ON_PASS",
        # A manifest page forged, of another pass, or pages not adding up to the pass's manifest (issue 14).
        "MANIFEST_INVALID",
    }
)
_ORDER = {code: i for i, code in enumerate(MESSAGES)}


@dataclass(frozen=True)
class Occupant:
    role: str
    name: str
    temperature_c: Decimal | None
    origin: str | None = None
    travel_history: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observation:
    """What the officer saw: the plate as read, and the identity and licence checks."""

    plate: str | None = None
    identity_confirmed: bool | None = None
    licence_confirmed: bool | None = None
    id_last4: str | None = None


@dataclass(frozen=True)
class Decision:
    outcome: str
    reasons: tuple[str, ...]
    policy_version: int
    bundle_version: int | None
    decided_at: datetime
    pass_id: str | None = None
    plate: str | None = None
    enterprise: str | None = None  # the receiving enterprise, when one is known
    fever: tuple[int, ...] = ()  # indices into the occupants
    hard_hit: tuple[str, ...] = field(default=())  # the hard-hit codes that matched
    # Against a valid pass: the occupants (indices) whose name is not on it (OCCUPANT_NOT_ON_PASS), and the names on
    # it with nobody of that name aboard, so the officer and the record can say who.
    unlisted: tuple[int, ...] = ()
    absent: tuple[str, ...] = ()

    @property
    def misuse(self) -> bool:
        return bool(MISUSE_REASONS.intersection(self.reasons))

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reasons": list(self.reasons),
            "policy_version": self.policy_version,
            "bundle_version": self.bundle_version,
            "decided_at": self.decided_at.isoformat(),
            "pass_id": self.pass_id,
            "plate": self.plate,
            "enterprise": self.enterprise,
            "fever": list(self.fever),
            "hard_hit": list(self.hard_hit),
            "unlisted": list(self.unlisted),
            "absent": list(self.absent),
        }


def same_name(a: str, b: str) -> bool:
    """Names compared as the rules compare them: NFKC, whitespace removed, case folded."""

    def fold(name: str) -> str:
        return "".join(unicodedata.normalize("NFKC", name).split()).casefold()

    return fold(a) == fold(b)


def check_occupants(occupants: Sequence[Occupant], policy: Policy) -> list[Decimal]:
    """Everyone listed, one driver, known roles, each temperature measured and plausible; their temperatures."""
    if not occupants:
        raise InputError("list everyone aboard, the driver at least", code="OCCUPANTS_MISSING")
    if len(occupants) > MAX_OCCUPANTS:
        raise InputError(f"at most {MAX_OCCUPANTS} occupants", code="OCCUPANTS_INVALID")
    if sum(o.role == "driver" for o in occupants) != 1:
        raise InputError("exactly one occupant must be the driver", code="OCCUPANTS_INVALID")
    temperatures = []
    for number, person in enumerate(occupants, 1):
        who = f"occupant {number} ({person.name})"
        if person.role not in ROLES:
            raise InputError(f"{who}: role must be one of {', '.join(ROLES)}", code="OCCUPANTS_INVALID")
        temperatures.append(measured(person.temperature_c, who, policy))
    return temperatures


def measured(temperature: Any, who: str, policy: Policy) -> Decimal:
    """A typed temperature as a Decimal inside the policy's plausible range; InputError otherwise (re-measure)."""
    if temperature is None:
        raise InputError(f"{who}: temperature missing — measure it", code="TEMPERATURE_MISSING")
    value = parse_temperature(temperature, f"{who} temperature")
    if not policy.temperature_min_c <= value <= policy.temperature_max_c:
        # "381" typed for 38.1 (the screen's keypad takes digits alone; a scenario or the CLI does not): not
        # guessed, but the error says what to type.
        tenth = value / 10
        typo = (
            value == value.to_integral_value()
            and policy.temperature_min_c <= tenth <= policy.temperature_max_c
        )
        hint = f"; for {tenth} °C type {tenth}" if typo else ""
        raise InputError(
            f"{who}: {value} °C is implausible (outside {policy.temperature_min_c}–"
            f"{policy.temperature_max_c} °C) — measure again{hint}",
            code="TEMPERATURE_IMPLAUSIBLE",
        )
    return value


def _pass_checks(
    verification: Verification,
    observed: Observation,
    plate: str,
    occupants: Sequence[Occupant],
    policy: Policy,
) -> set[str]:
    """Person, vehicle and certificate against a valid pass ("人车证一致")."""
    claims = verification.claims
    assert claims is not None  # a valid verification always has claims
    reasons = set()
    if plate != claims.plate:
        reasons.add("PLATE_MISMATCH")
    if observed.id_last4 is not None:
        if observed.id_last4.strip().upper() != ids.last4(claims.driver.id_masked):
            reasons.add("PERSON_MISMATCH")
    elif policy.identity_check == IDENTITY_ID_LAST4:
        raise InputError("type the last 4 characters of the driver's ID number", code="IDENTITY_NOT_CHECKED")
    elif observed.identity_confirmed is None:
        raise InputError("confirm whether the driver is the person on the pass", code="IDENTITY_NOT_CHECKED")
    if observed.identity_confirmed is False:
        reasons.add("PERSON_MISMATCH")
    if observed.licence_confirmed is None:
        raise InputError("confirm whether the driving licence matches the pass", code="LICENCE_NOT_CHECKED")
    if not observed.licence_confirmed:
        reasons.add("LICENCE_MISMATCH")
    for person in occupants:
        if person.role == "driver" and not same_name(person.name, claims.driver.name):
            reasons.add("PERSON_MISMATCH")
    if _roster(verification, occupants)[0]:
        reasons.add("OCCUPANT_NOT_ON_PASS")
    return reasons


def roster(claims: PassClaims, names: Sequence[str]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """(indices of ``names`` not on the pass, names on the pass not among ``names``), names compared as the
    rules compare them (NFKC, whitespace removed, case folded)."""
    listed = claims.people
    unlisted = tuple(i for i, name in enumerate(names) if not any(same_name(name, p.name) for p in listed))
    absent = tuple(p.name for p in listed if not any(same_name(name, p.name) for name in names))
    return unlisted, absent


def _roster(
    verification: Verification | None, occupants: Sequence[Occupant]
) -> tuple[tuple[int, ...], tuple[str, ...]]:
    if verification is None or not verification.valid or verification.claims is None:
        return (), ()
    return roster(verification.claims, [o.name for o in occupants])


@dataclass(frozen=True)
class PassJudgement:
    """What the pass says about a vehicle, before its people are judged: the pass's reasons, its claims when valid,
    and whether a misused pass is judged as none (policy ``pass_misuse`` = ``as_no_pass``)."""

    reasons: set[str]
    claims: PassClaims | None
    as_no_pass: bool
    verification: Verification | None

    @property
    def route(self) -> PassClaims | None:
        """The pass whose places count: a trusted one, or on a misused pass judged as none also a revoked one's
        (it was signed, and counting it is only stricter)."""
        if self.as_no_pass and self.verification is not None:
            return self.verification.claims
        return self.claims

    def roster(self, occupants: Sequence[Occupant]) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """``rules.roster`` against a valid pass; nobody is listed or absent without one."""
        return _roster(self.verification, occupants)


def judge_pass(
    verification: Verification | None,
    observed: Observation,
    plate: str,
    occupants: Sequence[Occupant],
    policy: Policy,
    *,
    strangers: bool = False,
) -> PassJudgement:
    """The pass's reasons (validity, matching, misuse, NO_PASS / PASS_REQUIRED), shared by every kind of vehicle.
    ``strangers``: someone aboard is known not to be on the pass (a bus's people found aboard off its manifest)."""
    reasons: set[str] = set()
    claims = None
    if verification is None:
        reasons.add("NO_PASS")
    else:
        reasons.add(verification.code)
        if verification.valid:
            claims = verification.claims
            reasons |= _pass_checks(verification, observed, plate, occupants, policy)
            if strangers:
                reasons.add("OCCUPANT_NOT_ON_PASS")
        elif not verification.misuse:  # expired or not yet valid: a vehicle without a pass
            reasons.add("NO_PASS")
    # Under as_no_pass a misused pass counts as no pass; its places below still count (stricter), but its
    # enterprise does not receive the vehicle.
    misuse_as_no_pass = policy.pass_misuse == MISUSE_AS_NO_PASS and bool(reasons & MISUSE_REASONS)
    if misuse_as_no_pass:
        reasons.add("NO_PASS")
    if "NO_PASS" in reasons and policy.pass_mandatory:
        reasons.add("PASS_REQUIRED")
    return PassJudgement(reasons, claims, misuse_as_no_pass, verification)


def hard_hit(policy: Policy, places: Iterable[str | None], *, check: bool = True) -> set[str]:
    """The hard-hit codes covering any of ``places`` (blanks skipped; ``check``: each a valid region code)."""
    return {c for c in (policy.covers(ids.validate_region(p) if check else p) for p in places if p) if c}


def receiving_enterprise(
    judged: PassJudgement, typed: str | None, known_enterprises: Collection[str] | None
) -> str | None:
    """The pass's enterprise (a trusted pass) or the typed one, and only if the bundle's directory lists it."""
    receiver = judged.claims.enterprise if judged.claims and not judged.as_no_pass else typed
    if receiver and known_enterprises is not None and receiver not in known_enterprises:
        return None
    return receiver


def ordered(reasons: Collection[str]) -> tuple[str, ...]:
    """Reason codes in the order of the reasons table (``passcore.reasons.MESSAGES``)."""
    return tuple(sorted(reasons, key=lambda code: _ORDER.get(code, len(_ORDER))))


def decide(
    *,
    verification: Verification | None,
    observed: Observation,
    occupants: Sequence[Occupant],
    policy: Policy,
    now: datetime,
    vehicle_origin: str | None = None,
    enterprise: str | None = None,
    known_enterprises: Collection[str] | None = None,
    bundle_version: int | None = None,
) -> Decision:
    """The release decision. ``known_enterprises`` (the bundle's directory) limits who can receive a vehicle."""
    temperatures = check_occupants(occupants, policy)
    if not observed.plate:
        raise InputError("read the vehicle's plate", code="PLATE_INVALID")
    plate = ids.normalize_plate(observed.plate)
    if vehicle_origin is not None:
        vehicle_origin = ids.validate_region(vehicle_origin)
    if enterprise:
        enterprise = ids.validate_uscc(enterprise)

    judged = judge_pass(verification, observed, plate, occupants, policy)
    reasons, misuse_as_no_pass = judged.reasons, judged.as_no_pass

    fever = tuple(i for i, t in enumerate(temperatures) if t >= policy.fever_threshold_c)
    if fever:
        reasons.add("FEVER")

    # Where the vehicle comes from: declared origin, the plate's province, and the route on the pass.
    route = judged.route
    vehicle_places = [vehicle_origin, ids.plate_region(plate), route.origin if route else None]
    person_places = [p for o in occupants for p in (o.origin, *o.travel_history)]
    person_places += list(route.travel_history) if route else []
    hit_vehicle = hard_hit(policy, vehicle_places, check=False)
    hit_person = hard_hit(policy, person_places)
    if hit_vehicle:
        reasons.add("HARD_HIT_VEHICLE")
    if hit_person:
        reasons.add("HARD_HIT_PERSON")

    receiver = receiving_enterprise(judged, enterprise, known_enterprises)
    if (hit_vehicle or hit_person) and not receiver:
        reasons.add("NO_RECEIVING_ENTERPRISE")

    if fever:
        outcome = MEDICAL_HOLD
    elif (reasons & MISUSE_REASONS and not misuse_as_no_pass) or "PASS_REQUIRED" in reasons:
        outcome = REFUSE
    elif hit_vehicle or hit_person:
        no_receiver = "NO_RECEIVING_ENTERPRISE" in reasons
        outcome = REFUSE if no_receiver and policy.hard_hit_without_enterprise == REFUSE else ESCORT_REQUIRED
    else:
        outcome = RELEASE
    unlisted, absent = _roster(verification, occupants)
    return Decision(
        outcome=outcome,
        reasons=ordered(reasons),
        policy_version=policy.version,
        bundle_version=bundle_version,
        decided_at=now,
        pass_id=verification.pass_id if verification else None,
        plate=plate,
        enterprise=receiver,
        fever=fever,
        hard_hit=tuple(sorted(hit_vehicle | hit_person)),
        unlisted=unlisted,
        absent=absent,
    )
