"""QR text + what the officer entered -> verification -> decision, and their JSON forms.

The scenario file of `checkpoint decide` (docs/design.md, "Contracts") is parsed here, strictly: an unknown field
is a typo that would otherwise silently change a decision. Its people are the crossing record's people
(``passcore.crossing``): the same limits, the same conversion to the release rules' inputs.

A bus (issue 14): a scenario whose pass is a personnel-transport pass, or that gives manifest pages, is decided by
``passcore.bus_rules.decide_bus``: its occupants are the crew, ``manifest`` the pages' texts (any order),
``roll`` the roll call (a passenger it does not list was not aboard), ``arrived_at`` the bus's first scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from passcore import bus_rules, crossing, reasons, rules, trust
from passcore.claims import MAX_BUS_PASSENGERS, MAX_MANIFEST_PAGES
from passcore.errors import InputError
from passcore.manifest import MANIFEST_VALID, Manifest, PageVerification, is_page, verify_page

__all__ = [
    "Scenario",
    "decision_json",
    "evaluate",
    "is_bus",
    "is_manifest_page",
    "page_json",
    "parse_scenario",
    "read_manifest",
    "verification_json",
]

MAX_PASS_TEXT = (
    8192  # wire.MAX_TEXT_CHARS refuses anything past the QR limit with a clear reason; this bounds I/O
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=200)


class _Observed(_Strict):
    plate: str | None = None
    identity_confirmed: bool | None = None
    licence_confirmed: bool | None = None
    id_last4: Annotated[str | None, Field(pattern=r"^[0-9Xx]{4}$")] = None


class _Occupant(_Strict):
    role: str = "driver"
    name: Annotated[str, Field(min_length=1, max_length=crossing.MAX_NAME)]
    temperature_c: Decimal | float | str | None = None
    origin: str | None = None
    travel_history: Annotated[list[str], Field(max_length=crossing.MAX_HISTORY)] = []


class _Roll(_Strict):
    n: Annotated[int, Field(ge=1, le=MAX_BUS_PASSENGERS)]
    aboard: bool = True
    temperature_c: Decimal | float | str | None = None


class _Scenario(_Strict):
    pass_: Annotated[str | None, Field(alias="pass", max_length=MAX_PASS_TEXT)] = None
    observed: _Observed = _Observed()
    occupants: Annotated[list[_Occupant], Field(max_length=rules.MAX_OCCUPANTS)]
    vehicle_origin: str | None = None
    enterprise: str | None = None
    at: datetime | None = None
    # A bus (issue 14): its manifest pages' texts, the roll call, when it arrived.
    manifest: Annotated[
        list[Annotated[str, Field(max_length=MAX_PASS_TEXT)]] | None, Field(max_length=MAX_MANIFEST_PAGES * 2)
    ] = None
    roll: Annotated[list[_Roll], Field(max_length=MAX_BUS_PASSENGERS)] = []
    arrived_at: datetime | None = None

    @field_validator("at", "arrived_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time with its zone, e.g. 2026-02-10T08:00:00+08:00")
        return value

    @field_validator("roll")
    @classmethod
    def _once(cls, value: list[_Roll]) -> list[_Roll]:
        if len({entry.n for entry in value}) != len(value):
            raise ValueError("each passenger at most once in the roll call")
        return value


@dataclass(frozen=True)
class Scenario:
    pass_text: str | None
    observed: rules.Observation
    occupants: tuple[rules.Occupant, ...]
    vehicle_origin: str | None
    enterprise: str | None
    at: datetime | None
    manifest: tuple[str, ...] | None = None  # a bus's page texts; None: not a bus scenario
    roll: tuple[bus_rules.RollEntry, ...] = ()  # the passengers the officer listed, by number
    arrived_at: datetime | None = None


def parse_scenario(data: Any) -> Scenario:
    try:
        raw = _Scenario.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'scenario'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
        raise InputError(f"invalid scenario: {problems}", code="SCENARIO_INVALID") from err
    text = raw.pass_.strip() if raw.pass_ else None
    return Scenario(
        pass_text=text or None,
        observed=rules.Observation(**raw.observed.model_dump()),
        occupants=tuple(crossing.rules_occupant(o.model_dump()) for o in raw.occupants),
        vehicle_origin=raw.vehicle_origin,
        enterprise=raw.enterprise,
        at=raw.at,
        manifest=None if raw.manifest is None else tuple(text.strip() for text in raw.manifest),
        roll=tuple(
            bus_rules.RollEntry(
                number=entry.n,
                aboard=entry.aboard,
                temperature_c=None if entry.temperature_c is None else Decimal(str(entry.temperature_c)),
            )
            for entry in sorted(raw.roll, key=lambda entry: entry.n)
        ),
        arrived_at=raw.arrived_at,
    )


def read_manifest(
    texts: Sequence[str], verification: trust.Verification | None, bundle: trust.TrustBundle, *, now: datetime
) -> tuple[Manifest | None, list[PageVerification]]:
    """The manifest of the pass ``verification`` read, collected from the page texts in the order given, and
    each page's verification; no manifest without a signed personnel-transport pass to bind the pages to."""
    pages = [verify_page(text, bundle, now=now) for text in texts]
    claims = verification.claims if verification is not None else None
    if claims is None or claims.bus is None:
        return None, pages
    manifest = Manifest(claims)
    for page in pages:
        manifest.add(page)
    return manifest, pages


