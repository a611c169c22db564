"""Builders for passes, bundles and scenarios used across the tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from passcore import wire
from passcore.claims import Driver, PassClaims, Person
from passcore.keys import SigningKey, generate_signing_key
from passcore.policy import Policy
from passcore.rules import Observation, Occupant
from passcore.trust import KEY_ACTIVE, Enterprise, IssuerKey, TrustBundle

NOW = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
USCC = "91320583MA1XY71231"  # 昆山精密机械有限公司 (demo)
HUBEI_USCC = "91420100MA4K00001U"
DRIVER_ID = "320583198503121234"
ESCORT_IDS = ("320583199007054567", "320506197911203215")


def make_claims(**changes: Any) -> PassClaims:
    claims = PassClaims(
        pass_id="0123456789abcdef01234567",
        serial="320583-000001",
        issuer="320583",
        issued_at=NOW - timedelta(days=1),
        valid_from=NOW - timedelta(days=1),
        valid_until=NOW + timedelta(days=13),
        plate="苏EA1234",
        plate_colour="yellow",
        driver=Driver("张伟", "320583********1234", "320583********1234"),
        escorts=(Person("李娜", "320583********4567"), Person("王强", "320506********3215")),
        enterprise=USCC,
        origin="320583",
        destination="310000",
        travel_history=("320500",),
    )
    return replace(claims, **changes)


def make_bundle(
    issuers: list[IssuerKey] | tuple[IssuerKey, ...],
    *,
    policy: Policy | None = None,
    revoked: frozenset[str] = frozenset(),
    version: int = 1,
    issued_at: datetime = NOW - timedelta(hours=1),
) -> TrustBundle:
    return TrustBundle(
        version=version,
        issued_at=issued_at,
        expires_at=issued_at + timedelta(days=7),
        issuers=tuple(issuers),
        revoked=revoked,
        policy=policy or Policy(hard_hit=("420000",)),
        enterprises={
            USCC: Enterprise(USCC, "昆山精密机械有限公司"),
            HUBEI_USCC: Enterprise(HUBEI_USCC, "武汉物流有限公司"),
        },
    )


def issuer(
    key: SigningKey,
    status: str = KEY_ACTIVE,
    *,
    valid_from: datetime = NOW - timedelta(days=365),
    valid_until: datetime | None = None,
) -> IssuerKey:
    return IssuerKey(key.public, status, valid_from, valid_until)


def signed(claims: PassClaims | None = None, key: SigningKey | None = None) -> tuple[str, SigningKey]:
    key = key or generate_signing_key()
    return wire.encode(claims or make_claims(), key), key


def crew(*temperatures: str, origins: tuple[str | None, ...] = ()) -> tuple[Occupant, ...]:
    """Driver 张伟 then escorts 李娜, 王强 — the people on make_claims()'s pass."""
    names = [("driver", "张伟"), ("escort", "李娜"), ("escort", "王强")]
    people = []
    for i, temperature in enumerate(temperatures):
        role, name = names[i] if i < len(names) else ("passenger", f"乘客{i}")
        origin = origins[i] if i < len(origins) else None
        people.append(Occupant(role, name, temperature, origin))  # type: ignore[arg-type]
    return tuple(people)


CONFIRMED = Observation(plate="苏E·A1234", identity_confirmed=True, licence_confirmed=True)


def forged(claims: PassClaims, *, claimed_key: SigningKey) -> str:
    """A pass that names ``claimed_key``'s kid but is signed by another key: a forgery."""
    from server.demo.seed import forge_pass

    return forge_pass(claims, claimed_kid=claimed_key.kid)


def claims_to_cwt(claims: PassClaims) -> dict:
    from passcore.claims import to_cwt

    return to_cwt(claims)
