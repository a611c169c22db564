"""Crossing records as the device stores and uploads them (docs/api.md "Crossing records"), and their chain.

Pure: no database, no network, no clock. ``build_record`` turns a ``Decision`` and what the officer entered into
the record with every key the server requires, checked against the same limits the server applies — a record
the server would refuse as ``invalid`` would sit in the outbox forever, so it is refused here, before anything
is stored or shown, with a message the officer can act on. ``check_chain`` verifies a device's chain.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from passcore import ids
from passcore.chain import GENESIS, record_hash
from passcore.errors import CheckpassError, InputError
from passcore.rules import MAX_OCCUPANTS, ROLES, Decision, Occupant

__all__ = ["CHECK_KEYS", "OUTCOMES", "ChainBroken", "build_record", "check_chain"]

OUTCOMES = frozenset({"RELEASE", "ESCORT_REQUIRED", "REFUSE", "MEDICAL_HOLD"})
CHECK_KEYS = ("identity_confirmed", "licence_confirmed", "id_last4_matched")
MAX_NAME, MAX_REASONS, MAX_HISTORY, MAX_PLATE = 50, 30, 30, 20
TEMPERATURE_RANGE = (30.0, 45.0)
YEARS = (2000, 2100)
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,39}$")
_PASS_ID = re.compile(r"^[0-9a-f]{24}$")


class ChainBroken(CheckpassError):
    """A device's records do not form an unbroken chain from seq 1: a gap, a broken link or an edited record."""

    code = "CHAIN_BROKEN"


def _bad(message: str) -> InputError:
    return InputError(f"the decision cannot be recorded: {message}", code="RECORD_INVALID")


def _region(value: str | None, what: str) -> str | None:
    if not value:  # an empty field on the screen means "not given"
        return None
    try:
        return ids.validate_region(value)
    except InputError as err:
        raise _bad(f"{what}: {err.message}") from err


def _occupant(number: int, person: Occupant) -> dict[str, Any]:
    who = f"occupant {number}"
    if person.role not in ROLES:
        raise _bad(f"{who}: role must be one of {', '.join(ROLES)}")
    name = person.name
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        raise _bad(f"{who}: a name of 1–{MAX_NAME} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise _bad(f"{who}: the name contains control characters")
    if person.temperature_c is None:
        raise _bad(f"{who}: temperature missing")
    # The record holds a JSON number; float(Decimal("36.5")) is 36.5, written as 36.5, hashed as sent.
    temperature = float(Decimal(str(person.temperature_c)))
    low, high = TEMPERATURE_RANGE
    if not math.isfinite(temperature) or not low <= temperature <= high:
        raise _bad(f"{who}: temperature {temperature} °C outside {low:g}–{high:g} °C")
    history = list(person.travel_history)
    if len(history) > MAX_HISTORY:
        raise _bad(f"{who}: at most {MAX_HISTORY} places in the travel history")
    return {
        "role": person.role,
        "name": name,
        "temperature_c": temperature,
        "origin": _region(person.origin, f"{who} origin"),
        "travel_history": [_region(place, f"{who} travel history") for place in history],
    }


def _checks(checks: Mapping[str, bool | None]) -> dict[str, bool | None]:
    if set(checks) != set(CHECK_KEYS):
        raise _bad(f"checks must have exactly the keys {', '.join(CHECK_KEYS)}")
    if any(value is not None and not isinstance(value, bool) for value in checks.values()):
        raise _bad("each check is true, false or null")
    return {key: checks[key] for key in CHECK_KEYS}


def _decided_at(decision: Decision) -> str:
    moment = decision.decided_at
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _bad("the decision time has no time zone")
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise _bad(f"the decision time {moment.isoformat()} is not plausible: check the device clock")
    return moment.isoformat()


def _head(decision: Decision) -> dict[str, Any]:
    """The decision's own fields, checked."""
    if not decision.plate or len(decision.plate) > MAX_PLATE:
        raise _bad("the plate is missing or too long")
    try:
        plate = ids.normalize_plate(decision.plate)
        enterprise = ids.validate_uscc(decision.enterprise) if decision.enterprise else None
    except InputError as err:
        raise _bad(err.message) from err
    if decision.pass_id is not None and not _PASS_ID.match(decision.pass_id):
        raise _bad("the pass id is not 24 lower-case hex digits")
    if decision.outcome not in OUTCOMES:
        raise _bad(f"unknown outcome {decision.outcome!r}")
    reasons = list(decision.reasons)
    if len(reasons) > MAX_REASONS or not all(isinstance(r, str) and _CODE.match(r) for r in reasons):
        raise _bad(f"at most {MAX_REASONS} reason codes, each UPPER_CASE")
    if type(decision.policy_version) is not int or decision.policy_version < 1:
        raise _bad("the policy version must be a positive integer")
    bundle_version = decision.bundle_version or 0  # 0: no trust bundle was loaded
    if type(bundle_version) is not int or bundle_version < 0:
        raise _bad("the bundle version must be a non-negative integer")
    return {
        "decided_at": _decided_at(decision),
        "plate": plate,
        "pass_id": decision.pass_id,
        "enterprise": enterprise,
        "outcome": decision.outcome,
        "reasons": reasons,
        "policy_version": decision.policy_version,
        "bundle_version": bundle_version,
    }


def build_record(
    decision: Decision,
    *,
    occupants: Sequence[Occupant],
    verification: str | None,
    checks: Mapping[str, bool | None],
    vehicle_origin: str | None,
    record_id: str,
    seq: int,
    prev_hash: str,
) -> dict[str, Any]:
    """The chained record (``hash`` included) for one decision. InputError(RECORD_INVALID) if it cannot be one."""
    if not 1 <= len(occupants) <= MAX_OCCUPANTS:
        raise _bad(f"1–{MAX_OCCUPANTS} occupants")
    if verification is not None and not (isinstance(verification, str) and _CODE.match(verification)):
        raise _bad("the verification result must be a reason code such as PASS_VALID")
    record: dict[str, Any] = {
        "id": record_id,
        "seq": seq,
        "prev_hash": prev_hash,
        **_head(decision),
        "occupants": [_occupant(number, person) for number, person in enumerate(occupants, 1)],
        "vehicle_origin": _region(vehicle_origin, "vehicle origin"),
        "verification": verification,
        "checks": _checks(checks),
    }
    try:
        record["hash"] = record_hash(record)
    except ValueError as err:  # text that cannot be encoded (lone surrogates)
        raise _bad("text that cannot be stored") from err
    return record


def check_chain(records: Iterable[Mapping[str, Any]]) -> int:
    """Verify records given in seq order: seq 1, 2, 3 … without gaps, each ``prev_hash`` the previous ``hash``,
    each ``hash`` recomputed from the content. Returns how many; raises ChainBroken at the first fault."""
    previous, count = GENESIS, 0
    for count, record in enumerate(records, 1):
        seq = record.get("seq")
        if seq != count:
            raise ChainBroken(f"record {count} of the chain has seq {seq}: a record is missing or repeated")
        if record.get("prev_hash") != previous:
            raise ChainBroken(f"seq {seq}: prev_hash does not link to the previous record")
        if record_hash(record) != record.get("hash"):
            raise ChainBroken(f"seq {seq}: the hash does not match the content (the record was changed)")
        previous = record["hash"]
    return count
