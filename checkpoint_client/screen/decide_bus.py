"""A bus's roll call -> ``passcore.bus_rules.decide_bus`` -> the local store, in that order (issue 14).

The officer measures everyone aboard with the thermometer gun and types a reading only where it is not normal;
people on the manifest who are not aboard are marked absent; "the rest normal" (``rest_normal``) says every other
manifest passenger is aboard and was measured normal. Without it, a passenger with neither a reading nor an absence
is a field error naming the numbers: the record keeps who was measured, so nobody is assumed measured by accident.
The crew — driver, the enterprise's manager, people found aboard who are not on the manifest — are typed as on any
vehicle. As for a vehicle, the outcome is returned only after the store has committed the decision.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from checkpoint_client.screen.decide import (
    CheckedForm,
    FieldError,
    checked_referral,
    checked_region,
    checked_temperature,
    observed_checks,
)
from checkpoint_client.screen.desk import Vehicle
from checkpoint_client.screen.manifests import BusPages
from checkpoint_client.store import Store
from passcore import bus_rules, crossing, rules, trust
from passcore.errors import InputError
from passcore.manifest import MANIFEST_VALID

__all__ = ["BusDecisionForm", "decide_bus", "roll_entries"]

MAX_PASSENGERS = 100  # a manifest's most (contract §1)
_Text = Annotated[str, Field(max_length=crossing.MAX_NAME)]


class CrewForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["driver", "manager", "passenger"]  # passenger: found aboard, not on the manifest
    name: _Text = ""
    temperature: Annotated[str, Field(max_length=16)] = ""
    origin: Annotated[str, Field(max_length=16)] = ""


class RollForm(BaseModel):
    """One manifest passenger the officer typed something for: a reading that is not normal, or absent."""

    model_config = ConfigDict(extra="forbid")
    n: Annotated[int, Field(ge=1, le=MAX_PASSENGERS)]
    temperature: Annotated[str, Field(max_length=16)] = ""
    absent: bool = False


class BusDecisionForm(CheckedForm):
    crew: Annotated[list[CrewForm], Field(min_length=1, max_length=rules.MAX_OCCUPANTS)]
    roll: Annotated[list[RollForm], Field(default_factory=list, max_length=MAX_PASSENGERS)]
    rest_normal: bool = False  # every passenger not typed is aboard and measured normal


def _crew(form: BusDecisionForm, policy: Any) -> tuple[rules.Occupant, ...]:
    people = []
    for i, person in enumerate(form.crew):
        if not person.name.strip():
            raise FieldError("NAME_MISSING", f"name-{i}")
        people.append(
            rules.Occupant(
                role=person.role,
                name=person.name.strip(),
                temperature_c=Decimal(checked_temperature(person.temperature, policy, f"temp-{i}")),
                origin=checked_region(person.origin, f"origin-{i}"),
            )
        )
    if sum(p.role == "driver" for p in people) != 1:
        raise FieldError("OCCUPANTS_INVALID", "occupants")
    return tuple(people)


def roll_entries(form: BusDecisionForm, count: int, policy: Any) -> tuple[Any, ...]:
    """One ``RollEntry`` per manifest passenger 1..``count``, from what was typed and the rest-normal key."""
    typed: dict[int, RollForm] = {}
    for given in form.roll:
        if given.n > count:
            raise FieldError("ROLL_NUMBER_UNKNOWN", "roll", n=given.n, count=count)
        if given.n in typed:
            raise FieldError("ROLL_NUMBER_TWICE", "roll", n=given.n)
        if given.absent and given.temperature.strip():
            raise FieldError("ROLL_ABSENT_MEASURED", "roll", n=given.n)
        typed[given.n] = given
    unmeasured = [n for n in range(1, count + 1) if n not in typed]
    if unmeasured and not form.rest_normal:
        shown = "、".join(map(str, unmeasured[:10])) + ("…" if len(unmeasured) > 10 else "")
        raise FieldError("ROLL_INCOMPLETE", "roll", numbers=shown, n=len(unmeasured))
    entries = []
    for n in range(1, count + 1):
        if (entry := typed.get(n)) is None:
            entries.append(bus_rules.RollEntry(number=n, aboard=True, temperature_c=None))
        elif entry.absent:
            entries.append(bus_rules.RollEntry(number=n, aboard=False, temperature_c=None))
        elif not entry.temperature.strip():  # typed the number, then nothing: measured normal
            entries.append(bus_rules.RollEntry(number=n, aboard=True, temperature_c=None))
        else:
            try:
                value = checked_temperature(entry.temperature, policy, "roll")
            except FieldError as err:
                raise FieldError(f"ROLL_{err.code}", "roll", n=n, **err.values) from err
            entries.append(bus_rules.RollEntry(number=n, aboard=True, temperature_c=Decimal(value)))
    return tuple(entries)


def decide_bus(
    form: BusDecisionForm,
    vehicle: Vehicle,
    pages: BusPages,
    bundle: trust.TrustBundle,
    store: Store,
    *,
    now: datetime,
    officer: str | None = None,
    repeat_of: str | None = None,
) -> tuple[Any, Any, tuple[rules.Occupant, ...]]:
    """Decide for the bus ``vehicle`` (its manifest pages in ``pages``) and commit; (decision, stored, crew).
    FieldError for input to correct (nothing recorded); StoreError passes through (NOT recorded)."""
    policy = bundle.policy
    verification = trust.verify_pass(vehicle.text or "", bundle, now=now)
    claims = verification.claims
    if not verification.valid or claims is None or claims.bus is None:
        raise FieldError("BUS_PASS_NEEDED", None)  # the page offers bus mode only for a valid bus pass
    crew = _crew(form, policy)
    observed = rules.Observation(**observed_checks(form, claims, policy))
    manifest = pages.collector(evidence=True)
    # Without the whole manifest the bus is refused (MANIFEST_INCOMPLETE/INVALID) and the roll is moot.
    whole = manifest.code == MANIFEST_VALID
    roll = roll_entries(form, claims.bus.passengers, policy) if whole else ()
    try:
        decision = bus_rules.decide_bus(
            verification=verification,
            manifest=manifest,
            observed=observed,
            crew=crew,
            roll=roll,
            policy=policy,
            now=now,
            arrived_at=pages.arrived_at,
            known_enterprises=bundle.enterprises.keys(),
            bundle_version=bundle.version,
        )
        referral = checked_referral(form, decision, policy)
        stored = store.record_decision(
            decision,
            occupants=crew,
            verification=verification.code,
            checks=crossing.record_checks(observed, verification),
            vehicle_origin=None,
            officer=officer,
            repeat_of=repeat_of,
            referral=referral,
            bus=crossing.bus_contents(decision, passengers=manifest.passengers if whole else (), roll=roll),
        )
    except InputError as err:
        raise FieldError(err.code, _RULE_FIELDS.get(err.code), detail=err.message) from err
    return decision, stored, crew


_RULE_FIELDS = {
    "PLATE_INVALID": "plate",
    "IDENTITY_NOT_CHECKED": "check-person",
    "LICENCE_NOT_CHECKED": "check-licence",
    "OCCUPANTS_INVALID": "occupants",
    "OCCUPANTS_MISSING": "occupants",
}
