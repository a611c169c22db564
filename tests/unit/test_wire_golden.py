"""Golden vectors pin the wire format: a fixed key and fixed claims give exactly this QR text.

Change a vector only when the format changes on purpose (and then the prefix's version with it).
"""

from __future__ import annotations

import zlib

import base45
import cbor2
from cryptography.hazmat.primitives.asymmetric import ed25519

from passcore import claims as claims_mod
from passcore import trust, wire
from passcore.keys import SigningKey, kid_for
from tests.factories import NOW, issuer, make_bundle, make_claims

# RFC 8032 section 7.1, test 1: a published Ed25519 secret, so anyone can re-derive this vector.
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
KEY = SigningKey(ed25519.Ed25519PrivateKey.from_private_bytes(SEED))
GOLDEN_KID = "06e3fd8fda29bb60"
GOLDEN_TEXT = (
    "CP1:NCFOXN%TSMAHO.JNUG:PU07WBPJQI24W8ZWB:BJSVDM8CGGCXG4CC76TIMYA*UM/B1:L3HYCVDC0/EVBUQ-F2Z7P2NG8C48C"
    "-MP3GP6PVZXNH1RXHQXGRSIJQ*KK3U//J+4AQ P4KGWLK7T03GB23LD M TEW2KSCJN%4*JC90DJ$II%N4%V-0K27C9I00DJ7KM$"
    "GK-PBI*KYT889MFDCBYKCEQZN8H859:IQ4US68C8RL3QM74NHV%XG12LQEPR%G--K *VT0QS/CMJ3G5FZ89V/BXSKPQVPPHGI2FD"
    "UE4Q6UA1%UXFVMZ2WN4P+EJV423KDNAB288.RLHDW$8*289:2FEV-.S*20%A6D5"
)


def test_kid_is_the_first_8_bytes_of_sha256_over_the_spki():
    assert KEY.kid.hex() == GOLDEN_KID == kid_for(KEY.public.spki_der).hex()


def test_fixed_key_and_claims_give_the_golden_text():
    assert wire.encode(make_claims(), KEY) == GOLDEN_TEXT


def test_golden_text_verifies_and_round_trips_the_claims():
    result = trust.verify_pass(GOLDEN_TEXT, make_bundle([issuer(KEY)]), now=NOW)
    assert result.valid, result
    assert result.claims == make_claims()
    assert result.kid == KEY.kid


def test_golden_text_layers_are_the_documented_ones():
    """What docs/pass-format.md promises: prefix, Base45, zlib, tagged COSE_Sign1, CWT with these claims."""
    assert GOLDEN_TEXT.startswith("CP1:")
    message = cbor2.loads(zlib.decompress(base45.b45decode(GOLDEN_TEXT[4:])))
    assert message.tag == 18
    protected, unprotected, payload, signature = message.value
    assert cbor2.loads(protected) == {1: -8, 4: bytes.fromhex(GOLDEN_KID)}
    assert unprotected == {}
    assert len(signature) == 64
    cwt = cbor2.loads(payload)
    assert cwt == {
        1: "320583",
        4: int(make_claims().valid_until.timestamp()),
        5: int(make_claims().valid_from.timestamp()),
        6: int(make_claims().issued_at.timestamp()),
        7: bytes.fromhex("0123456789abcdef01234567"),
        claims_mod.CLAIM_PASS: {
            1: 1,
            2: "苏EA1234",
            3: 1,
            4: ["张伟", "320583********1234"],
            5: [["李娜", "320583********4567"], ["王强", "320506********3215"]],
            6: "91320583MA1XY71231",
            7: 320583,
            8: 310000,
            9: [320500],
        },
    }


def test_a_different_licence_number_is_carried_as_a_third_driver_item():
    claims = make_claims(driver=claims_mod.Driver("张伟", "320583********1234", "****4567"))
    cwt = claims_mod.to_cwt(claims)
    assert cwt[claims_mod.CLAIM_PASS][4] == ["张伟", "320583********1234", "****4567"]
    assert claims_mod.from_cwt(cwt) == claims
