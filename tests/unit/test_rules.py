"""The release rules of docs/design.md ("Release rules"), table-driven: every rule, their precedence and the boundaries."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from passcore import trust
from passcore.errors import InputError
from passcore.keys import generate_signing_key
from passcore.policy import IDENTITY_ID_LAST4, Policy
from passcore.reasons import ESCORT_REQUIRED
from passcore.rules import Decision, Observation, Occupant, decide
from tests.factories import (
    CONFIRMED,
    HUBEI_USCC,
    NOW,
    USCC,
    crew,
    forged,
    issuer,
    make_bundle,
    make_claims,
    signed,
)

KEY = generate_signing_key()
OTHER_KEY = generate_signing_key()
RETIRED_KEY = generate_signing_key()
BUNDLE = make_bundle(
    [issuer(KEY), issuer(RETIRED_KEY, trust.KEY_RETIRED)], revoked=frozenset({"ffffffffffffffffffffffff"})
)
HARD_HIT = Policy(hard_hit=("420000",))


def verification(kind: str) -> trust.Verification | None:
    """A real verification of a real pass in the state ``kind``."""
    if kind == "none":
        return None
    claims, key, at = make_claims(), KEY, NOW
    if kind == "forged":
        return trust.verify_pass(forged(claims, claimed_key=KEY), BUNDLE, now=at)
    if kind == "unknown_key":
        key = OTHER_KEY
    elif kind == "retired":
        key = RETIRED_KEY
    elif kind == "revoked":
        claims = make_claims(pass_id="ffffffffffffffffffffffff")
    elif kind == "expired":
        at = claims.valid_until
    elif kind == "not_yet_valid":
        at = claims.valid_from - timedelta(seconds=1)
    elif kind == "revoked_and_expired":
        claims, at = make_claims(pass_id="ffffffffffffffffffffffff"), claims.valid_until + timedelta(days=1)
    text, _ = signed(claims, key)
    if kind == "tampered":
        text = text[:40] + ("A" if text[40] != "A" else "B") + text[41:]
    if kind == "malformed":
        text = "https://example.com/not-a-pass"
    return trust.verify_pass(text, BUNDLE, now=at)


def run(
    kind: str = "valid",
    *,
    observed: Observation = CONFIRMED,
    occupants=None,
    policy: Policy = HARD_HIT,
    vehicle_origin: str | None = None,
    enterprise: str | None = None,
) -> Decision:
    return decide(
        verification=verification(kind),
        observed=observed,
        occupants=occupants if occupants is not None else crew("36.5", "36.6", "36.4"),
        policy=policy,
        now=NOW,
        vehicle_origin=vehicle_origin,
        enterprise=enterprise,
        known_enterprises=BUNDLE.enterprises.keys(),
        bundle_version=BUNDLE.version,
    )


# (case id, kwargs for run(), expected outcome, reasons that must be present)
CASES = [
    # 4. RELEASE: a valid pass, person/vehicle/certificate consistent, temperatures normal ("直接放行").
    ("valid pass, all normal", {}, "RELEASE", {"PASS_VALID"}),
    (
        "plate written with middle dot, spaces and lower case",
        {"observed": replace(CONFIRMED, plate=" 苏e · a1234 ")},
        "RELEASE",
        {"PASS_VALID"},
    ),
    (
        "full-width plate",
        {"observed": replace(CONFIRMED, plate="苏Ｅ·Ａ１２３４")},
        "RELEASE",
        {"PASS_VALID"},
    ),
    ("driver alone of a three-person pass", {"occupants": crew("36.5")}, "RELEASE", {"PASS_VALID"}),
    (
        "no pass, outside the hard-hit area, normal temperatures",
        {"kind": "none", "observed": Observation(plate="沪A12345"), "vehicle_origin": "310000"},
        "RELEASE",
        {"NO_PASS"},
    ),
    ("just below the fever threshold", {"occupants": crew("37.2", "36.6")}, "RELEASE", {"PASS_VALID"}),
    # 1. MEDICAL_HOLD: any occupant at or above the threshold, whatever else applies.
    ("exactly at the fever threshold", {"occupants": crew("36.5", "37.3")}, "MEDICAL_HOLD", {"FEVER"}),
    (
        "fever beats a forged pass",
        {"kind": "forged", "occupants": crew("38.0")},
        "MEDICAL_HOLD",
        {"FEVER", "PASS_SIGNATURE_INVALID"},
    ),
    (
        "fever beats hard-hit",
        {"kind": "none", "observed": Observation(plate="鄂A12345"), "occupants": crew("39.1")},
        "MEDICAL_HOLD",
        {"FEVER", "HARD_HIT_VEHICLE"},
    ),
    # 2. REFUSE: pass misuse.
    (
        "forged: names a trusted key, signed by another",
        {"kind": "forged"},
        "REFUSE",
        {"PASS_SIGNATURE_INVALID"},
    ),
    ("signed by a key not in the bundle", {"kind": "unknown_key"}, "REFUSE", {"PASS_UNKNOWN_KEY"}),
    ("tampered text", {"kind": "tampered"}, "REFUSE", set()),
    ("retired key", {"kind": "retired"}, "REFUSE", {"PASS_UNKNOWN_KEY"}),
    ("revoked", {"kind": "revoked"}, "REFUSE", {"PASS_REVOKED"}),
    ("revoked beats expired", {"kind": "revoked_and_expired"}, "REFUSE", {"PASS_REVOKED"}),
    ("not a pass at all", {"kind": "malformed"}, "REFUSE", {"PASS_MALFORMED"}),
    ("plate mismatch", {"observed": replace(CONFIRMED, plate="苏EB9999")}, "REFUSE", {"PLATE_MISMATCH"}),
    (
        "identity not confirmed",
        {"observed": replace(CONFIRMED, identity_confirmed=False)},
        "REFUSE",
        {"PERSON_MISMATCH"},
    ),
    (
        "licence not confirmed",
        {"observed": replace(CONFIRMED, licence_confirmed=False)},
        "REFUSE",
        {"LICENCE_MISMATCH"},
    ),
    (
        "wrong last 4 of the ID typed",
        {"observed": replace(CONFIRMED, id_last4="9999")},
        "REFUSE",
        {"PERSON_MISMATCH"},
    ),
    (
        "someone aboard not on the pass",
        {"occupants": (*crew("36.5", "36.6"), Occupant("passenger", "赵六", Decimal("36.5")))},
        "REFUSE",
        {"OCCUPANT_NOT_ON_PASS"},
    ),
    (
        "the driver is not the pass's driver",
        {"occupants": (Occupant("driver", "李娜", Decimal("36.5")),)},
        "REFUSE",
        {"PERSON_MISMATCH"},
    ),
    (
        "pass mandatory and none shown",
        {
            "kind": "none",
            "observed": Observation(plate="沪A12345"),
            "policy": replace(HARD_HIT, pass_mandatory=True),
        },
        "REFUSE",
        {"NO_PASS", "PASS_REQUIRED"},
    ),
    (
        "hard-hit vehicle without a pass and without an enterprise",
        {"kind": "none", "observed": Observation(plate="鄂A12345")},
        "REFUSE",
        {"HARD_HIT_VEHICLE", "NO_RECEIVING_ENTERPRISE"},
    ),
    (
        "hard-hit vehicle naming an enterprise that is not registered",
        {"kind": "none", "observed": Observation(plate="鄂A12345"), "enterprise": "91320583MA1MQ3K8DC"},
        "REFUSE",
        {"NO_RECEIVING_ENTERPRISE"},
    ),
    # An expired or not-yet-valid pass is not misuse: the vehicle is one without a pass.
    ("expired pass, outside the hard-hit area", {"kind": "expired"}, "RELEASE", {"PASS_EXPIRED", "NO_PASS"}),
    ("pass not yet valid", {"kind": "not_yet_valid"}, "RELEASE", {"PASS_NOT_YET_VALID", "NO_PASS"}),
    (
        "expired pass while passes are mandatory",
        {"kind": "expired", "policy": replace(HARD_HIT, pass_mandatory=True)},
        "REFUSE",
        {"PASS_EXPIRED", "PASS_REQUIRED"},
    ),
    (
        "expired pass does not excuse its people from the pass check",
        {"kind": "expired", "occupants": (*crew("36.5"), Occupant("passenger", "赵六", Decimal("36.5")))},
        "RELEASE",
        {"PASS_EXPIRED", "NO_PASS"},
    ),
    # 3. ESCORT_REQUIRED: from the hard-hit area, with an enterprise to receive the vehicle.
    (
        "hard-hit plate province (鄂 → 42) with a registered enterprise",
        {"kind": "none", "observed": Observation(plate="鄂A12345"), "enterprise": HUBEI_USCC},
        "ESCORT_REQUIRED",
        {"HARD_HIT_VEHICLE"},
    ),
    (
        "valid pass, vehicle declared from a Hubei district",
        {"vehicle_origin": "420102"},
        "ESCORT_REQUIRED",
        {"PASS_VALID", "HARD_HIT_VEHICLE"},
    ),
    (
        "valid pass, an escort who came from Wuhan",
        {"occupants": crew("36.5", "36.6", origins=(None, "420100"))},
        "ESCORT_REQUIRED",
        {"HARD_HIT_PERSON"},
    ),
    (
        "valid pass, hard-hit travel history on the pass",
        {"policy": replace(HARD_HIT, hard_hit=("320500",))},
        "ESCORT_REQUIRED",
        {"HARD_HIT_PERSON"},
    ),
    (
        "policy may escort hard-hit vehicles with no enterprise",
        {
            "kind": "none",
            "observed": Observation(plate="鄂A12345"),
            "policy": replace(HARD_HIT, hard_hit_without_enterprise=ESCORT_REQUIRED),
        },
        "ESCORT_REQUIRED",
        {"NO_RECEIVING_ENTERPRISE"},
    ),
    # Province vs. city vs. district codes.
    (
        "a city code covers its districts",
        {"vehicle_origin": "420102", "policy": replace(HARD_HIT, hard_hit=("420100",))},
        "ESCORT_REQUIRED",
        {"HARD_HIT_VEHICLE"},
    ),
    (
        "a city code does not cover another city of the province",
        {"vehicle_origin": "420200", "policy": replace(HARD_HIT, hard_hit=("420100",))},
        "RELEASE",
        {"PASS_VALID"},
    ),
    (
        "a district code does not cover its city",
        {"vehicle_origin": "420100", "policy": replace(HARD_HIT, hard_hit=("420102",))},
        "RELEASE",
        {"PASS_VALID"},
    ),
    (
        "a district code covers itself",
        {"vehicle_origin": "420102", "policy": replace(HARD_HIT, hard_hit=("420102",))},
        "ESCORT_REQUIRED",
        {"HARD_HIT_VEHICLE"},
    ),
    (
        "no hard-hit list: Hubei is just a province",
        {"vehicle_origin": "420102", "policy": Policy()},
        "RELEASE",
        {"PASS_VALID"},
    ),
    # Misuse is refused even when the vehicle is from the hard-hit area.
    (
        "revoked pass from the hard-hit area",
        {"kind": "revoked", "vehicle_origin": "420100"},
        "REFUSE",
        {"PASS_REVOKED", "HARD_HIT_VEHICLE"},
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "outcome", "must_have"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_release_rule(kwargs, outcome, must_have):
    decision = run(**kwargs)
    assert decision.outcome == outcome, decision.reasons
    assert must_have <= set(decision.reasons)


def test_tampered_pass_is_refused_as_misuse():
    decision = run("tampered")
    assert decision.misuse
    assert decision.reasons[0] in {"PASS_MALFORMED", "PASS_SIGNATURE_INVALID", "PASS_UNKNOWN_KEY"}


def test_decision_carries_every_reason_in_a_stable_order_and_its_versions():
    decision = run("revoked", observed=replace(CONFIRMED, plate="鄂A12345"), occupants=crew("37.5", "36.5"))
    assert decision.outcome == "MEDICAL_HOLD"
    # A revoked pass vouches for nothing, so neither for an enterprise to receive the vehicle.
    assert decision.reasons == ("PASS_REVOKED", "FEVER", "HARD_HIT_VEHICLE", "NO_RECEIVING_ENTERPRISE")
    assert (decision.policy_version, decision.bundle_version) == (HARD_HIT.version, BUNDLE.version)
    assert decision.fever == (0,)
    assert decision.pass_id == "ffffffffffffffffffffffff"


def test_valid_pass_records_the_receiving_enterprise_and_pass_id():
    decision = run(vehicle_origin="420100")
    assert decision.enterprise == USCC
    assert decision.pass_id == make_claims().pass_id
    assert decision.hard_hit == ("420000",)


def test_typed_id_last4_is_required_when_policy_says_so():
    policy = replace(HARD_HIT, identity_check=IDENTITY_ID_LAST4)
    with pytest.raises(InputError) as err:
        run(policy=policy)
    assert err.value.code == "IDENTITY_NOT_CHECKED"
    assert (
        run(policy=policy, observed=replace(CONFIRMED, identity_confirmed=None, id_last4="1234")).outcome
        == "RELEASE"
    )


@pytest.mark.parametrize(
    ("temperatures", "code"),
    [
        ((None,), "TEMPERATURE_MISSING"),
        (("33.9",), "TEMPERATURE_IMPLAUSIBLE"),
        (("43.1",), "TEMPERATURE_IMPLAUSIBLE"),
        (("36.5", "NaN"), "TEMPERATURE_INVALID"),
        (("warm",), "TEMPERATURE_INVALID"),
        (("36.5", "-1"), "TEMPERATURE_IMPLAUSIBLE"),
    ],
)
def test_missing_or_implausible_temperature_is_an_input_error_never_a_decision(temperatures, code):
    with pytest.raises(InputError) as err:
        run(occupants=crew(*temperatures))
    assert err.value.code == code


@pytest.mark.parametrize("temperature", ["34.0", "43.0"])
def test_plausibility_bounds_are_inclusive(temperature):
    assert run(occupants=crew(temperature)).outcome in ("RELEASE", "MEDICAL_HOLD")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"occupants": ()}, "OCCUPANTS_MISSING"),
        ({"occupants": (Occupant("escort", "李娜", Decimal("36.5")),)}, "OCCUPANTS_INVALID"),
        ({"occupants": (*crew("36.5"), Occupant("driver", "王强", Decimal("36.5")))}, "OCCUPANTS_INVALID"),
        ({"occupants": (Occupant("pilot", "张伟", Decimal("36.5")),)}, "OCCUPANTS_INVALID"),
        ({"observed": replace(CONFIRMED, plate=None)}, "PLATE_INVALID"),
        ({"observed": replace(CONFIRMED, plate="not a plate")}, "PLATE_INVALID"),
        ({"observed": replace(CONFIRMED, licence_confirmed=None)}, "LICENCE_NOT_CHECKED"),
        ({"observed": replace(CONFIRMED, identity_confirmed=None)}, "IDENTITY_NOT_CHECKED"),
        ({"vehicle_origin": "4201"}, "REGION_INVALID"),
        (
            {"kind": "none", "observed": Observation(plate="鄂A12345"), "enterprise": "not-a-uscc"},
            "USCC_INVALID",
        ),
    ],
)
def test_bad_observations_are_input_errors(kwargs, code):
    with pytest.raises(InputError) as err:
        run(**kwargs)
    assert err.value.code == code


def test_names_compare_after_unicode_normalisation():
    occupants = (Occupant("driver", " 张 伟 ", Decimal("36.5")),)
    assert run(occupants=occupants).outcome == "RELEASE"
