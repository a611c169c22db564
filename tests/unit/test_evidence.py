"""A pass that does not verify is kept as evidence of what it claimed (issue 12, point 7): passcore.evidence.

The text is hostile: ``claimed`` never raises and returns only values that fit the crossing record's ``claimed``
object (crossing.ClaimedPass): bounded, usable text."""

from __future__ import annotations

import zlib

import base45
import cbor2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passcore import claims as claims_mod
from passcore import crossing, ids, trust, wire
from passcore.evidence import claimed
from passcore.keys import generate_signing_key
from tests.factories import NOW, forged, issuer, make_bundle, make_claims, signed

KEY = generate_signing_key()
BUNDLE = make_bundle([issuer(KEY)], revoked=frozenset({"ffffffffffffffffffffffff"}))
NOT_VERIFIED = trust.Verification(valid=False, code="PASS_SIGNATURE_INVALID", message="forged")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(found):
    """``found`` fits the record (the schema is the record's own) and holds no control characters."""
    assert found is not None
    crossing.ClaimedPass.model_validate(found)
    for value in (found["serial"], found["plate"], found["kid"], found["pass_id"], *found["names"]):
        assert value is None or (ids.usable_text(value) and value.strip() == value and value)
    return found


def test_a_forged_pass_keeps_what_it_claimed():
    text = forged(make_claims(), claimed_key=KEY)
    verification = trust.verify_pass(text, BUNDLE, now=NOW)
    assert verification.code == "PASS_SIGNATURE_INVALID"
    assert check(claimed(text, verification)) == {
        "reason": "PASS_SIGNATURE_INVALID",
        "serial": "320583-000001",
        "plate": "苏EA1234",
        "names": ["张伟", "李娜", "王强"],
        "kid": KEY.kid.hex(),
        "pass_id": "0123456789abcdef01234567",
    }


def test_a_revoked_pass_and_an_unknown_key_are_kept_too():
    revoked, _ = signed(make_claims(pass_id="ffffffffffffffffffffffff"), KEY)
    found = check(claimed(revoked, trust.verify_pass(revoked, BUNDLE, now=NOW)))
    assert (found["reason"], found["pass_id"]) == ("PASS_REVOKED", "ffffffffffffffffffffffff")
    stranger = generate_signing_key()
    unknown, _ = signed(make_claims(), stranger)
    found = check(claimed(unknown, trust.verify_pass(unknown, BUNDLE, now=NOW)))
    assert (found["reason"], found["kid"], found["plate"]) == (
        "PASS_UNKNOWN_KEY",
        stranger.kid.hex(),
        "苏EA1234",
    )


def test_nothing_is_kept_for_a_valid_pass_no_verification_or_a_stray_code():
    text, _ = signed(make_claims(), KEY)
    assert claimed(text, trust.verify_pass(text, BUNDLE, now=NOW)) is None
    assert claimed(text, None) is None
    stray = "https://example.com/menu"
    assert claimed(stray, trust.verify_pass(stray, BUNDLE, now=NOW)) is None


def test_an_expired_pass_is_kept_as_what_it_claimed():
    text, _ = signed(make_claims(), KEY)
    verification = trust.verify_pass(text, BUNDLE, now=make_claims().valid_until)
    found = check(claimed(text, verification))
    assert (found["reason"], found["serial"]) == ("PASS_EXPIRED", "320583-000001")


def test_a_broken_pass_keeps_its_reason_and_nothing_else():
    text, _ = signed(make_claims(), KEY)
    broken = text[:60]
    assert check(claimed(broken, trust.verify_pass(broken, BUNDLE, now=NOW))) == {
        "reason": "PASS_MALFORMED",
        "serial": None,
        "plate": None,
        "names": [],
        "kid": None,
        "pass_id": None,
    }


def sign_raw(payload: object, kid: bytes = KEY.kid) -> str:
    """A COSE_Sign1 over any CBOR payload, signature garbage: what a forger can print."""
    protected = cbor2.dumps({1: -8, 4: kid})
    message = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, cbor2.dumps(payload), b"\0" * 64]))
    return wire.PREFIX + base45.b45encode(zlib.compress(message)).decode("ascii")


def test_hostile_values_are_dropped_not_kept():
    body = {
        claims_mod.K_SERIAL: 7,
        claims_mod.K_PLATE: "苏E\u202eA1234",
        claims_mod.K_DRIVER: ["张\u0000伟", "x"],
        claims_mod.K_ESCORTS: [
            ["李娜", "x"],
            ["x" * 51, "y"],
            [42, "z"],
            "not a person",
            [],
            *[["某", "i"]] * 40,
        ],
    }
    payload = {claims_mod.CLAIM_ISS: "320583", claims_mod.CLAIM_CTI: b"\1" * 40, claims_mod.CLAIM_PASS: body}
    found = check(claimed(sign_raw(payload, kid=b"k" * 33), NOT_VERIFIED))
    assert found["serial"] == "320583-000007"
    assert found["plate"] is None
    assert found["names"] == ["李娜", *["某"] * 19]
    assert found["kid"] is None and found["pass_id"] is None  # longer than any key id or pass id


def test_a_plate_is_normalised_when_it_is_one():
    body = {claims_mod.K_PLATE: " 苏e·a1234 "}
    assert check(claimed(sign_raw({claims_mod.CLAIM_PASS: body}), NOT_VERIFIED))["plate"] == "苏EA1234"


@FUZZ
@given(st.text(max_size=600))
def test_any_text_after_the_prefix(tail):
    found = claimed(wire.PREFIX + tail, NOT_VERIFIED)
    check(found)


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_in_the_envelope(data):
    text = wire.PREFIX + base45.b45encode(zlib.compress(data)).decode("ascii")
    check(claimed(text, NOT_VERIFIED))


CBOR = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=80) | st.binary(max_size=80) | st.floats(),
    lambda inner: (
        st.lists(inner, max_size=6)
        | st.dictionaries(st.integers(-70000, 20) | st.text(max_size=3), inner, max_size=6)
    ),
    max_leaves=40,
)
PASS_KEYS = st.sampled_from(range(0, 11))


@FUZZ
@given(
    st.dictionaries(st.sampled_from([1, 4, 5, 6, 7, -65537, 99]), CBOR, max_size=7),
    st.dictionaries(PASS_KEYS, CBOR, max_size=10),
)
def test_any_claims_in_a_well_formed_pass(claims, body):
    check(claimed(sign_raw(claims | {claims_mod.CLAIM_PASS: body}), NOT_VERIFIED))


@FUZZ
@given(st.integers(0, 10_000), st.sampled_from("0A:$%*+-./ \u0000\u202e苏"))
def test_a_real_forgery_with_one_character_changed(position, character):
    text = forged(make_claims(), claimed_key=KEY)
    position %= len(text)
    mutated = text[:position] + character + text[position + 1 :]
    check(claimed(mutated, trust.verify_pass(mutated, BUNDLE, now=NOW)) or claimed(text, NOT_VERIFIED))
