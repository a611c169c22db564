"""The crossing record: one decision made at a checkpoint, as the device stores, chains and uploads it and as the
bureau checks, replays and purges it. The one contract between the two programs (docs/api.md "Crossing records").

- ``CrossingRecord`` is the record's shape and limits: strict (no value is coerced, so the values checked are the
  values hashed), every key required but the later ones (below), no other key. The server validates uploads with it, the device validates what
  it builds with it, so a record one side accepts the other accepts.
- ``contents`` turns a ``rules.Decision`` and what the officer entered into the record's contents, ``link`` puts
  them on the device's chain (``passcore.chain`` makes the canonical JSON and the hash).
- ``references`` checks what the shape cannot (plate, credit code and region codes against their rules).
- ``record_checks``, ``rules_observation`` and ``rules_occupant`` convert between the record and the release rules'
  inputs, both ways, so the audit replays a decision from exactly what was recorded.
- ``anonymise`` removes what is personal (every field marked ``Personal``) once the retention period is over.

Keys added later (``LATER_KEYS``, issue 12: officer, repeat_of, claimed, referral, absent) are optional: a record an
older device wrote without them is valid and reads as null/[]; a newer device always writes them all. The server
hashes the JSON as received, so an older record's hash still checks. ``bus`` (issue 14: a bus's manifest and roll
call, ``BusRecord``) is null for freight.
``bus_contents`` makes it from a ``bus_rules.BusDecision``; ``bus_inputs`` gives the bus rules' inputs back.

Pure: no database, network or clock.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from passcore import bus_rules, ids, rules
from passcore.chain import GENESIS, record_hash
from passcore.claims import MAX_BUS_PASSENGERS, MAX_MANIFEST_PAGES, MAX_SEATS, PassClaims
from passcore.errors import InputError
from passcore.manifest import MANIFEST_INCOMPLETE, MANIFEST_INVALID, MANIFEST_VALID, Passenger
from passcore.reasons import MEDICAL_HOLD, Outcome
from passcore.trust import Verification

__all__ = [
    "CHAIN_KEYS",
    "CHECK_KEYS",
    "FIRST_YEAR",
    "LAST_YEAR",
    "LATER_KEYS",
    "MAX_ABSENT",
    "MAX_HISTORY",
    "MAX_NAME",
    "MAX_PLATE",
    "MAX_REASONS",
    "MAX_REFERRAL",
    "OFFICER",
    "REASON_CODE",
    "TEMPERATURE_RANGE_C",
    "BusPassengerRecord",
    "BusRecord",
    "Checks",
    "ClaimedPass",
    "CrossingContents",
    "CrossingRecord",
    "OccupantRecord",
    "Personal",
    "anonymise",
    "bus_contents",
    "bus_inputs",
    "contents",
    "link",
    "plausible",
    "read_contents",
    "record_checks",
    "references",
    "rules_observation",
    "rules_occupant",
]

MAX_NAME = 50
MAX_HISTORY = 30  # places in a person's 14-day travel history
MAX_REASONS = 30
MAX_PLATE = 20
# Wider than the policy's plausible range (34–43 °C by default): the record keeps what the officer measured under
# whatever policy was in force; only values no thermometer gives are refused.
TEMPERATURE_RANGE_C = (30.0, 45.0)
FIRST_YEAR, LAST_YEAR = 2000, 2100
REASON_CODE = r"^[A-Z][A-Z0-9_]{1,39}$"  # any UPPER_CASE code, so a newer device's new reason loses nothing
CHECK_KEYS = ("identity_confirmed", "licence_confirmed", "id_last4_matched")
CHAIN_KEYS = ("id", "seq", "prev_hash", "hash")
LATER_KEYS = (
    "officer",
    "repeat_of",
    "claimed",
    "referral",
    "absent",
    "bus",
)  # optional: older devices do not write them
OFFICER = r"^[0-9A-Za-z-]{1,16}$"
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
MAX_REFERRAL = 100
MAX_ABSENT = 20  # names on a pass nobody aboard has (a pass lists at most 20 people)
MAX_CLAIMED_NAMES = 20
_NO_MATCH = "----"  # typed digits that never equal an ID's last four (those are digits or X)


class Personal:
    """Marks a field as personal or health data: after the retention period its value is replaced by ``blank``."""

    def __init__(self, blank: Any) -> None:
        self.blank = blank


def _text(value: str) -> str:
    if not ids.usable_text(value):
        raise ValueError("control characters are not allowed")
    return value


def plausible(moment: datetime) -> datetime:
    """``moment`` if its year is in FIRST_YEAR..LAST_YEAR (a device clock gone wrong is not a decision time)."""
    # Also keeps UTC conversion from overflowing at the ends of the calendar (year 1, year 9999).
    if not FIRST_YEAR <= moment.replace(tzinfo=None).year <= LAST_YEAR:
        raise ValueError(f"a time between {FIRST_YEAR} and {LAST_YEAR}")
    return moment


def _aware_iso(value: str) -> str:
    # Kept as the device wrote it (the hash covers these characters); only checked here.
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("give the time zone, e.g. 2026-02-10T08:00:00+08:00")
    plausible(moment)
    return value


Region = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 region code")]
Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_text)]
ReasonCode = Annotated[str, Field(pattern=REASON_CODE)]

Serial = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_text)]
Plate = Annotated[str, Field(min_length=1, max_length=MAX_PLATE), AfterValidator(_text)]
Token = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_text)]
Referral = Annotated[str, Field(min_length=1, max_length=MAX_REFERRAL), AfterValidator(_text)]


class _Strict(BaseModel):
    # strict: no coercion, so the validated values are the very values the device hashed
    model_config = ConfigDict(extra="forbid", strict=True)


class OccupantRecord(_Strict):
    role: rules.Role
    name: Annotated[Name, Personal("")]
    temperature_c: Annotated[
        float,
        Field(ge=TEMPERATURE_RANGE_C[0], le=TEMPERATURE_RANGE_C[1], allow_inf_nan=False),
        Personal(None),
    ] = Field(description="°C, e.g. 36.5")
    origin: Annotated[Region | None, Personal(None)]
    travel_history: Annotated[list[Region], Personal([])] = Field(
        max_length=MAX_HISTORY, description="14-day travel history"
    )


class Checks(_Strict):
    """What the officer checked against a pass; all null for a vehicle without one. No ID digits are kept."""

    identity_confirmed: bool | None = Field(description="the driver is the person on the pass")
    licence_confirmed: bool | None = Field(description="the driving licence matches the pass")
    id_last4_matched: bool | None = Field(description="the typed last 4 ID characters matched the pass")


class ClaimedPass(_Strict):
    """What a pass that did not verify claimed, kept as evidence and never trusted (``passcore.evidence``)."""

    reason: ReasonCode = Field(description="the verification's code: why the pass did not verify")
    serial: Serial | None = Field(description="the serial number it claimed")
    plate: Plate | None = Field(description="the plate it claimed")
    names: Annotated[list[Name], Personal([])] = Field(
        max_length=MAX_CLAIMED_NAMES, description="the people it claimed"
    )
    kid: Token | None = Field(description="the key id it named, hex")
    pass_id: Token | None = Field(description="the pass id it claimed")


class BusPassengerRecord(_Strict):
    """One manifest passenger of a bus at the roll call, and what was decided for them."""

    n: int = Field(ge=1, le=MAX_BUS_PASSENGERS, description="the passenger's place on the manifest, from 1")
    name: Annotated[Name, Personal("")]
    origin: Annotated[Region | None, Personal(None)]
    travel_history: Annotated[list[Region], Personal([])] = Field(
        max_length=MAX_HISTORY, description="14-day travel history, as on the manifest"
    )
    aboard: bool = Field(description="false: on the manifest, not on the bus")
    temperature_c: Annotated[
        float | None,
        Field(ge=TEMPERATURE_RANGE_C[0], le=TEMPERATURE_RANGE_C[1], allow_inf_nan=False),
        Personal(None),
    ] = Field(description="°C as typed; null: measured normal by the gun, or not aboard")
    disposition: bus_rules.Disposition

    @model_validator(mode="after")
    def _consistent(self) -> BusPassengerRecord:
        if not self.aboard and (self.temperature_c is not None or self.disposition != bus_rules.ABSENT):
            raise ValueError("a passenger not aboard has no temperature and the disposition ABSENT")
        if self.aboard and self.disposition == bus_rules.ABSENT:
            raise ValueError("a passenger aboard is not ABSENT")
        return self


class BusRecord(_Strict):
    """A bus on a personnel-transport pass: the manifest read, when the bus arrived, every passenger in order.
    ``manifest`` empty and no passengers when the manifest could not be read whole (MANIFEST_INCOMPLETE/INVALID)."""

    manifest: str = Field(pattern=r"^([0-9a-f]{32})?$", description="the manifest digest, 32 hex digits")
    pages: int = Field(
        ge=0, le=MAX_MANIFEST_PAGES, description="the pass's manifest pages; 0: no bus pass read"
    )
    seats: int = Field(ge=0, le=MAX_SEATS, description="the bus's passenger seats on the pass")
    arrived_at: Annotated[str, Field(max_length=40), AfterValidator(_aware_iso)] = Field(
        description="ISO 8601 with zone: the bus's first scan; decided_at - arrived_at is its wait"
    )
    passengers: list[BusPassengerRecord] = Field(max_length=MAX_BUS_PASSENGERS)

    @model_validator(mode="after")
    def _in_order(self) -> BusRecord:
        if [p.n for p in self.passengers] != list(range(1, len(self.passengers) + 1)):
            raise ValueError("passengers are numbered 1, 2, 3… in manifest order")
        if self.passengers and not self.manifest:
            raise ValueError("passengers are listed only with the manifest they are on")
        return self


class CrossingContents(_Strict):
    """What was decided, on what grounds: everything the audit replays a decision from."""

    decided_at: Annotated[str, Field(max_length=40), AfterValidator(_aware_iso)] = Field(
        description="ISO 8601 with zone"
    )
    plate: str = Field(min_length=1, max_length=MAX_PLATE, description="the plate the decision was made for")
    pass_id: str | None = Field(pattern=r"^[0-9a-f]{24}$", description="the pass read, if any")
    enterprise: str | None = Field(
        pattern=r"^[0-9A-Z]{18}$", description="USCC of the receiving enterprise, if any"
    )
    outcome: Outcome
    reasons: list[ReasonCode] = Field(max_length=MAX_REASONS)
    policy_version: int = Field(ge=1, le=2**31 - 1)
    bundle_version: int = Field(ge=0, le=2**31 - 1, description="0 when no trust bundle was loaded")
    occupants: list[OccupantRecord] = Field(min_length=1, max_length=rules.MAX_OCCUPANTS)
    vehicle_origin: Region | None
    verification: ReasonCode | None = Field(
        description="the pass verification's code (PASS_VALID, PASS_REVOKED, …); null when no pass was read"
    )
    checks: Checks
    # Added in issue 12: optional (an older device's record has none of them), always written by a newer device.
    officer: str | None = Field(
        default=None, pattern=OFFICER, description="the officer signed in when deciding"
    )
    repeat_of: str | None = Field(
        default=None, pattern=UUID, description="this device's earlier record this decision re-decides"
    )
    claimed: ClaimedPass | None = Field(default=None, description="what a pass that did not verify claimed")
    referral: Referral | None = Field(default=None, description="where people with fever were sent")
    absent: Annotated[list[Name], Personal([])] = Field(
        default_factory=list, max_length=MAX_ABSENT, description="names on the pass with nobody aboard"
    )
    # Added in issue 14, only for a bus.
    bus: BusRecord | None = Field(
        default=None, description="a bus's manifest and roll call; absent for freight"
    )


class CrossingRecord(CrossingContents):
    """One decision made at a checkpoint, as the device stored and hash-chained it. Every key is required but
    the ``LATER_KEYS``."""

    id: str = Field(
        pattern=UUID,
        description="UUID made by the device (lower-case, hyphenated)",
    )
    seq: int = Field(ge=1, le=2**31 - 1, description="the device's record counter, from 1, no gaps")
    prev_hash: Hex64 = Field(description="the previous record's hash; 64 zeros for seq 1")
    hash: Hex64 = Field(description="SHA-256 of the canonical JSON of this record without `hash`")


def references(record: CrossingContents) -> tuple[str, str | None]:
    """(plate, enterprise) normalised, once the plate, credit code and every region code pass their own rules;
    InputError with the failing rule's code (PLATE_INVALID, USCC_INVALID, REGION_INVALID) otherwise."""
    plate = ids.normalize_plate(record.plate)
    enterprise = ids.validate_uscc(record.enterprise) if record.enterprise else None
    places = [record.vehicle_origin, *(p for o in record.occupants for p in (o.origin, *o.travel_history))]
    if record.bus is not None:
        places += [p for person in record.bus.passengers for p in (person.origin, *person.travel_history)]
    for place in places:
        if place is not None:
            ids.validate_region(place)
    return plate, enterprise


