"""Passes that can grow (docs/pass-format.md section 2, "Unknown claims" and "Critical claims").

A claim this version does not know is skipped and reported by its key, never by its value, and the pass verifies;
a claim marked critical in the protected header must be understood (and present), or the pass is malformed.
Every pass here is signed by the bundle's own issuer key, so a refusal is the decoder's rule, not a bad signature.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import base45
import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkpoint_client import station
from passcore import claims as claims_mod
from passcore import extensions, trust, wire
from passcore.errors import PassError, PassMalformed
from passcore.keys import ALG_IDS, generate_signing_key
from tests.factories import NOW, issuer, make_bundle, make_claims

KEY = generate_signing_key()
BUNDLE = make_bundle([issuer(KEY)])
CLAIMS = make_claims()
PASS = claims_mod.CLAIM_PASS
CRIT, CRITICAL_CLAIMS = extensions.HEADER_CRIT, extensions.HEADER_CRITICAL_CLAIMS
SECRET = "do-not-print-this-value"


def cwt(extra: dict[Any, Any] | None = None, members: dict[Any, Any] | None = None) -> dict[Any, Any]:
    """The claims of make_claims() with ``extra`` claims and ``members`` added to the pass claim's map."""
    claims = claims_mod.to_cwt(CLAIMS)
    claims[PASS] = claims[PASS] | (members or {})
    return claims | (extra or {})


def protected(*critical: Any, **labels: Any) -> dict[Any, Any]:
    header: dict[Any, Any] = {1: ALG_IDS["EdDSA"], 4: KEY.kid}
    if critical:
        header |= {CRIT: [CRITICAL_CLAIMS], CRITICAL_CLAIMS: list(critical)}
    return header


def wrap(message: bytes) -> str:
    return wire.PREFIX + base45.b45encode(zlib.compress(message, 9)).decode("ascii")


def sign(payload: Any, header: dict[Any, Any] | bytes | None = None, *, raw: bytes | None = None) -> str:
    """A pass with exactly this protected header (a map, or its CBOR bytes) and payload (or ``raw`` payload
    bytes), genuinely signed by the bundle's issuer key (RFC 9052 Sig_structure)."""
    if header is None:
        header = protected()
    protected_raw = header if isinstance(header, bytes) else cbor2.dumps(header)
    payload_raw = raw if raw is not None else cbor2.dumps(payload)
    signature = KEY.private.sign(cbor2.dumps(["Signature1", protected_raw, b"", payload_raw]))
    return wrap(cbor2.dumps(cbor2.CBORTag(18, [protected_raw, {}, payload_raw, signature])))


def verify(text: str) -> trust.Verification:
    return trust.verify_pass(text, BUNDLE, now=NOW)


def refused(text: str, detail: str) -> trust.Verification:
    result = verify(text)
    assert (result.valid, result.code, result.detail) == (False, "PASS_MALFORMED", detail), result
    assert len(result.message) < 200
    return result


def cbor_map(*items: tuple[bytes, bytes]) -> bytes:
    """A CBOR map from encoded keys and values, for keys a Python dict cannot hold beside 1 (True, 1.0)."""
    assert len(items) < 24
    return bytes([0xA0 | len(items)]) + b"".join(k + v for k, v in items)


# --- unknown claims ----------------------------------------------------------------------------------------

UNKNOWN = {
    "registered-claim-sub": (cwt({2: "someone"}), ("2",)),
    "private-use-claim": (cwt({-70099: SECRET}), ("-70099",)),
    "text-claim": (cwt({"note": SECRET}), ('"note"',)),
    "text-claim-that-looks-like-a-number": (cwt({"1": SECRET}), ('"1"',)),
    "largest-cbor-integer-key": (cwt({2**64 - 1: 0}), (str(2**64 - 1),)),
    "smallest-cbor-integer-key": (cwt({-(2**64): 0}), (str(-(2**64)),)),
    "text-key-of-64-characters": (cwt({"k" * 64: 0}), (json.dumps("k" * 64),)),
    "pass-member-10": (cwt(members={10: SECRET}), ("-65537/10",)),
    "pass-member-with-text-key": (cwt(members={"cargo": SECRET}), ('-65537/"cargo"',)),
    "unknown-map-claim-is-not-looked-into": (cwt({-70100: {"inner": SECRET}}), ("-70100",)),
    "several-in-the-order-they-appear": (
        cwt({-70099: 1, "note": 2}, {10: 3, 11: 4}),
        ("-65537/10", "-65537/11", "-70099", '"note"'),
    ),
}


