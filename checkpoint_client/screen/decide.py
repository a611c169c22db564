"""The officer's form -> station scenario -> decision -> the local store, in that order.

The release rules live in passcore.rules and are applied through station (the same path as `checkpoint decide`).
What this module adds is the screen's side: each problem placed next to the field it concerns and named by a code
the page translates; a pass's plate taken from the pass when the officer confirmed it; and the guarantee that
the outcome is returned only after the store has committed the decision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from checkpoint_client import station
from checkpoint_client.screen.desk import Vehicle
from checkpoint_client.store import Store
from passcore import crossing, evidence, ids, rules, trust
from passcore.errors import InputError
from passcore.policy import IDENTITY_ID_LAST4, Policy, parse_temperature
from passcore.reasons import MEDICAL_HOLD

__all__ = [
    "CheckedForm",
    "DecisionForm",
    "FieldError",
    "checked_referral",
    "checked_region",
    "checked_temperature",
    "decide",
    "observed_checks",
]

_Text = Annotated[str, Field(max_length=crossing.MAX_NAME)]  # what a crossing record can hold
REFERRAL_MAX = 100  # the crossing record's limit (issue 12 contract)


class FieldError(Exception):
    """A problem with what the officer entered: nothing was recorded. ``values`` fill the message's blanks."""

    def __init__(self, code: str, field: str | None = None, **values: Any) -> None:
        super().__init__(code)
        self.code, self.field, self.values = code, field, values


class PersonForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: rules.Role
    name: _Text = ""
    temperature: Annotated[str, Field(max_length=16)] = ""
    origin: Annotated[str, Field(max_length=16)] = ""


class CheckedForm(BaseModel):
    """What every decision form has: the vehicle, the checks against its pass, where a fever was sent."""

    model_config = ConfigDict(extra="forbid")
    vehicle_id: Annotated[int, Field(ge=1, le=2**53)]
    plate: Annotated[str, Field(max_length=20)] = (
        ""  # the plate as read, when it was not confirmed from the pass
    )
    plate_confirmed: bool | None = None
    identity_confirmed: bool | None = None
    licence_confirmed: bool | None = None
    id_last4: Annotated[str, Field(max_length=8)] = ""
    referral: Annotated[str, Field(max_length=REFERRAL_MAX)] = ""  # where a person with fever was sent

    @classmethod
    def parse(cls, data: Any) -> Self:
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(map(str, first["loc"])) or "form"
            raise FieldError("REQUEST_INVALID", None, detail=f"{where}: {first['msg']}") from err


class DecisionForm(CheckedForm):
    occupants: Annotated[list[PersonForm], Field(min_length=1, max_length=rules.MAX_OCCUPANTS)]
    vehicle_origin: Annotated[str, Field(max_length=16)] = ""
    enterprise: Annotated[str, Field(max_length=40)] = ""


def checked_temperature(value: str, policy: Policy, field: str) -> str:
    # Checked here, not only in the rules, so the message lands next to the right person's field.
    if not value.strip():
        raise FieldError("TEMPERATURE_MISSING", field)
    try:
        number = parse_temperature(value.strip())
    except InputError as err:
        raise FieldError("TEMPERATURE_INVALID", field) from err
    if not policy.temperature_min_c <= number <= policy.temperature_max_c:
        raise FieldError(
            "TEMPERATURE_IMPLAUSIBLE",
            field,
            value=str(number),
            min=policy.temperature_min_c,
            max=policy.temperature_max_c,
        )
    return str(number)


def checked_region(value: str, field: str) -> str | None:
    if not value.strip():
        return None
    try:
        return ids.validate_region(value)
    except InputError as err:
        raise FieldError("REGION_INVALID", field) from err


def _typed_plate(value: str) -> str:
    try:
        return ids.format_plate(value)
    except InputError as err:
        raise FieldError("PLATE_INVALID", "plate") from err


def observed_checks(form: CheckedForm, claims: Any, policy: Policy) -> dict[str, Any]:
    """What the officer observed, for a valid pass: every check the policy requires must have an answer."""
    if form.plate_confirmed is None:
        raise FieldError("PLATE_NOT_CHECKED", "check-plate")
    plate = claims.plate if form.plate_confirmed else _typed_plate(form.plate)
    observed: dict[str, Any] = {"plate": plate, "licence_confirmed": form.licence_confirmed}
    if policy.identity_check == IDENTITY_ID_LAST4:
        if not form.id_last4.strip():
            raise FieldError("ID_LAST4_NEEDED", "id_last4")
        if not (len(last4 := form.id_last4.strip().upper()) == 4 and all(c in "0123456789X" for c in last4)):
            raise FieldError("ID_LAST4_INVALID", "id_last4")
        observed["id_last4"] = last4
    elif form.identity_confirmed is None:
        raise FieldError("IDENTITY_NOT_CHECKED", "check-person")
    else:
        observed["identity_confirmed"] = form.identity_confirmed
    if form.licence_confirmed is None:
        raise FieldError("LICENCE_NOT_CHECKED", "check-licence")
    return observed