def _roll(scenario: Scenario, manifest: Manifest | None) -> tuple[bus_rules.RollEntry, ...]:
    """One entry per manifest passenger (those the scenario does not list were not aboard); none without the
    whole manifest, whose absence refuses the bus whatever the roll says."""
    if manifest is None or manifest.code != MANIFEST_VALID:
        return ()
    count = len(manifest.passengers)
    if extra := [entry.number for entry in scenario.roll if entry.number > count]:
        raise InputError(
            f"invalid scenario: roll: passenger {extra[0]} is not on the manifest of {count}",
            code="SCENARIO_INVALID",
        )
    listed = {entry.number: entry for entry in scenario.roll}
    return tuple(listed.get(n, bus_rules.RollEntry(n, aboard=False)) for n in range(1, count + 1))


def is_bus(scenario: Scenario, verification: trust.Verification | None) -> bool:
    """A bus: its pass is a personnel-transport pass (even one that no longer verifies), or pages were given."""
    signed = verification.claims if verification is not None else None
    return (
        scenario.manifest is not None
        or bool(scenario.roll)
        or (signed is not None and signed.bus is not None)
    )


def evaluate(
    scenario: Scenario, bundle: trust.TrustBundle, *, now: datetime
) -> tuple[trust.Verification | None, rules.Decision]:
    """The verification and the decision: a ``bus_rules.BusDecision`` for a bus, a ``rules.Decision`` else."""
    at = scenario.at or now
    verification = trust.verify_pass(scenario.pass_text, bundle, now=at) if scenario.pass_text else None
    if is_bus(scenario, verification):
        manifest, _ = read_manifest(scenario.manifest or (), verification, bundle, now=at)
        return verification, bus_rules.decide_bus(
            verification=verification,
            manifest=manifest,
            observed=scenario.observed,
            crew=scenario.occupants,
            roll=_roll(scenario, manifest),
            policy=bundle.policy,
            now=at,
            arrived_at=scenario.arrived_at or at,
            known_enterprises=bundle.enterprises.keys(),
            bundle_version=bundle.version,
        )
    decision = rules.decide(
        verification=verification,
        observed=scenario.observed,
        occupants=scenario.occupants,
        policy=bundle.policy,
        now=at,
        vehicle_origin=scenario.vehicle_origin,
        enterprise=scenario.enterprise,
        known_enterprises=bundle.enterprises.keys(),
        bundle_version=bundle.version,
    )
    return verification, decision