@pytest.mark.parametrize("payload, names", UNKNOWN.values(), ids=UNKNOWN.keys())
def test_a_claim_this_version_does_not_know_is_skipped_and_reported_by_its_key(payload, names):
    result = verify(sign(payload))
    assert (result.valid, result.code, result.claims) == (True, "PASS_VALID", CLAIMS)
    assert result.unknown_claims == names


def test_a_pass_without_unknown_claims_reports_none():
    assert verify(wire.encode(CLAIMS, KEY)).unknown_claims == ()


def test_the_values_of_unknown_claims_are_never_shown():
    result = verify(sign(cwt({-70099: SECRET, "x" * 64: SECRET}, {10: SECRET})))
    assert result.valid
    report = station.verification_json(result, BUNDLE, at=NOW, now=NOW)
    assert report["unknown_claims"] == ["-65537/10", "-70099", json.dumps("x" * 64)]
    assert SECRET not in json.dumps(report, ensure_ascii=False) and SECRET not in repr(result)


def test_the_bureaus_own_claim_reader_skips_unknown_claims_too():
    payload = cbor2.dumps(cwt({-70099: SECRET}, {10: SECRET}))
    assert wire.read_claims(payload) == CLAIMS
    assert claims_mod.from_cwt(cwt({-70099: SECRET})) == CLAIMS


def test_an_expired_pass_still_names_its_unknown_claims():
    result = trust.verify_pass(sign(cwt({-70099: 1})), BUNDLE, now=CLAIMS.valid_until)
    assert (result.code, result.unknown_claims) == ("PASS_EXPIRED", ("-70099",))


BAD_KEYS = {
    "bytes-key": cwt({b"\x01": 0}),
    "float-key": cwt({0.5: 0}),
    "null-key": cwt({None: 0}),
    "false-key": cwt({False: 0}),
    "array-key": cwt({(1, 2): 0}),
    "bignum-key-2^64": cwt({2**64: 0}),
    "bignum-key-below-minus-2^64": cwt({-(2**64) - 1: 0}),
    "text-key-of-65-characters": cwt({"k" * 65: 0}),
    "bytes-pass-member": cwt(members={b"\x0a": 0}),
    "float-pass-member": cwt(members={10.5: 0}),
    "long-text-pass-member": cwt(members={"m" * 65: 0}),
}