_RULE_FIELDS = {  # InputErrors the rules may still raise, and where they belong on the page
    "PLATE_INVALID": "plate",
    "IDENTITY_NOT_CHECKED": "check-person",
    "LICENCE_NOT_CHECKED": "check-licence",
    "USCC_INVALID": "enterprise",
    "OCCUPANTS_INVALID": "occupants",
    "OCCUPANTS_MISSING": "occupants",
}


def checked_referral(form: CheckedForm, decision: rules.Decision, policy: Policy) -> str | None:
    """Where the people with fever were sent: one of the policy's places when it lists any (then required)."""
    # Someone is held: the whole vehicle, or (a bus under bus_fever=RELEASE_OTHERS) a passenger with fever.
    if decision.outcome != MEDICAL_HOLD and MEDICAL_HOLD not in getattr(decision, "passengers", ()):
        return None
    places = policy.fever_referrals
    chosen = form.referral.strip()
    if places:
        if chosen not in places:
            raise FieldError("REFERRAL_NEEDED", "referral")
        return chosen
    if chosen and not ids.usable_text(chosen):
        raise FieldError("REFERRAL_INVALID", "referral")
    return chosen or None


def decide(
    form: DecisionForm,
    vehicle: Vehicle,
    bundle: trust.TrustBundle,
    store: Store,
    *,
    now: datetime,
    officer: str | None = None,
    repeat_of: str | None = None,
) -> tuple[rules.Decision, Any, tuple[rules.Occupant, ...]]:
    """Decide for ``vehicle`` and commit the decision; (decision, stored crossing, occupants).

    ``officer``: the officer signed in on this device; ``repeat_of``: the id of this device's earlier decision
    for the same pass that this one re-decides (a re-measure). A pass that does not verify keeps what it claimed
    with the decision (evidence of a forgery). Raises FieldError for input to correct (nothing recorded) and lets
    StoreError through (NOT recorded).
    """
    policy = bundle.policy
    people = []
    for i, person in enumerate(form.occupants):
        if not person.name.strip():
            raise FieldError("NAME_MISSING", f"name-{i}")
        people.append(
            {
                "role": person.role,
                "name": person.name.strip(),
                "temperature_c": checked_temperature(person.temperature, policy, f"temp-{i}"),
                "origin": checked_region(person.origin, f"origin-{i}"),
            }
        )
    verification = trust.verify_pass(vehicle.text, bundle, now=now) if vehicle.text else None
    valid = verification is not None and verification.valid
    if verification is not None and verification.valid:
        observed = observed_checks(form, verification.claims, policy)
    else:
        observed = {"plate": _typed_plate(form.plate)}
    enterprise = form.enterprise.strip() or None
    if enterprise:
        try:
            enterprise = ids.validate_uscc(enterprise)
        except InputError as err:
            raise FieldError("USCC_INVALID", "enterprise") from err
    data = {
        "pass": vehicle.text,
        "observed": observed,
        "occupants": people,
        "vehicle_origin": checked_region(form.vehicle_origin, "vehicle_origin"),
        "enterprise": None if valid else enterprise,
    }
    try:
        scenario = station.parse_scenario(data)
        verification, decision = station.evaluate(scenario, bundle, now=now)
        checks = crossing.record_checks(scenario.observed, verification)
        referral = checked_referral(form, decision, policy)
        claimed = None
        if vehicle.text and verification is not None and not verification.valid:
            claimed = evidence.claimed(vehicle.text, verification)
        stored = store.record_decision(
            decision,
            occupants=scenario.occupants,
            verification=verification.code if verification else None,
            checks=checks,
            vehicle_origin=scenario.vehicle_origin,
            officer=officer,
            repeat_of=repeat_of,
            claimed=claimed,
            referral=referral,
        )
    except InputError as err:
        raise FieldError(err.code, _RULE_FIELDS.get(err.code), detail=err.message) from err
    return decision, stored, scenario.occupants
