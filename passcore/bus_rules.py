"""The release decision for a bus on a personnel-transport pass (docs/design.md, "Buses (personnel transport)").

``decide_bus`` is ``rules.decide`` for a chartered bus: the pass is judged as any pass (``rules.judge_pass``), the
crew (driver, the enterprise's on-board manager, anyone found aboard who is not on the manifest) as occupants,
and every passenger of the signed manifest (``passcore.manifest``) by the officer's roll call: aboard or not, and
the thermometer gun's reading where it was not normal. The decision carries each passenger's disposition, in
manifest order, so the record keeps who was released, taken into the enterprise's quarantine, held or absent.

Pure: no I/O, no clock. Bad input (a missing or implausible temperature, a roll call that does not fit the
manifest) raises ``InputError``, as the freight rules do.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol, get_args

from passcore import ids
from passcore.claims import PassClaims
from passcore.errors import InputError
from passcore.manifest import MANIFEST_INVALID, MANIFEST_VALID, Passenger
from passcore.policy import BUS_FEVER_RELEASE_OTHERS, Policy
from passcore.reasons import ESCORT_REQUIRED, MEDICAL_HOLD, REFUSE, RELEASE
from passcore.rules import (
    MISUSE_REASONS,
    Decision,
    Observation,
    Occupant,
    check_occupants,
    hard_hit,
    judge_pass,
    measured,
    ordered,
    receiving_enterprise,
    same_name,
)
from passcore.trust import Verification

__all__ = [
    "ABSENT",
    "DISPOSITIONS",
    "QUARANTINE",
    "BusDecision",
    "Disposition",
    "ManifestView",
    "RecordedManifest",
    "RollEntry",
    "decide_bus",
    "occupancy_limit",
]

Disposition = Literal["RELEASE", "QUARANTINE", "MEDICAL_HOLD", "ABSENT", "REFUSE"]
QUARANTINE: Disposition = "QUARANTINE"
ABSENT: Disposition = "ABSENT"
DISPOSITIONS: tuple[Disposition, ...] = get_args(Disposition)
# Reasons that refuse a bus whatever pass_misuse says: without its whole, genuine manifest nobody aboard can be
# judged, and a bus over its seat limit is refused as such.
_BUS_REFUSALS = frozenset({MANIFEST_INVALID, "MANIFEST_INCOMPLETE", "SEAT_LIMIT_EXCEEDED"})


class ManifestView(Protocol):
    """What the rules read of a manifest: ``passcore.manifest.Manifest`` as the pages are scanned, or a
    ``RecordedManifest`` rebuilt from a record for the audit's replay."""

    @property
    def claims(self) -> PassClaims: ...

    @property
    def code(self) -> str: ...  # MANIFEST_VALID, MANIFEST_INCOMPLETE or MANIFEST_INVALID

    @property
    def passengers(self) -> tuple[Passenger, ...]: ...  # read only when the code is MANIFEST_VALID


@dataclass(frozen=True)
class RecordedManifest:
    """A manifest as a crossing record kept it (``passcore.crossing.bus_inputs``): the pages are not there, only
    what the device found of them."""

    claims: PassClaims
    code: str
    passengers: tuple[Passenger, ...] = ()


@dataclass(frozen=True)
class RollEntry:
    """One manifest passenger at the roll call. ``aboard`` with ``temperature_c`` None: measured by the gun and
    normal (the "rest normal" key); a typed temperature is judged like an occupant's. Absent: ``aboard`` False."""

    number: int  # 1-based, the passenger's place on the manifest
    aboard: bool
    temperature_c: Decimal | None = None


@dataclass(frozen=True)
class BusDecision(Decision):
    """A ``Decision`` (its ``fever``, ``unlisted`` and ``absent`` are about the crew) with each manifest
    passenger's disposition, and what the record keeps of the bus."""

    passengers: tuple[str, ...] = ()  # dispositions, in manifest order
    arrived_at: datetime | None = (
        None  # the bus's first scan on this screen: decided_at - arrived_at = its wait
    )
    manifest: str = ""  # the manifest digest, 32 hex digits, when the whole manifest was read
    pages: int = 0  # the manifest pages the pass names (0: no personnel pass was read)
    seats: int = 0  # the bus's passenger seats the pass names

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {
            "passengers": list(self.passengers),
            "arrived_at": None if self.arrived_at is None else self.arrived_at.isoformat(),
            "manifest": self.manifest,
            "pages": self.pages,
            "seats": self.seats,
        }


