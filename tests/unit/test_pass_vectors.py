"""Pinned pass vectors beyond the golden one: ES256, unknown optional claims, critical claims.

tests/vectors/passes/passes.json holds them with published keys and what a verifier must answer, so that another
implementation can check itself against ours. EdDSA signatures are deterministic, so those texts are rebuilt here
byte for byte; ECDSA signatures are randomised, so an ES256 text is checked by verifying it with the pinned public
key, and a fresh encode by verifying it too. Fill in the file after editing it:
``python -m tests.unit.test_pass_vectors --write`` (it keeps an ES256 text already there).
"""

from __future__ import annotations

import json
import sys
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from passcore import claims as claims_mod
from passcore import trust, wire
from passcore.keys import ALG_IDS, PublicKey, SigningKey, kid_for
from tests.factories import make_bundle, make_claims

VECTORS_FILE = Path(__file__).resolve().parents[1] / "vectors" / "passes" / "passes.json"
DATA = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
VECTORS = {vector["name"]: vector for vector in DATA["vectors"]}
AT = datetime.fromisoformat(DATA["verify_at"])
# RFC 6979 appendix A.2.5: the public point of the published P-256 key, so the key is seen to be that one.
P256_PUBLIC = (
    0x60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6,
    0x7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299,
)


def private_key(name: str) -> SigningKey:
    entry = DATA["keys"][name]
    secret = bytes.fromhex(entry["private"])
    if entry["alg"] == "EdDSA":
        return SigningKey(ed25519.Ed25519PrivateKey.from_private_bytes(secret))
    return SigningKey(ec.derive_private_key(int.from_bytes(secret, "big"), ec.SECP256R1()))


def pinned_public_key(name: str) -> PublicKey:
    entry = DATA["keys"][name]
    return PublicKey.from_der(bytes.fromhex(entry["spki"]), entry["alg"])


def build(vector: dict[str, Any]) -> str:
    """The vector's pass: the golden claims, its extra claims, its critical list, signed by its key."""
    cwt = claims_mod.to_cwt(make_claims())
    for extra in vector["extra_claims"]:
        path = extra["path"]
        if len(path) == 1:
            cwt[path[0]] = extra["value"]
        else:
            cwt[path[0]] = {**cwt[path[0]], path[1]: extra["value"]}
    critical = [tuple(path) for path in vector["critical"]]
    return wire.encode_cwt(cwt, private_key(vector["key"]), critical=critical)


def verify_with_pinned_key(text: str, vector: dict[str, Any]) -> trust.Verification:
    key = trust.IssuerKey(pinned_public_key(vector["key"]), trust.KEY_ACTIVE, AT - timedelta(days=365))
    return trust.verify_pass(text, make_bundle([key]), now=AT)


def outcome(result: trust.Verification) -> dict[str, Any]:
    return {
        "valid": result.valid,
        "code": result.code,
        "detail": result.detail,
        "pass_id": result.pass_id,
        "unknown_claims": list(result.unknown_claims),
    }


def cose_of(text: str) -> Any:
    return cbor2.loads(zlib.decompress(base45.b45decode(text[len(wire.PREFIX) :])))


@pytest.mark.parametrize("name", DATA["keys"])
def test_each_pinned_key_is_the_published_one_with_its_spki_and_kid(name):
    key, entry = private_key(name), DATA["keys"][name]
    assert (key.alg, key.public.spki_der.hex(), key.kid.hex()) == (entry["alg"], entry["spki"], entry["kid"])
    assert kid_for(bytes.fromhex(entry["spki"])).hex() == entry["kid"]
    if entry["alg"] == "ES256":
        numbers = key.private.public_key().public_numbers()  # type: ignore[union-attr]
        assert (numbers.x, numbers.y) == P256_PUBLIC


@pytest.mark.parametrize("name", VECTORS)
def test_each_pinned_text_verifies_with_the_pinned_public_key_as_expected(name):
    vector = VECTORS[name]
    result = verify_with_pinned_key(vector["qr_text"], vector)
    assert outcome(result) == vector["expect"]
    if result.valid:
        assert result.claims == make_claims()


@pytest.mark.parametrize("name", VECTORS)
def test_each_pinned_text_carries_its_keys_algorithm_and_critical_list(name):
    vector = VECTORS[name]
    protected = cbor2.loads(cose_of(vector["qr_text"]).value[0])
    key = DATA["keys"][vector["key"]]
    expected = {1: ALG_IDS[key["alg"]], 4: bytes.fromhex(key["kid"])}
    if vector["critical"]:
        critical = [path[0] if len(path) == 1 else path for path in vector["critical"]]
        expected |= {2: [-65537], -65537: critical}
    assert protected == expected
    assert list(protected) == sorted(protected, key=cbor2.dumps)  # deterministic CBOR key order


@pytest.mark.parametrize("name", [n for n, v in VECTORS.items() if DATA["keys"][v["key"]]["alg"] == "EdDSA"])
def test_each_eddsa_vector_is_rebuilt_byte_for_byte(name):
    assert build(VECTORS[name]) == VECTORS[name]["qr_text"]


@pytest.mark.parametrize("name", [n for n, v in VECTORS.items() if DATA["keys"][v["key"]]["alg"] == "ES256"])
def test_a_fresh_es256_encode_verifies_like_the_pinned_text(name):
    vector = VECTORS[name]
    fresh = build(vector)
    assert outcome(verify_with_pinned_key(fresh, vector)) == vector["expect"]
    assert len(cose_of(fresh).value[3]) == 64  # r || s, 32 bytes each (RFC 9053 section 2.1)
    # Same header and payload as the pinned text: only the randomised signature differs.
    assert cose_of(fresh).value[:3] == cose_of(vector["qr_text"]).value[:3]


def test_the_golden_eddsa_vector_of_the_docs_is_unchanged_by_these():
    from tests.unit.test_wire_golden import GOLDEN_TEXT

    plain = {"key": "ed25519-rfc8032-test1", "extra_claims": [], "critical": []}
    assert build(plain) == GOLDEN_TEXT


def write() -> None:
    """Fill in spki, kid and qr_text (an ES256 text already there is kept: a new one would differ each run)."""
    for name, entry in DATA["keys"].items():
        key = private_key(name)
        entry["spki"], entry["kid"] = key.public.spki_der.hex(), key.kid.hex()
    for vector in DATA["vectors"]:
        if DATA["keys"][vector["key"]]["alg"] == "EdDSA" or not vector["qr_text"]:
            vector["qr_text"] = build(vector)
    VECTORS_FILE.write_text(json.dumps(DATA, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    write()
