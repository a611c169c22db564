"""Hostile input to the manifest page decoder and to the bus member of a pass (issue 14).

A page is read from whatever paper is held up to the camera, so it gets the pass's bounds (text length, zlib bomb,
CBOR depth, Base45) and every claim is checked for type, length and range. The contract: ``verify_page`` never
raises; it answers MANIFEST_INVALID with a stable ``detail``. Claims are signed with the bundle's real key, so
what is refused is the content, not the signature. Assertions are on codes and details, never on message text.
"""

from __future__ import annotations

import zlib
from typing import Any

import base45
import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passcore import claims as claims_mod
from passcore import manifest, trust, wire
from passcore.keys import ALG_IDS, generate_signing_key
from tests.factories import NOW, issuer, make_bundle
from tests.unit.test_manifest import KEY, people
from tests.unit.test_manifest import bus_claims as make_bus_claims

BUNDLE = make_bundle([issuer(KEY)])
PASSENGERS = people(12)
CLAIMS = make_bus_claims(PASSENGERS, per_page=5)
PAGES = manifest.encode_pages(CLAIMS, PASSENGERS, KEY, per_page=5)
PREFIX = manifest.PAGE_PREFIX
PAGE = manifest.CLAIM_PAGE
EDDSA = ALG_IDS["EdDSA"]


def unwrap(text: str) -> Any:
    return cbor2.loads(zlib.decompress(base45.b45decode(text[len(PREFIX) :])))


CWT = cbor2.loads(unwrap(PAGES[0]).value[2])


def wrap(cose: bytes) -> str:
    return PREFIX + base45.b45encode(zlib.compress(cose, 9)).decode("ascii")


def sign1(
    payload: bytes, protected: dict[Any, Any] | None = None, unprotected: dict[Any, Any] | None = None
) -> bytes:
    """A COSE_Sign1 with a genuine Ed25519 signature by the bundle's key over exactly these headers."""
    protected_raw = cbor2.dumps(protected if protected is not None else {1: EDDSA, 4: KEY.kid})
    signature = KEY.private.sign(cbor2.dumps(["Signature1", protected_raw, b"", payload]))
    return cbor2.dumps(cbor2.CBORTag(18, [protected_raw, unprotected or {}, payload, signature]))


def signed(cwt: Any, **headers: Any) -> str:
    return wrap(sign1(cbor2.dumps(cwt), **headers))


def refused(text: Any, detail: str | None = None) -> manifest.PageVerification:
    result = manifest.verify_page(text, BUNDLE, now=NOW)
    assert isinstance(result, manifest.PageVerification)
    assert (result.valid, result.code) == (False, "MANIFEST_INVALID")
    assert result.passengers == () and result.pass_id is None
    if detail is not None:
        assert result.detail == detail
    return result


def page_with(**members: Any) -> dict[Any, Any]:
    """The first page's claims with page members replaced (``m1`` .. ``m5``; None removes one)."""
    body = dict(CWT[PAGE])
    for name, value in members.items():
        key = int(name[1:])
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    return {**CWT, PAGE: body}


def claims_with(key: Any, value: Any) -> dict[Any, Any]:
    cwt = dict(CWT)
    if value is None:
        cwt.pop(key)
    else:
        cwt[key] = value
    return cwt


def test_the_untouched_page_is_valid_and_sign1_reproduces_it():
    assert manifest.verify_page(PAGES[0], BUNDLE, now=NOW).valid
    assert signed(CWT) == PAGES[0]


# --- the outer layers: the pass's bounds ----------------------------------------------------------------------