def occupancy_limit(seats: int, policy: Policy) -> int:
    """How many people may ride on ``seats`` passenger seats under the policy's 客座率 (the driver not counted)."""
    return seats * policy.bus_occupancy_percent // 100


def _roll(roll: Sequence[RollEntry], passengers: Sequence[Passenger], policy: Policy) -> list[Decimal | None]:
    """Each passenger's measured temperature (None: absent, or normal by the gun), after checking the roll fits."""
    if len(roll) != len(passengers):
        raise InputError(
            f"the roll call has {len(roll)} entries for {len(passengers)} passengers on the manifest",
            code="ROLL_INVALID",
        )
    temperatures: list[Decimal | None] = []
    for number, (entry, person) in enumerate(zip(roll, passengers, strict=True), 1):
        who = f"passenger {number} ({person.name})"
        if entry.number != number:
            raise InputError(f"roll entry {number} is numbered {entry.number}", code="ROLL_INVALID")
        if not entry.aboard:
            if entry.temperature_c is not None:
                raise InputError(f"{who} is marked not aboard but has a temperature", code="ROLL_INVALID")
            temperatures.append(None)
            continue
        temperatures.append(
            None if entry.temperature_c is None else measured(entry.temperature_c, who, policy)
        )
    return temperatures


def decide_bus(
    *,
    verification: Verification | None,
    manifest: ManifestView | None,
    observed: Observation,
    crew: Sequence[Occupant],
    roll: Sequence[RollEntry],
    policy: Policy,
    now: datetime,
    arrived_at: datetime,
    known_enterprises: Collection[str] | None = None,
    bundle_version: int | None = None,
) -> BusDecision:
    """The release decision for a bus and each of its passengers (docs/design.md, "Buses (personnel transport)").

    ``crew``: the driver, the manager (role "manager") and anyone aboard who is not on the manifest (role
    "passenger"), each with a typed temperature. ``roll``: one entry per manifest passenger, in order; it is only
    judged against a complete, genuine manifest (without one the bus is refused and the roll is moot).
    """
    crew_temperatures = check_occupants(crew, policy)
    if sum(o.role == "manager" for o in crew) > 1:
        raise InputError("at most one occupant can be the bus's manager", code="OCCUPANTS_INVALID")
    if not observed.plate:
        raise InputError("read the vehicle's plate", code="PLATE_INVALID")
    if arrived_at.tzinfo is None or now.tzinfo is None:
        raise InputError("the bus's arrival and decision times need a time zone", code="TIME_INVALID")
    plate = ids.normalize_plate(observed.plate)

    # Whoever the officer found aboard and not on the manifest is not on the pass, whatever their name.
    strangers = tuple(i for i, o in enumerate(crew) if o.role == "passenger")
    judged = judge_pass(verification, observed, plate, crew, policy, strangers=bool(strangers))
    reasons = judged.reasons | {"PRIORITY_BUS"}
    route = judged.route
    # The bus as its signed pass describes it, also on a pass out of date or revoked: its manifest still says who
    # is aboard (for the record, and to judge them as a vehicle without a pass).
    signed = verification.claims if verification is not None else None
    bus = signed.bus if signed is not None else None

    # The manifest: only the pages bound to the pass read here count, and only all of them.
    passengers: tuple[Passenger, ...] | None = None
    if manifest is not None and signed is not None and manifest.claims.pass_id != signed.pass_id:
        reasons.add(MANIFEST_INVALID)
    elif manifest is None or bus is None:
        reasons.add("MANIFEST_INCOMPLETE")
    elif (code := manifest.code) != MANIFEST_VALID:
        reasons.add(code)
    else:
        passengers = manifest.passengers
        reasons.add(MANIFEST_VALID)
    temperatures = _roll(roll, passengers, policy) if passengers is not None else []
    aboard = [entry.aboard for entry in roll] if passengers is not None else []
    if not all(aboard):
        reasons.add("PASSENGER_ABSENT")  # recorded, not a refusal: the record names who

    if bus is not None and passengers is not None:
        riding = sum(aboard) + sum(o.role != "driver" for o in crew)
        if riding > occupancy_limit(bus.seats, policy):
            reasons.add("SEAT_LIMIT_EXCEEDED")

    crew_fever = tuple(i for i, t in enumerate(crew_temperatures) if t >= policy.fever_threshold_c)
    fevered = {i for i, t in enumerate(temperatures) if t is not None and t >= policy.fever_threshold_c}
    if crew_fever or fevered:
        reasons.add("FEVER")
    # A fever of the driver or the manager (or of anyone else not on the manifest) always holds the bus.
    hold_bus = bool(crew_fever) or (bool(fevered) and policy.bus_fever != BUS_FEVER_RELEASE_OTHERS)
    if fevered and not hold_bus:
        reasons.add("FEVER_PERSON_HELD")

    # The hard-hit area. The bus's own places (plate's province, the pass's route) and the crew's, who rode with
    # everyone, put every passenger aboard in quarantine; a passenger's own places put that passenger there.
    hit_bus = hard_hit(
        policy, [ids.plate_region(plate), *((route.origin, *route.travel_history) if route else ())]
    )
    hit_crew = hard_hit(policy, [p for o in crew for p in (o.origin, *o.travel_history)])
    hit_each = [
        hard_hit(policy, (p.origin, *p.travel_history)) if on else set()
        for p, on in zip(passengers or (), aboard, strict=True)
    ]
    everyone = bool(hit_bus or hit_crew)
    hit = [everyone or bool(codes) for codes, on in zip(hit_each, aboard, strict=True) if on]
    if hit_bus:
        reasons.add("HARD_HIT_VEHICLE")
    if hit_crew or any(hit_each):
        reasons.add("HARD_HIT_PERSON")
    hard = bool(hit_bus or hit_crew or any(hit_each))

    receiver = receiving_enterprise(judged, None, known_enterprises)
    manager = bus.manager if bus is not None and not judged.as_no_pass else None
    manager_aboard = manager is not None and any(
        o.role == "manager" and same_name(o.name, manager.name) for o in crew
    )
    if hard and not receiver:
        reasons.add("NO_RECEIVING_ENTERPRISE")

    misuse = bool(reasons & MISUSE_REASONS) and not judged.as_no_pass
    if hold_bus:
        outcome = MEDICAL_HOLD
    elif misuse or reasons & _BUS_REFUSALS or "PASS_REQUIRED" in reasons:
        outcome = REFUSE
    elif hard and not receiver:
        outcome = REFUSE if policy.hard_hit_without_enterprise == REFUSE else ESCORT_REQUIRED
    elif hard and not manager_aboard:
        outcome = (
            ESCORT_REQUIRED  # nobody aboard to receive them: the enterprise's staff come to the checkpoint
        )
    else:
        outcome = RELEASE
    if hard and receiver and manager_aboard and outcome == RELEASE and any(hit):
        reasons.add("QUARANTINE_BY_ENTERPRISE")

    dispositions: list[str] = []
    for i, on in enumerate(aboard):
        if not on:
            dispositions.append(ABSENT)
        elif i in fevered or outcome == MEDICAL_HOLD:
            dispositions.append(MEDICAL_HOLD)
        elif outcome == REFUSE:
            dispositions.append(REFUSE)
        elif everyone or hit_each[i]:
            dispositions.append(QUARANTINE)
        else:
            dispositions.append(RELEASE)

    unlisted, absent = judged.roster(crew)
    return BusDecision(
        outcome=outcome,
        reasons=ordered(reasons),
        policy_version=policy.version,
        bundle_version=bundle_version,
        decided_at=now,
        pass_id=verification.pass_id if verification else None,
        plate=plate,
        enterprise=receiver,
        fever=crew_fever,
        hard_hit=tuple(sorted(hit_bus | hit_crew | set().union(*hit_each))),
        unlisted=tuple(sorted(set(unlisted) | set(strangers))) if judged.claims else (),
        absent=absent,
        passengers=tuple(dispositions),
        arrived_at=arrived_at,
        manifest=bus.digest.hex() if bus is not None and passengers is not None else "",
        pages=bus.pages if bus is not None else 0,
        seats=bus.seats if bus is not None else 0,
    )