# ---- from a decision to a record (the checkpoint) -----------------------------------------------------------


def _bad(message: str) -> InputError:
    return InputError(f"the decision cannot be recorded: {message}", code="RECORD_INVALID")


def _region(value: str | None, what: str) -> str | None:
    if not value:  # an empty field on the screen means "not given"
        return None
    try:
        return ids.validate_region(value)
    except InputError as err:
        raise _bad(f"{what}: {err.message}") from err


def _record_occupant(number: int, person: rules.Occupant) -> dict[str, Any]:
    who = f"occupant {number}"
    temperature = person.temperature_c
    return {
        "role": person.role,
        "name": person.name,
        # The record holds a JSON number; float(Decimal("36.5")) is 36.5, written as 36.5, hashed as sent.
        "temperature_c": None if temperature is None else float(Decimal(str(temperature))),
        "origin": _region(person.origin, f"{who} origin"),
        "travel_history": [_region(place, f"{who} travel history") for place in person.travel_history],
    }


def _decided_at(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _bad("the decision time has no time zone")
    return moment.isoformat()


# What the officer is told when a value does not fit the record, by the field it is in.
_PROBLEMS = {
    "role": f"role must be one of {', '.join(rules.ROLES)}",
    "name": f"a name of 1–{MAX_NAME} characters",
    "temperature_c": "temperature {value} °C outside {low:g}–{high:g} °C",
    "travel_history": f"at most {MAX_HISTORY} places in the travel history",
    "decided_at": "the decision time {value} is not plausible: check the device clock",
    "plate": "the plate is missing or too long",
    "pass_id": "the pass id is not 24 lower-case hex digits",
    "enterprise": "the receiving enterprise is not an 18-character credit code",
    "outcome": "unknown outcome {value!r}",
    "reasons": f"at most {MAX_REASONS} reason codes, each UPPER_CASE",
    "policy_version": "the policy version must be a positive integer",
    "bundle_version": "the bundle version must be a non-negative integer",
    "occupants": f"1–{rules.MAX_OCCUPANTS} occupants",
    "verification": "the verification result must be a reason code such as PASS_VALID",
    "checks": f"checks must have exactly the keys {', '.join(CHECK_KEYS)}, each true, false or null",
    "officer": "the officer number must be 1–16 letters, digits or hyphens",
    "repeat_of": "the repeated record must be named by its id (a lower-case UUID)",
    "claimed": "the claimed contents of the pass do not fit the record",
    "referral": f"where the person was sent: 1–{MAX_REFERRAL} characters",
    "absent": f"at most {MAX_ABSENT} absent names of 1–{MAX_NAME} characters",
}


def _explain(err: ValidationError) -> str:
    """The first problem in words an officer can act on, naming the occupant it concerns."""
    first = err.errors()[0]
    loc = [part for part in first["loc"] if part != "hash"]
    if len(loc) > 2 and loc[:2] == ["bus", "passengers"] and isinstance(number := loc[2], int):
        loc = ["passengers", *loc[2:]]  # a bus passenger is named like an occupant
        who = f"passenger {number + 1}: "
    else:
        who = (
            f"occupant {loc[1] + 1}: "
            if len(loc) > 2 and loc[0] == "occupants" and isinstance(loc[1], int)
            else ""
        )
    named = [part for part in loc if isinstance(part, str) and part in _PROBLEMS]
    field = named[1] if who and len(named) > 1 else named[0] if named else ""
    if loc[0] == "passengers":
        field = next((part for part in loc[2:] if isinstance(part, str)), "")
    value = first.get("input")
    if field == "name" and first["type"] in ("value_error", "string_unicode"):  # Cc, or a lone surrogate
        return f"{who}the name contains control characters"
    if field == "referral" and first["type"] in ("value_error", "string_unicode"):
        return "where the person was sent contains control characters"
    if field == "temperature_c" and value is None:
        return f"{who}temperature missing"
    if field in ("origin", "vehicle_origin") or (field == "travel_history" and isinstance(loc[-1], int)):
        return f"{who}{field.replace('_', ' ')}: a six-digit region code"
    if first["type"] == "value_error" and (loc == ["bus"] or (who and not field)):  # the bus's own checks
        return f"{who}{first['msg'].removeprefix('Value error, ')}"
    if loc[0] == "passengers" and field not in _PROBLEMS:
        return f"{who}{field.replace('_', ' ')}: {first['msg']}"
    if field in _PROBLEMS:
        low, high = TEMPERATURE_RANGE_C
        return who + _PROBLEMS[field].format(value=value, low=low, high=high)
    return f"{who}{'.'.join(map(str, loc)) or 'record'}: {first['msg']}"


def _checked(model: type[CrossingContents], draft: Mapping[str, Any]) -> dict[str, Any]:
    """``draft`` validated as ``model``, plate and credit code normalised; InputError(RECORD_INVALID) if not."""
    try:
        record = model.model_validate(draft)
        plate, enterprise = references(record)
    except ValidationError as err:
        raise _bad(_explain(err)) from err
    except InputError as err:
        raise _bad(err.message) from err
    return record.model_dump(mode="json") | {"plate": plate, "enterprise": enterprise}


def contents(
    decision: rules.Decision,
    *,
    occupants: Sequence[rules.Occupant],
    verification: str | None,
    checks: Mapping[str, bool | None],
    vehicle_origin: str | None,
    officer: str | None = None,
    repeat_of: str | None = None,
    claimed: Mapping[str, Any] | None = None,
    referral: str | None = None,
    bus: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The record's contents (all but the chain keys) for one decision, checked against the record's limits.

    ``officer``: the officer signed in; ``repeat_of``: the id of this device's record this decision re-decides;
    ``claimed``: ``passcore.evidence.claimed`` of a pass that did not verify; ``referral``: where people with fever
    were sent (kept only when someone is held: a MEDICAL_HOLD, or a bus passenger held); ``bus``: a bus's
    manifest and roll call (``bus_contents``), None for freight. The absent names come from ``decision.absent``.

    InputError(RECORD_INVALID) if it cannot be a record: a record the server would refuse as ``invalid`` would sit
    in the device's outbox forever, so it is refused before anything is stored or shown.
    """
    return _checked(
        CrossingContents,
        {
            "decided_at": _decided_at(decision.decided_at),
            "plate": decision.plate,
            "pass_id": decision.pass_id,
            "enterprise": decision.enterprise,
            "outcome": decision.outcome,
            "reasons": list(decision.reasons),
            "policy_version": decision.policy_version,
            "bundle_version": 0 if decision.bundle_version is None else decision.bundle_version,  # no bundle
            "occupants": [_record_occupant(number, person) for number, person in enumerate(occupants, 1)],
            "vehicle_origin": _region(vehicle_origin, "vehicle origin"),
            "verification": verification,
            "checks": dict(checks),
            "officer": officer or None,
            "repeat_of": repeat_of,
            "claimed": None if claimed is None else dict(claimed),
            "referral": _referral(decision, referral),
            "absent": list(decision.absent),
            "bus": None if bus is None else dict(bus),
        },
    )


def _referral(decision: rules.Decision, referral: str | None) -> str | None:
    place = (referral or "").strip()
    if not place:
        return None
    held = decision.outcome == MEDICAL_HOLD or MEDICAL_HOLD in getattr(decision, "passengers", ())
    if not held:
        raise _bad("a referral is recorded only with a medical hold")
    return place


def bus_contents(
    decision: bus_rules.BusDecision,
    *,
    passengers: Sequence[Passenger],
    roll: Sequence[bus_rules.RollEntry],
) -> dict[str, Any]:
    """The record's ``bus`` for a bus decision: ``passengers`` the manifest's (empty when it was not read whole,
    as ``roll`` then is), ``roll`` the roll call the decision was made with. Checked with the rest of the record
    by ``contents(..., bus=...)``."""
    if decision.arrived_at is None:
        raise _bad("the bus's arrival time is missing")
    if not len(passengers) == len(roll) == len(decision.passengers):
        raise _bad("the manifest, the roll call and the dispositions differ in length")
    return {
        "manifest": decision.manifest,
        "pages": decision.pages,
        "seats": decision.seats,
        "arrived_at": _decided_at(decision.arrived_at),
        "passengers": [
            {
                "n": entry.number,
                "name": person.name,
                "origin": _region(person.origin, f"passenger {entry.number} origin"),
                "travel_history": [
                    _region(place, f"passenger {entry.number} travel history")
                    for place in person.travel_history
                ],
                "aboard": entry.aboard,
                "temperature_c": None
                if entry.temperature_c is None
                else float(Decimal(str(entry.temperature_c))),
                "disposition": disposition,
            }
            for person, entry, disposition in zip(passengers, roll, decision.passengers, strict=True)
        ],
    }


def link(contents: Mapping[str, Any], *, record_id: str, seq: int, prev_hash: str) -> dict[str, Any]:
    """The whole record: ``contents`` on a device's chain after ``prev_hash``, with its ``hash``, checked.
    InputError(RECORD_INVALID) if it does not fit the record."""
    draft = {**contents, "id": record_id, "seq": seq, "prev_hash": prev_hash, "hash": GENESIS}
    body = _checked(CrossingRecord, draft)
    try:
        body["hash"] = record_hash(body)
    except ValueError as err:  # text that cannot be encoded (lone surrogates)
        raise _bad("text that cannot be stored") from err
    return body


def read_contents(body: Mapping[str, Any]) -> CrossingContents:
    """The contents of a stored or uploaded record (its chain keys set aside), checked against the contract;
    InputError(RECORD_INVALID) if they do not fit it."""
    try:
        return CrossingContents.model_validate({k: v for k, v in body.items() if k not in CHAIN_KEYS})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(map(str, first["loc"])) or "record"
        raise InputError(f"not a crossing record: {where}: {first['msg']}", code="RECORD_INVALID") from err


# ---- between a record and the release rules' inputs (both programs, and the audit's replay) -----------------


def rules_occupant(person: Mapping[str, Any]) -> rules.Occupant:
    """A person of a record (or of a scenario file) as the release rules take them."""
    temperature = person.get("temperature_c")
    return rules.Occupant(
        role=person["role"],
        name=person["name"],
        # The number as written (36.5 -> "36.5"), so that 37.3 stays exactly 37.3.
        temperature_c=None if temperature is None else Decimal(str(temperature)),
        origin=person.get("origin"),
        travel_history=tuple(person.get("travel_history") or ()),
    )


def record_checks(observed: rules.Observation, verification: Verification | None) -> dict[str, bool | None]:
    """What the record keeps of the officer's checks: only against a valid pass, and never the typed ID digits."""
    if verification is None or not verification.valid or verification.claims is None:
        return dict.fromkeys(CHECK_KEYS)
    typed = observed.id_last4
    matched = None if typed is None else typed.upper() == ids.last4(verification.claims.driver.id_masked)
    return {
        "identity_confirmed": observed.identity_confirmed,
        "licence_confirmed": observed.licence_confirmed,
        "id_last4_matched": matched,
    }


def rules_observation(record: Mapping[str, Any], verification: Verification | None) -> rules.Observation:
    """The officer's observation as far as the record keeps it (the inverse of ``record_checks``)."""
    kept = record["checks"]
    id_last4 = None
    claims = verification.claims if verification is not None else None
    if kept.get("id_last4_matched") is not None and claims is not None:
        # Only whether the typed digits matched was kept: stand in the pass's own digits, or digits that never match.
        id_last4 = ids.last4(claims.driver.id_masked) if kept["id_last4_matched"] else _NO_MATCH
    return rules.Observation(
        plate=record["plate"],
        identity_confirmed=kept.get("identity_confirmed"),
        licence_confirmed=kept.get("licence_confirmed"),
        id_last4=id_last4,
    )


def bus_inputs(
    record: Mapping[str, Any], claims: PassClaims | None
) -> tuple[list[rules.Occupant], list[bus_rules.RollEntry], bus_rules.RecordedManifest | None]:
    """A bus record's crew, roll call and manifest as ``bus_rules.decide_bus`` takes them, for the audit's replay.

    ``claims``: the verified pass's (``verification.claims``), None without one. The manifest is the passengers
    the record lists, standing for the pages the device read: genuine and whole when the record's digest is the
    pass's; invalid when the device found it so (MANIFEST_INVALID among the reasons); incomplete otherwise."""
    crew = [rules_occupant(person) for person in record["occupants"]]
    bus = record.get("bus") or {}
    people = bus.get("passengers") or []
    roll = [
        bus_rules.RollEntry(
            number=person["n"],
            aboard=person["aboard"],
            temperature_c=None if person["temperature_c"] is None else Decimal(str(person["temperature_c"])),
        )
        for person in people
    ]
    if claims is None or claims.bus is None:
        return crew, roll, None
    if MANIFEST_INVALID in record.get("reasons", ()):
        code = MANIFEST_INVALID
    elif bus.get("manifest") and bus["manifest"] == claims.bus.digest.hex():
        code = MANIFEST_VALID
    else:
        code = MANIFEST_INCOMPLETE
    passengers = tuple(
        # The masked ID number is not in the record; the rules never read it.
        Passenger(p["name"], "", p["origin"] or "", tuple(p["travel_history"]))
        for p in people
    )
    return crew, roll, bus_rules.RecordedManifest(claims, code, passengers)


# ---- retention --------------------------------------------------------------------------------------------


def _personal(model: type[BaseModel]) -> dict[str, Personal | None]:
    return {
        name: next((m for m in info.metadata if isinstance(m, Personal)), None)
        for name, info in model.model_fields.items()
    }


def _blanked(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: copy.deepcopy(mark.blank) if mark else data.get(name) for name, mark in _personal(model).items()
    }


def anonymise(body: Mapping[str, Any], fever_threshold: Decimal) -> dict[str, Any]:
    """The record without its personal and health data (a new dict; ``body`` is left alone).

    Every field marked ``Personal`` is blanked, in the record, in each occupant and in each bus passenger; a person
    keeps its other fields and gains ``fever`` (whether the temperature was at or above ``fever_threshold``), so
    statistics survive. Keys the record does not define are dropped from people. Tolerates bodies that never were valid
    records (a refused conflicting upload) and bodies purged before.
    """
    result = dict(body) | {
        name: copy.deepcopy(mark.blank)
        for name, mark in _personal(CrossingRecord).items()
        if mark and name in body
    }
    result["occupants"] = [
        _anonymous(OccupantRecord, person, fever_threshold) for person in _people(body.get("occupants"))
    ]
    if isinstance(bus := body.get("bus"), Mapping):
        result["bus"] = dict(bus) | {
            "passengers": [
                _anonymous(BusPassengerRecord, p, fever_threshold) for p in _people(bus.get("passengers"))
            ]
        }
    if isinstance(claimed := body.get("claimed"), Mapping):
        result["claimed"] = dict(claimed) | {
            name: copy.deepcopy(mark.blank)
            for name, mark in _personal(ClaimedPass).items()
            if mark and name in claimed
        }
    return result


def _anonymous(model: type[BaseModel], person: Mapping[str, Any], fever_threshold: Decimal) -> dict[str, Any]:
    """A person without their personal fields, with ``fever`` (kept from a purge before, else measured now)."""
    temperature = person.get("temperature_c")
    fever = bool(person.get("fever"))
    if (
        isinstance(temperature, int | float)
        and not isinstance(temperature, bool)
        and math.isfinite(temperature)
    ):
        fever = Decimal(str(temperature)) >= fever_threshold
    return _blanked(model, person) | {"fever": fever}


def _people(value: Any) -> Iterable[Mapping[str, Any]]:
    return [person for person in value if isinstance(person, Mapping)] if isinstance(value, list) else []