@pytest.mark.parametrize("payload", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_a_claim_key_that_is_neither_a_cbor_integer_nor_short_text_is_malformed(payload):
    refused(sign(payload), "CLAIM_KEY_INVALID")


def test_true_beside_the_iss_claim_is_not_read_as_iss():
    """{1: iss, true: x} loads in Python as one key; the bool key is refused before it can shadow anything."""
    items = [(cbor2.dumps(k), cbor2.dumps(v)) for k, v in cwt().items()]
    raw = cbor_map(*items, (b"\xf4", cbor2.dumps(0)))  # false: no claim 0 to collide with
    refused(sign(None, raw=raw), "CLAIM_KEY_INVALID")


def test_up_to_32_unknown_claims_are_reported_and_one_more_is_malformed():
    limit = extensions.MAX_UNKNOWN_CLAIMS
    at_limit = cwt({-70000 - i: 0 for i in range(limit - 2)}, {10: 0, 11: 0})
    assert len(verify(sign(at_limit)).unknown_claims) == limit
    refused(sign(cwt({-70000 - i: 0 for i in range(limit)}, {10: 0})), "UNKNOWN_CLAIMS_TOO_MANY")


@pytest.mark.parametrize("count", [500, 3_000, 10_000])
def test_thousands_of_unknown_claims_are_refused_by_a_bound(count):
    result = verify(sign(cwt({-70000 - i: 0 for i in range(count)})))
    assert (result.valid, result.code) == (False, "PASS_MALFORMED")
    assert result.detail in {"UNKNOWN_CLAIMS_TOO_MANY", "TEXT_TOO_LONG", "ZLIB_TOO_LARGE"}
    assert result.unknown_claims == () and len(result.message) < 200


# --- critical claims ------------------------------------------------------------------------------------------

UNDERSTOOD = {
    "iss": (1,),
    "the-pass-claim": (PASS,),
    "travel-history-member": ([PASS, 9],),
    "several": (4, 5, [PASS, 2], [PASS, 5]),
    "sixteen": (1, 4, 5, 6, 7, PASS, *([PASS, m] for m in range(1, 11) if m != 10)),
}


@pytest.mark.parametrize("critical", UNDERSTOOD.values(), ids=UNDERSTOOD.keys())
def test_a_pass_whose_critical_claims_are_all_understood_verifies(critical):
    result = verify(sign(cwt(), protected(*critical)))
    assert (result.valid, result.code, result.unknown_claims) == (True, "PASS_VALID", ())


NOT_UNDERSTOOD = {
    "private-use-claim": (cwt({-70099: 1}), (-70099,)),
    "text-claim": (cwt({"limit": 1}), ("limit",)),
    "pass-member-10": (cwt(members={10: 1}), ([PASS, 10],)),
    "member-of-a-claim-that-is-no-map": (cwt(), ([1, 0],)),
    "member-of-an-unknown-claim": (cwt({-70099: {1: 0}}), ([-70099, 1],)),
    "text-one-is-not-iss": (cwt({"1": 0}), ("1",)),
    "one-unknown-among-known": (cwt({-70099: 1}), (1, [PASS, 9], -70099)),
    "unknown-and-absent": (cwt(), (-70099,)),
}


@pytest.mark.parametrize("payload, critical", NOT_UNDERSTOOD.values(), ids=NOT_UNDERSTOOD.keys())
def test_a_pass_marking_critical_a_claim_this_version_does_not_understand_is_malformed(payload, critical):
    result = refused(sign(payload, protected(*critical)), "CRITICAL_CLAIM_UNKNOWN")
    assert result.claims is None


def test_a_critical_claim_the_pass_does_not_carry_is_malformed():
    refused(sign(claims_mod.to_cwt(make_claims(escorts=())), protected([PASS, 5])), "CRITICAL_CLAIM_ABSENT")


def _many(count: int) -> list[Any]:
    return [[PASS, m] for m in range(count)]


HOSTILE_HEADERS = {
    "crit-without-critical-claims": {1: -8, 4: KEY.kid, CRIT: [CRITICAL_CLAIMS]},
    "critical-claims-without-crit": {1: -8, 4: KEY.kid, CRITICAL_CLAIMS: [1]},
    "crit-not-a-list": {1: -8, CRIT: CRITICAL_CLAIMS, 4: KEY.kid, CRITICAL_CLAIMS: [1]},
    "crit-empty": {1: -8, CRIT: [], 4: KEY.kid, CRITICAL_CLAIMS: [1]},
    "crit-null": {1: -8, CRIT: None, 4: KEY.kid},
    "crit-label-as-float": {1: -8, CRIT: [-65537.0], 4: KEY.kid, CRITICAL_CLAIMS: [1]},
    "crit-names-the-label-twice": {1: -8, CRIT: [CRITICAL_CLAIMS] * 2, 4: KEY.kid, CRITICAL_CLAIMS: [1]},
    "crit-names-another-label": {1: -8, CRIT: [-65538], 4: KEY.kid},
    "crit-names-another-label-too": {1: -8, CRIT: [CRITICAL_CLAIMS, 7], 4: KEY.kid, CRITICAL_CLAIMS: [1]},
    "critical-claims-null": {1: -8, CRIT: [CRITICAL_CLAIMS], 4: KEY.kid, CRITICAL_CLAIMS: None},
    "critical-claims-a-number": protected() | {CRIT: [CRITICAL_CLAIMS], CRITICAL_CLAIMS: 1},
    "critical-claims-a-map": protected() | {CRIT: [CRITICAL_CLAIMS], CRITICAL_CLAIMS: {1: 1}},
    "critical-claims-empty": protected() | {CRIT: [CRITICAL_CLAIMS], CRITICAL_CLAIMS: []},
    "seventeen-critical-claims": protected(*_many(17)),
    "a-thousand-critical-claims": protected(*_many(1_000)),
    "duplicate-claim": protected(1, 4, 1),
    "duplicate-member": protected([PASS, 9], [PASS, 9]),
    "entry-a-float": protected(1.0),
    "entry-a-bool": protected(True),
    "entry-null": protected(None),
    "entry-bytes": protected(b"\x01"),
    "entry-a-bignum": protected(2**64),
    "entry-text-of-65-characters": protected("k" * 65),
    "entry-a-one-item-list": protected([PASS]),
    "entry-a-three-item-list": protected([PASS, 9, 0]),
    "entry-a-nested-list": protected([PASS, [9]]),
    "entry-a-map": protected({PASS: 9}),
    "entry-a-tag": protected(cbor2.CBORTag(1, 0)),
}


@pytest.mark.parametrize("header", HOSTILE_HEADERS.values(), ids=HOSTILE_HEADERS.keys())
def test_a_malformed_critical_claims_header_is_refused_before_the_signature_is_checked(header):
    text = sign(cwt(), header)
    refused(text, "CRITICAL_INVALID")
    with pytest.raises(PassMalformed) as err:
        wire.decode(text)
    assert err.value.detail == "CRITICAL_INVALID"


OTHER_LABELS = {
    "label-3": protected() | {3: 0},
    "text-crit": protected() | {"crit": [CRITICAL_CLAIMS], CRITICAL_CLAIMS: [1]},
    "another-private-label": protected() | {-65538: [1]},
}


@pytest.mark.parametrize("header", OTHER_LABELS.values(), ids=OTHER_LABELS.keys())
def test_any_other_protected_header_parameter_is_still_refused(header):
    refused(sign(cwt(), header), "COSE_INVALID")


@pytest.mark.parametrize("label", [b"\xf5", b"\xf9\x3c\x00", b"\xfb\x3f\xf0\x00\x00\x00\x00\x00\x00"])
def test_a_protected_label_that_equals_alg_only_in_python_is_refused(label):
    """true, 1.0 (half) and 1.0 (double) all equal 1 as Python dict keys; COSE labels are integers."""
    raw = cbor_map((label, cbor2.dumps(-8)), (cbor2.dumps(4), cbor2.dumps(KEY.kid)))
    refused(sign(cwt(), raw), "COSE_INVALID")


def test_critical_claims_in_the_unprotected_header_are_ignored_like_everything_there():
    text = wire.encode(CLAIMS, KEY)
    message = cbor2.loads(zlib.decompress(base45.b45decode(text[len(wire.PREFIX) :])))
    message.value[1] = {CRIT: [CRITICAL_CLAIMS], CRITICAL_CLAIMS: [-70099]}
    assert verify(wrap(cbor2.dumps(message))).valid


_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**65), 2**65),
        st.floats(),
        st.text(max_size=70),
        st.binary(max_size=8),
        st.sampled_from([1, 4, 9, PASS, -70099, CRITICAL_CLAIMS, 10]),
    ),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=1_000, deadline=None)