BROKEN_TEXT = {
    "not-a-string": (b"CPM1:ABC", "TEXT_INVALID"),
    "none": (None, "TEXT_INVALID"),
    "a-pass-not-a-page": ("CP1:ABCD", "PREFIX_INVALID"),
    "lower-case-prefix": ("cpm1:" + PAGES[0][5:], "PREFIX_INVALID"),
    "too-long": (PREFIX + "A" * wire.MAX_TEXT_CHARS, "TEXT_TOO_LONG"),
    "not-base45": (PREFIX + "abc", "BASE45_INVALID"),
    "base45-of-wrong-length": (PREFIX + "A", "BASE45_INVALID"),
    "not-zlib": (PREFIX + base45.b45encode(b"not zlib at all").decode(), "ZLIB_INVALID"),
    "truncated-zlib": (PREFIX + base45.b45encode(zlib.compress(b"x" * 100)[:-6]).decode(), "ZLIB_INVALID"),
    "bytes-after-zlib": (PREFIX + base45.b45encode(zlib.compress(b"x") + b"tail").decode(), "ZLIB_INVALID"),
    "empty": (PREFIX, None),
}


@pytest.mark.parametrize("text, detail", BROKEN_TEXT.values(), ids=BROKEN_TEXT.keys())
def test_broken_text_is_refused(text, detail):
    refused(text, detail)


def test_a_zlib_bomb_that_fits_in_a_qr_code_is_refused():
    packer = zlib.compressobj(9)
    bomb = b"".join(packer.compress(bytes(1024 * 1024)) for _ in range(2)) + packer.flush()
    text = PREFIX + base45.b45encode(bomb).decode()
    assert len(text) <= wire.MAX_TEXT_CHARS
    refused(text, "ZLIB_TOO_LARGE")


def test_deep_cbor_is_refused_before_it_is_built():
    deep = b"\x81" * 10_000 + b"\x00"
    refused(wrap(deep), "CBOR_TOO_DEEP")
    refused(wrap(sign1(deep)), "CBOR_TOO_DEEP")


def test_a_container_declaring_more_items_than_it_holds_is_refused():
    refused(wrap(b"\x9b" + (2**63).to_bytes(8, "big")), "CBOR_INVALID")


def test_an_untagged_or_wrongly_tagged_message_is_refused():
    message = unwrap(PAGES[0])
    refused(wrap(cbor2.dumps(message.value)), "COSE_INVALID")
    refused(wrap(cbor2.dumps(cbor2.CBORTag(98, message.value))), "COSE_INVALID")


# --- key and signature ----------------------------------------------------------------------------------------


def test_kid_only_in_the_unprotected_header_is_an_unknown_key():
    refused(signed(CWT, protected={1: EDDSA}, unprotected={4: KEY.kid}), "PASS_UNKNOWN_KEY")


def test_a_key_not_in_the_bundle_is_an_unknown_key():
    stranger = generate_signing_key()
    refused(manifest.encode_pages(CLAIMS, PASSENGERS, stranger, per_page=5)[0], "PASS_UNKNOWN_KEY")


def test_our_kid_with_a_strangers_signature_is_a_bad_signature():
    message = unwrap(PAGES[0])
    message.value[3] = generate_signing_key().private.sign(b"anything")
    refused(wrap(cbor2.dumps(message)), "PASS_SIGNATURE_INVALID")


def test_every_single_character_substitution_is_refused():
    text = PAGES[-1]
    for i in range(len(PREFIX), len(text), 7):
        other = "0" if text[i] != "0" else "1"
        assert not manifest.verify_page(text[:i] + other + text[i + 1 :], BUNDLE, now=NOW).valid


def test_an_algorithm_other_than_the_keys_is_refused():
    refused(signed(CWT, protected={1: ALG_IDS["ES256"], 4: KEY.kid}), "PASS_SIGNATURE_INVALID")
    refused(signed(CWT, protected={1: EDDSA, 4: KEY.kid, 33: b"x5chain"}), "COSE_INVALID")


# --- the claims, signed by the real key -----------------------------------------------------------------------

