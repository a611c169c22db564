"""QR text + what the officer entered -> verification -> decision, and their JSON forms.

The scenario file of `checkpoint decide` (docs/design.md, "Contracts") is parsed here, strictly: an unknown field
is a typo that would otherwise silently change a decision. Its people are the crossing record's people
(``passcore.crossing``): the same limits, the same conversion to the release rules' inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from passcore import crossing, reasons, rules, trust
from passcore.errors import InputError

__all__ = ["Scenario", "decision_json", "evaluate", "parse_scenario", "verification_json"]

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


class _Scenario(_Strict):
    pass_: Annotated[str | None, Field(alias="pass", max_length=MAX_PASS_TEXT)] = None
    observed: _Observed = _Observed()
    occupants: Annotated[list[_Occupant], Field(max_length=rules.MAX_OCCUPANTS)]
    vehicle_origin: str | None = None
    enterprise: str | None = None
    at: datetime | None = None

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time with its zone, e.g. 2026-02-10T08:00:00+08:00")
        return value


@dataclass(frozen=True)
class Scenario:
    pass_text: str | None
    observed: rules.Observation
    occupants: tuple[rules.Occupant, ...]
    vehicle_origin: str | None
    enterprise: str | None
    at: datetime | None


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
    )


def evaluate(
    scenario: Scenario, bundle: trust.TrustBundle, *, now: datetime
) -> tuple[trust.Verification | None, rules.Decision]:
    at = scenario.at or now
    verification = trust.verify_pass(scenario.pass_text, bundle, now=at) if scenario.pass_text else None
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
    return result