def _reason(code: str, message: str | None = None) -> dict[str, str]:
    return {
        "code": code,
        "message": message or reasons.describe(code),
        "message_zh": reasons.describe(code, "zh"),
    }


def bundle_json(bundle: trust.TrustBundle, now: datetime) -> dict[str, Any]:
    return {
        "version": bundle.version,
        "issued_at": bundle.issued_at.isoformat(),
        "expires_at": bundle.expires_at.isoformat(),
        "stale": bundle.is_stale(now),
        "clock_skew": now < bundle.issued_at,  # the device clock is earlier than the bundle was made
    }


def verification_json(
    v: trust.Verification, bundle: trust.TrustBundle, *, at: datetime, now: datetime
) -> dict[str, Any]:
    claims = v.claims.readable() if v.claims else None
    if claims is not None:
        known = bundle.enterprises.get(v.claims.enterprise) if v.claims else None
        claims["enterprise_name"] = known.name if known else None
    specific = v.message if not v.valid else None
    return {
        "valid": v.valid,
        "pass_id": v.pass_id,
        "reasons": [_reason(v.code, specific) | ({"detail": v.detail} if v.detail else {})],
        "kid": v.kid.hex() if v.kid else None,
        "claims": claims,
        # Claims the pass carries that this version does not know: skipped, named by key, their values never shown.
        "unknown_claims": list(v.unknown_claims),
        "checked_at": at.isoformat(),
        "bundle": bundle_json(bundle, now),
    }


def decision_json(
    decision: rules.Decision,
    scenario: Scenario,
    verification: trust.Verification | None,
    bundle: trust.TrustBundle,
    now: datetime,
) -> dict[str, Any]:
    specific = {verification.code: verification.message} if verification and not verification.valid else {}
    result: dict[str, Any] = {
        "outcome": decision.outcome,
        "outcome_message": reasons.outcome_words(decision.outcome),
        "outcome_message_zh": reasons.outcome_words(decision.outcome, "zh"),
        "reasons": [_reason(code, specific.get(code)) for code in decision.reasons],
        "policy_version": decision.policy_version,
        "bundle_version": decision.bundle_version,
        "decided_at": decision.decided_at.isoformat(),
        "plate": decision.plate,
        "fever_occupants": [scenario.occupants[i].name for i in decision.fever],
        "hard_hit": list(decision.hard_hit),
        "enterprise": decision.enterprise,
        "bundle": bundle_json(bundle, now),
    }
    if decision.pass_id is not None or scenario.pass_text:
        result["pass_id"] = decision.pass_id
    if isinstance(decision, bus_rules.BusDecision):
        result |= {
            "passengers": list(decision.passengers),
            "manifest": decision.manifest,
            "pages": decision.pages,
            "seats": decision.seats,
            "arrived_at": None if decision.arrived_at is None else decision.arrived_at.isoformat(),
        }
    return result


def page_json(
    page: PageVerification, bundle: trust.TrustBundle, *, at: datetime, now: datetime
) -> dict[str, Any]:
    """A manifest page as `checkpoint verify --json` and `checkpoint scan --json` show it: whether it is genuine,
    the pass it is bound to, "3/5", and its passengers with masked ID numbers only."""
    readable = page.readable()
    return {
        "kind": "manifest_page",
        "valid": page.valid,
        "pass_id": page.pass_id,
        "reasons": [
            _reason(page.code, None if page.valid else page.message)
            | ({"detail": page.detail} if page.detail else {})
        ],
        "kid": page.kid.hex() if page.kid else None,
        "page": readable["page"],
        "number": page.number if page.valid else None,
        "pages": page.pages if page.valid else None,
        "first": readable["first"],
        "manifest": readable["manifest"],
        "passengers": readable["passengers"],
        "unknown_claims": list(page.unknown_claims),
        "checked_at": at.isoformat(),
        "bundle": bundle_json(bundle, now),
    }


def is_manifest_page(text: str) -> bool:
    """Whether scanned text claims to be a manifest page rather than a pass."""
    return is_page(text.strip())