HOSTILE_CLAIMS = {
    "payload-is-a-list": [1, 2, 3],
    "payload-is-text": "CPM1",
    "no-iss": claims_with(1, None),
    "no-iat": claims_with(6, None),
    "no-cti": claims_with(7, None),
    "no-page": claims_with(PAGE, None),
    "iss-five-digits": claims_with(1, "32058"),
    "iss-full-width-digits": claims_with(1, "３２０５８３"),
    "iss-a-number": claims_with(1, 320583),
    "iat-a-bool": claims_with(6, True),
    "iat-a-float": claims_with(6, 1.5e9),
    "iat-negative": claims_with(6, -1),
    "iat-far-future": claims_with(6, 2**40),
    "cti-eleven-bytes": claims_with(7, b"\x01" * 11),
    "cti-text": claims_with(7, "0123456789abcdef01234567"),
    "page-a-list": claims_with(PAGE, [1, 2, 3]),
    "page-member-missing": page_with(m4=None),
    "page-extra-member": {**CWT, PAGE: {**CWT[PAGE], 6: "信阳汽车站"}},
    "page-text-member": {**CWT, PAGE: {**CWT[PAGE], "5": []}},
    "page-bool-key": {**CWT, PAGE: {True if k == 1 else k: v for k, v in CWT[PAGE].items()}},
    "digest-15-bytes": page_with(m1=b"\x00" * 15),
    "digest-text": page_with(m1="00" * 16),
    "number-zero": page_with(m2=0),
    "number-past-pages": page_with(m2=4),
    "number-a-bool": page_with(m2=True),
    "pages-zero": page_with(m3=0, m2=0),
    "pages-51": page_with(m3=51),
    "first-zero": page_with(m4=0),
    "first-101": page_with(m4=101),
    "first-negative": page_with(m4=-1),
    "no-passengers": page_with(m5=[]),
    "passengers-a-map": page_with(m5={1: 2}),
    "passengers-past-100": page_with(m4=98, m5=CWT[PAGE][5][:3] + CWT[PAGE][5][:1]),
    "101-passengers": page_with(m5=CWT[PAGE][5] * 21),
    "passenger-three-items": page_with(m5=[["王小明", "411502********0000", 411502]]),
    "passenger-a-map": page_with(m5=[{"name": "王小明"}]),
    "name-empty": page_with(m5=[["", "411502********0000", 411502, []]]),
    "name-blank": page_with(m5=[["  ", "411502********0000", 411502, []]]),
    "name-33-characters": page_with(m5=[["王" * 33, "411502********0000", 411502, []]]),
    "name-bytes": page_with(m5=[["王小明".encode(), "411502********0000", 411502, []]]),
    "id-unmasked": page_with(m5=[["王小明", "411502199001010000", 411502, []]]),
    "id-with-hyphens": page_with(m5=[["王小明", "411502-****-0000", 411502, []]]),
    "id-a-number": page_with(m5=[["王小明", 411502, 411502, []]]),
    "origin-text": page_with(m5=[["王小明", "411502********0000", "411502", []]]),
    "origin-five-digits": page_with(m5=[["王小明", "411502********0000", 41150, []]]),
    "origin-a-bool": page_with(m5=[["王小明", "411502********0000", True, []]]),
    "origin-a-float": page_with(m5=[["王小明", "411502********0000", 411502.0, []]]),
    "history-17": page_with(m5=[["王小明", "411502********0000", 411502, [411502] * 17]]),
    "history-text": page_with(m5=[["王小明", "411502********0000", 411502, ["411502"]]]),
    "history-a-map": page_with(m5=[["王小明", "411502********0000", 411502, {411502: 1}]]),
    "too-many-unknown-claims": {**CWT, **{-70000 - i: i for i in range(33)}},
    "unhashable-looking-key": {**CWT, 2.5: 1},
}


@pytest.mark.parametrize("cwt", HOSTILE_CLAIMS.values(), ids=HOSTILE_CLAIMS.keys())
def test_hostile_claims_are_refused_without_raising(cwt):
    result = refused(signed(cwt))
    assert result.detail in {"PAGE_INVALID", "UNKNOWN_CLAIMS_TOO_MANY", "CLAIM_KEY_INVALID", "CBOR_INVALID"}
    assert result.kid == KEY.kid  # the key was found: it is the content that is refused