@given(
    st.one_of(st.none(), _values, st.just([CRITICAL_CLAIMS])),
    st.one_of(st.none(), _values, st.lists(_values, max_size=4)),
)
def test_any_critical_header_is_refused_or_accepted_but_never_raises(crit, listed):
    header = protected()
    if crit is not None:
        header[CRIT] = crit
    if listed is not None:
        header[CRITICAL_CLAIMS] = listed
    result = verify(sign(cwt({-70099: 0}), header))
    assert result.valid or (result.code == "PASS_MALFORMED" and result.detail), result
    if result.valid:
        assert all(claims_mod.VOCABULARY.understands(p) for p in extensions.critical_claims(header))


# --- the encoder ------------------------------------------------------------------------------------------------


def test_the_encoder_marks_critical_claims_in_deterministic_header_order():
    text = wire.encode_cwt(cwt({-70099: 1}), KEY, critical=[(PASS, 9), (-70099,)])
    cose = wire.decode(text)
    assert list(cose.protected) == [1, CRIT, 4, CRITICAL_CLAIMS]
    assert cose.protected[CRIT] == [CRITICAL_CLAIMS] and cose.protected[CRITICAL_CLAIMS] == [
        [PASS, 9],
        -70099,
    ]
    assert cose.critical == ((PASS, 9), (-70099,))
    refused(
        text, "CRITICAL_CLAIM_UNKNOWN"
    )  # written by a bureau that knows -70099, read by one that does not


def test_the_encoder_without_critical_claims_writes_alg_and_kid_only():
    assert wire.decode(wire.encode_cwt(cwt(), KEY)).protected == {1: -8, 4: KEY.kid}


@pytest.mark.parametrize(
    "critical",
    [[(-70099,)], [(PASS, 10)], [(1,), (1,)], [()], [(PASS, 9, 1)], [(1.5,)], [("k" * 65,)], [(1,)] * 17],
    ids=["absent", "absent-member", "twice", "empty-path", "three-deep", "float", "long-text", "seventeen"],
)
def test_the_encoder_refuses_a_critical_list_a_decoder_would_refuse_as_malformed(critical):
    with pytest.raises(ValueError):
        wire.encode_cwt(cwt(), KEY, critical=critical)


def test_every_layer_raises_only_pass_errors_on_critical_headers():
    for header in HOSTILE_HEADERS.values():
        with pytest.raises(PassError):
            extensions.critical_claims(header)