def test_an_unknown_optional_claim_is_reported_and_skipped():
    result = manifest.verify_page(signed({**CWT, -70099: "v2"}), BUNDLE, now=NOW)
    assert (result.valid, result.unknown_claims) == (True, ("-70099",))


def test_a_claim_marked_critical_that_this_version_does_not_know_refuses_the_page():
    protected = {1: EDDSA, 2: [-65537], 4: KEY.kid, -65537: [-70099]}
    refused(signed({**CWT, -70099: 1}, protected=protected), "CRITICAL_CLAIM_UNKNOWN")
    understood = {1: EDDSA, 2: [-65537], 4: KEY.kid, -65537: [[PAGE, 5]]}
    assert manifest.verify_page(signed(CWT, protected=understood), BUNDLE, now=NOW).valid


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=600))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_page_texts_are_refused_without_raising(body):
    refused(PREFIX + body)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.binary(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.integers(-3, 8), inner, max_size=4),
                    max_leaves=20))  # fmt: skip
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_signed_page_claims_are_refused_without_raising(value):
    refused(signed(page_with(m5=value)))


# --- the bus member of a pass -----------------------------------------------------------------------------------

BODY = claims_mod.to_cwt(CLAIMS)
BUS = BODY[claims_mod.CLAIM_PASS][claims_mod.K_BUS]


def with_bus(bus: Any, **pass_members: Any) -> dict[Any, Any]:
    body = {**BODY[claims_mod.CLAIM_PASS], claims_mod.K_BUS: bus}
    body |= {int(k[1:]): v for k, v in pass_members.items()}
    return {**BODY, claims_mod.CLAIM_PASS: body}


HOSTILE_BUS = {
    "a-list": [53, ["赵敏", "320583********0021"]],
    "empty": {},
    "with-the-stations": {**BUS, 2: "信阳汽车站", 3: "昆山汽车南站"},
    "missing-digest": {k: v for k, v in BUS.items() if k != 5},
    "text-key": {**{k: v for k, v in BUS.items() if k != 1}, "1": 53},
    "seats-zero": {**BUS, 1: 0},
    "seats-121": {**BUS, 1: 121},
    "seats-a-bool": {**BUS, 1: True},
    "seats-text": {**BUS, 1: "53"},
    "manager-name-only": {**BUS, 4: ["赵敏"]},
    "manager-unmasked": {**BUS, 4: ["赵敏", "320583199001010021"]},
    "manager-name-too-long": {**BUS, 4: ["赵" * 33, "320583********0021"]},
    "manager-a-map": {**BUS, 4: {"name": "赵敏"}},
    "digest-15-bytes": {**BUS, 5: b"\x00" * 15},
    "digest-17-bytes": {**BUS, 5: b"\x00" * 17},
    "digest-text": {**BUS, 5: "00" * 16},
    "pages-zero": {**BUS, 6: 0},
    "pages-51": {**BUS, 6: 51, 7: 100},
    "passengers-zero": {**BUS, 7: 0},
    "passengers-101": {**BUS, 7: 101},
    "more-pages-than-passengers": {**BUS, 6: 5, 7: 4},
}


@pytest.mark.parametrize("bus", HOSTILE_BUS.values(), ids=HOSTILE_BUS.keys())
def test_a_hostile_bus_member_is_refused(bus):
    result = trust.verify_pass(wire.encode_cwt(with_bus(bus), KEY), BUNDLE, now=NOW)
    assert (result.valid, result.code, result.claims) == (False, "PASS_MALFORMED", None)


def test_a_bus_with_escorts_is_refused():
    cwt = with_bus(BUS, m5=[["李娜", "320583********4567"]])
    result = trust.verify_pass(wire.encode_cwt(cwt, KEY), BUNDLE, now=NOW)
    assert (result.valid, result.code) == (False, "PASS_MALFORMED")


def test_a_bus_pass_without_its_critical_mark_still_reads_as_a_bus():
    """The mark is for older decoders; this one knows member 12 either way."""
    result = trust.verify_pass(wire.encode_cwt(BODY, KEY), BUNDLE, now=NOW)
    assert result.valid and result.claims.kind == "personnel"
