"""Delegated bundle-signing keys and root rollover (issue 15): certificate -> bundle, cross-signature -> new root.

The checkpoint pins one root. A bundle may be signed by that root (as before issue 15), or by a bundle-signing key
the root certified, the certificate travelling in the bundle's unprotected header; a bundle may also carry root
cross-signatures, which a checkpoint follows from the root it pins. Everything else is refused with a stable code.

The vectors in tests/vectors/bundles/delegation.json (docs/pass-format.md, "Bundle signing keys and root
rollover") are rebuilt here byte for byte (EdDSA is deterministic). Rewrite the file after changing the
specification below on purpose: ``python -m tests.unit.test_trust_delegation --write``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cwt import COSE, COSEKey

from passcore import errors, keycerts, trust
from passcore.keys import PublicKey, SigningKey, generate_signing_key
from passcore.policy import Policy
from tests.factories import NOW, issuer, make_bundle

VECTORS_FILE = Path(__file__).resolve().parents[1] / "vectors" / "bundles" / "delegation.json"
DAY = timedelta(days=1)


def _ed25519(seed_hex: str) -> SigningKey:
    return SigningKey(ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex)))


# The secret keys of RFC 8032 §7.1, tests 1, 2 and 3: published, so anyone can rebuild the vectors.
OLD_ROOT = _ed25519("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
NEW_ROOT = _ed25519("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
SIGNER = _ed25519("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")
STRANGER = _ed25519("f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5")  # test 1024
CEREMONY = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def certify(root: SigningKey, key: PublicKey, *, start: datetime = NOW - DAY, days: int = 30) -> bytes:
    return keycerts.certify_signer(
        root, key, issued_at=start, valid_from=start, valid_until=start + timedelta(days=days)
    )


def bundle_of(version: int = 1, issued_at: datetime = NOW - timedelta(hours=1)) -> trust.TrustBundle:
    return make_bundle([issuer(OLD_ROOT)], version=version, issued_at=issued_at)


def raw_cose(
    payload: Any, key: SigningKey, *, kid: bytes, unprotected: dict[int, Any], cty: bool = False
) -> bytes:
    """A COSE_Sign1 made by hand: to forge, or to make what ``sign_bundle`` refuses to make."""
    protected: dict[int, Any] = {1: -8, 4: kid} if not cty else {1: -8, 3: keycerts.STATEMENT_TYPE, 4: kid}
    cose_key = COSEKey.from_pem(key.to_pem(), alg=key.alg, kid=kid)
    return bytes(
        COSE.new().encode(cbor2.dumps(payload), cose_key, protected=protected, unprotected=unprotected)
    )


# --- delegation --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_a_bundle_signed_by_a_certified_key_loads_with_the_pinned_root(root_key, alg):
    signer = generate_signing_key(alg)
    data = trust.sign_bundle(bundle_of(), trust.BundleSigner(signer, certify(root_key, signer.public)))
    opened = trust.open_bundle(data, root=root_key.public, now=NOW)
    assert opened.bundle == bundle_of()
    assert (opened.root, opened.signer_kid, opened.rolled_over) == (root_key.public, signer.kid, ())


def test_a_bundle_signed_by_the_root_itself_still_loads(root_key):
    opened = trust.open_bundle(trust.sign_bundle(bundle_of(), root_key), root=root_key.public, now=NOW)
    assert opened.signer_kid == root_key.kid and opened.bundle.version == 1


def test_a_signing_key_without_a_certificate_is_an_unknown_root(root_key):
    data = trust.sign_bundle(bundle_of(), trust.BundleSigner(generate_signing_key(), None))
    with pytest.raises(errors.BundleUnknownRoot):
        trust.load_bundle(data, root=root_key.public, now=NOW)


def test_a_certificate_from_a_root_the_checkpoint_does_not_trust_is_refused(root_key):
    signer, stranger = generate_signing_key(), generate_signing_key()
    data = trust.sign_bundle(bundle_of(), trust.BundleSigner(signer, certify(stranger, signer.public)))
    with pytest.raises(errors.BundleUnknownRoot) as caught:
        trust.load_bundle(data, root=root_key.public, now=NOW)
    assert caught.value.detail == "CERTIFICATE_UNKNOWN_ROOT"


def test_a_forged_certificate_under_the_roots_kid_is_refused(root_key):
    signer, forger = generate_signing_key(), generate_signing_key()
    statement = keycerts.KeyStatement(
        keycerts.PURPOSE_BUNDLES, signer.public, root_key.kid, NOW, NOW - DAY, NOW + 9 * DAY
    )
    forged_cert = raw_cose(statement.to_payload(), forger, kid=root_key.kid, unprotected={}, cty=True)
    data = raw_cose(
        bundle_of().to_payload(), signer, kid=signer.kid, unprotected={trust.HEADER_SIGNER_CERT: forged_cert}
    )
    with pytest.raises(errors.BundleSignatureInvalid) as caught:
        trust.load_bundle(data, root=root_key.public, now=NOW)
    assert caught.value.detail == "STATEMENT_FORGED"


def test_a_bundle_signed_by_a_key_other_than_the_certified_one_is_refused(root_key):
    certified, thief = generate_signing_key(), generate_signing_key()
    data = trust.sign_bundle(bundle_of(), trust.BundleSigner(certified, certify(root_key, certified.public)))
    stolen_cert = cbor2.loads(data).value[1][trust.HEADER_SIGNER_CERT]
    data = raw_cose(
        bundle_of().to_payload(), thief, kid=thief.kid, unprotected={trust.HEADER_SIGNER_CERT: stolen_cert}
    )
    with pytest.raises(errors.BundleUnknownRoot) as caught:
        trust.load_bundle(data, root=root_key.public, now=NOW)
    assert caught.value.detail == "SIGNER_NOT_CERTIFIED"


def test_a_tampered_certificate_is_refused(root_key):
    signer = generate_signing_key()
    cert = bytearray(certify(root_key, signer.public, days=3))
    cert[-80] ^= 0x01  # inside the payload: the certified validity or key
    data = raw_cose(
        bundle_of().to_payload(), signer, kid=signer.kid, unprotected={trust.HEADER_SIGNER_CERT: bytes(cert)}
    )
    with pytest.raises((errors.BundleSignatureInvalid, errors.BundleMalformed)):
        trust.load_bundle(data, root=root_key.public, now=NOW)


@pytest.mark.parametrize(
    ("issued_at", "days_valid"),
    [(NOW - 3 * DAY, 30), (NOW - timedelta(hours=1), 3)],  # signed before the certificate / outliving it
    ids=["signed_before_its_certificate", "outliving_its_certificate"],
)
def test_a_bundle_outside_its_signing_keys_certified_validity_is_refused(root_key, issued_at, days_valid):
    signer = generate_signing_key()
    cert = certify(root_key, signer.public, start=NOW - 2 * DAY, days=days_valid)
    bundle = bundle_of(issued_at=issued_at)
    with pytest.raises(errors.InputError):  # the server refuses to make one …
        trust.sign_bundle(bundle, trust.BundleSigner(signer, cert))
    data = raw_cose(bundle.to_payload(), signer, kid=signer.kid, unprotected={trust.HEADER_SIGNER_CERT: cert})
    with pytest.raises(errors.BundleSignatureInvalid) as caught:  # … and a stolen signing key cannot either
        trust.load_bundle(data, root=root_key.public, now=None)
    assert caught.value.detail == "SIGNER_OUTSIDE_VALIDITY"


def test_a_cross_signature_is_no_signing_key_certificate(root_key):
    """Purpose binds: a root statement put where a certificate belongs is refused, and the reverse."""
    signer = generate_signing_key()
    as_cert = keycerts.cross_sign_root(root_key, signer.public, issued_at=NOW)
    data = raw_cose(
        bundle_of().to_payload(), signer, kid=signer.kid, unprotected={trust.HEADER_SIGNER_CERT: as_cert}
    )
    with pytest.raises(errors.BundleMalformed) as caught:
        trust.load_bundle(data, root=root_key.public, now=NOW)
    assert caught.value.detail == "STATEMENT_PURPOSE"
    new_root = generate_signing_key()
    as_rollover = certify(root_key, new_root.public)
    data = trust.sign_bundle(bundle_of(), trust.BundleSigner(new_root, None, (as_rollover,)))
    with pytest.raises(errors.BundleMalformed):
        trust.load_bundle(data, root=root_key.public, now=NOW)


def test_a_key_statement_is_never_read_as_a_bundle(root_key):
    with pytest.raises(errors.BundleMalformed):
        trust.load_bundle(certify(root_key, generate_signing_key().public), root=root_key.public, now=NOW)
    statement_shaped = raw_cose(
        bundle_of().to_payload(), root_key, kid=root_key.kid, unprotected={}, cty=True
    )
    with pytest.raises(errors.BundleMalformed):
        trust.load_bundle(statement_shaped, root=root_key.public, now=NOW)


# --- root rollover -----------------------------------------------------------------------------------------


def rolled_over(old: SigningKey, new: SigningKey, *more: bytes) -> tuple[bytes, trust.BundleSigner]:
    signer = generate_signing_key()
    cross = keycerts.cross_sign_root(old, new.public, issued_at=NOW - DAY)
    return cross, trust.BundleSigner(signer, certify(new, signer.public), (cross, *more))


def test_a_checkpoint_on_the_old_root_follows_the_cross_signature_to_the_new_one(root_key):
    new_root = generate_signing_key()
    _cross, signer = rolled_over(root_key, new_root)
    data = trust.sign_bundle(bundle_of(), signer)
    opened = trust.open_bundle(data, root=root_key.public, now=NOW)
    assert opened.root == new_root.public and opened.rolled_over == (new_root.public,)
    # Once it pins the new root, the same bundle still loads: the old root's statement is passed over.
    again = trust.open_bundle(data, root=new_root.public, now=NOW)
    assert again.root == new_root.public and again.rolled_over == ()


def test_two_rollovers_are_followed_in_any_order_from_either_old_root(root_key):
    middle, newest = generate_signing_key(), generate_signing_key()
    first = keycerts.cross_sign_root(root_key, middle.public, issued_at=NOW - 2 * DAY)
    second = keycerts.cross_sign_root(middle, newest.public, issued_at=NOW - DAY)
    signer = generate_signing_key()
    data = trust.sign_bundle(
        bundle_of(), trust.BundleSigner(signer, certify(newest, signer.public), (second, first))
    )
    assert trust.open_bundle(data, root=root_key.public, now=NOW).rolled_over == (
        middle.public,
        newest.public,
    )
    assert trust.open_bundle(data, root=middle.public, now=NOW).rolled_over == (newest.public,)


def test_a_bundle_signed_only_by_an_unknown_root_is_still_refused(root_key):
    stranger = generate_signing_key()
    with pytest.raises(errors.BundleUnknownRoot):
        trust.load_bundle(trust.sign_bundle(bundle_of(), stranger), root=root_key.public, now=NOW)
    # … also when it carries a cross-signature that an equally unknown root made for it.
    _cross, signer = rolled_over(generate_signing_key(), stranger)
    with pytest.raises(errors.BundleUnknownRoot):
        trust.load_bundle(trust.sign_bundle(bundle_of(), signer), root=root_key.public, now=NOW)


def test_a_forged_cross_signature_is_refused(root_key):
    """An attacker's root, 'cross-signed' under the pinned root's kid with the attacker's own key."""
    attacker = generate_signing_key()
    statement = keycerts.KeyStatement(keycerts.PURPOSE_ROOT, attacker.public, root_key.kid, NOW, NOW, None)
    forged = raw_cose(statement.to_payload(), attacker, kid=root_key.kid, unprotected={}, cty=True)
    data = trust.sign_bundle(bundle_of(), trust.BundleSigner(attacker, None, (forged,)))
    with pytest.raises(errors.BundleSignatureInvalid) as caught:
        trust.load_bundle(data, root=root_key.public, now=NOW)
    assert caught.value.detail == "STATEMENT_FORGED"


def test_cross_signatures_that_go_round_in_a_circle_are_malformed(root_key):
    other = generate_signing_key()
    there = keycerts.cross_sign_root(root_key, other.public, issued_at=NOW)
    back = keycerts.cross_sign_root(other, root_key.public, issued_at=NOW)
    data = trust.sign_bundle(bundle_of(), trust.BundleSigner(root_key, None, (there, back)))
    with pytest.raises(errors.BundleMalformed):
        trust.load_bundle(data, root=root_key.public, now=NOW)


@pytest.mark.parametrize(
    "rollovers",
    [b"not a list", [b"\x00junk"], [7], ["text"]],
    ids=["not_an_array", "junk_statement", "integer", "text"],
)
def test_malformed_cross_signatures_make_the_bundle_malformed(root_key, rollovers):
    data = raw_cose(
        bundle_of().to_payload(),
        root_key,
        kid=root_key.kid,
        unprotected={trust.HEADER_ROOT_ROLLOVERS: rollovers},
    )
    with pytest.raises(errors.BundleMalformed):
        trust.load_bundle(data, root=root_key.public, now=NOW)


def test_more_cross_signatures_than_a_bundle_carries_are_refused(root_key):
    cross = keycerts.cross_sign_root(root_key, generate_signing_key().public, issued_at=NOW)
    too_many = [cross] * (trust.MAX_ROLLOVERS + 1)
    with pytest.raises(errors.InputError):
        trust.sign_bundle(bundle_of(), trust.BundleSigner(root_key, None, tuple(too_many)))
    data = raw_cose(
        bundle_of().to_payload(),
        root_key,
        kid=root_key.kid,
        unprotected={trust.HEADER_ROOT_ROLLOVERS: too_many},
    )
    with pytest.raises(errors.BundleMalformed):
        trust.load_bundle(data, root=root_key.public, now=NOW)


def test_rollback_and_expiry_still_apply_after_a_rollover(root_key):
    new_root = generate_signing_key()
    _cross, signer = rolled_over(root_key, new_root)
    data = trust.sign_bundle(bundle_of(version=3), signer)
    with pytest.raises(errors.BundleRollback):
        trust.load_bundle(data, root=root_key.public, now=NOW, held_version=4)
    with pytest.raises(errors.BundleExpired):
        trust.load_bundle(data, root=root_key.public, now=NOW + 7 * DAY)


@pytest.mark.parametrize(
    "make",
    [
        lambda root: keycerts.cross_sign_root(root, root.public, issued_at=NOW),
        lambda root: keycerts.cross_sign_root(root, generate_signing_key("ES256").public, issued_at=NOW),
        lambda root: keycerts.certify_signer(
            root, root.public, issued_at=NOW, valid_from=NOW, valid_until=NOW + DAY
        ),
        lambda root: keycerts.certify_signer(
            root, generate_signing_key().public, issued_at=NOW, valid_from=NOW, valid_until=NOW
        ),
        lambda root: keycerts.cross_sign_root(generate_signing_key("ES256"), root.public, issued_at=NOW),
    ],
    ids=["root_crosses_itself", "es256_root", "root_certifies_itself", "empty_validity", "es256_old_root"],
)
def test_statements_that_make_no_sense_are_not_made(root_key, make):
    with pytest.raises(errors.InputError):
        make(root_key)


# --- vectors -----------------------------------------------------------------------------------------------


def build_vectors() -> dict[str, Any]:
    """The ceremony of docs/pass-format.md's vectors: an old root cross-signs a new one, which certifies a
    bundle-signing key for 30 days; a bundle signed by it carries both statements."""
    certificate = keycerts.certify_signer(
        NEW_ROOT, SIGNER.public, issued_at=CEREMONY, valid_from=CEREMONY, valid_until=CEREMONY + 30 * DAY
    )
    cross = keycerts.cross_sign_root(OLD_ROOT, NEW_ROOT.public, issued_at=CEREMONY)
    bundle = trust.TrustBundle(
        version=42,
        issued_at=CEREMONY + DAY,
        expires_at=CEREMONY + 8 * DAY,
        issuers=(trust.IssuerKey(OLD_ROOT.public, trust.KEY_ACTIVE, CEREMONY - 365 * DAY),),
        revoked=frozenset({"0123456789abcdef01234567"}),
        policy=Policy(),
    )
    signed = trust.sign_bundle(bundle, trust.BundleSigner(SIGNER, certificate, (cross,)))
    forged_statement = keycerts.KeyStatement(
        keycerts.PURPOSE_ROOT, SIGNER.public, OLD_ROOT.kid, CEREMONY, CEREMONY, None
    )
    # The signing key passes itself off as the new root: a cross-signature under the old root's kid, signed by
    # the signing key, and a bundle signed by it directly.
    forged_cross = raw_cose(forged_statement.to_payload(), SIGNER, kid=OLD_ROOT.kid, unprotected={}, cty=True)
    forged = trust.sign_bundle(replace(bundle, version=43), trust.BundleSigner(SIGNER, None, (forged_cross,)))
    at = CEREMONY + 2 * DAY
    return {
        "keys": {
            "old_root": {"seed": "RFC 8032 7.1 test 1", "kid": OLD_ROOT.kid.hex()},
            "new_root": {"seed": "RFC 8032 7.1 test 2", "kid": NEW_ROOT.kid.hex()},
            "signer": {"seed": "RFC 8032 7.1 test 3", "kid": SIGNER.kid.hex()},
            "stranger": {"seed": "RFC 8032 7.1 test 1024", "kid": STRANGER.kid.hex()},
        },
        "certificate": certificate.hex(),
        "cross_signature": cross.hex(),
        "bundle": signed.hex(),
        "forged_bundle": forged.hex(),
        "now": at.isoformat(),
        "answers": [
            {
                "bundle": "bundle",
                "pinned": "old_root",
                "valid": True,
                "root": NEW_ROOT.kid.hex(),
                "version": 42,
            },
            {
                "bundle": "bundle",
                "pinned": "new_root",
                "valid": True,
                "root": NEW_ROOT.kid.hex(),
                "version": 42,
            },
            {
                "bundle": "bundle",
                "pinned": "stranger",
                "valid": False,
                "code": "BUNDLE_UNKNOWN_ROOT",
                "detail": "CERTIFICATE_UNKNOWN_ROOT",
            },
            {
                "bundle": "forged_bundle",
                "pinned": "old_root",
                "valid": False,
                "code": "BUNDLE_SIGNATURE_INVALID",
                "detail": "STATEMENT_FORGED",
            },
            {"bundle": "forged_bundle", "pinned": "new_root", "valid": False, "code": "BUNDLE_UNKNOWN_ROOT"},
        ],
    }


def answer(data: bytes, pinned: PublicKey, now: datetime) -> dict[str, Any]:
    try:
        opened = trust.open_bundle(data, root=pinned, now=now)
    except errors.BundleError as err:
        return {"valid": False, "code": err.code} | ({"detail": err.detail} if err.detail else {})
    return {"valid": True, "root": opened.root.kid.hex(), "version": opened.bundle.version}


def test_the_vectors_are_rebuilt_byte_for_byte_and_answer_as_written():
    stored = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    assert stored == build_vectors()
    pins = {"old_root": OLD_ROOT.public, "new_root": NEW_ROOT.public, "stranger": STRANGER.public}
    now = datetime.fromisoformat(stored["now"])
    for case in stored["answers"]:
        expected = {k: v for k, v in case.items() if k not in ("bundle", "pinned")}
        assert answer(bytes.fromhex(stored[case["bundle"]]), pins[case["pinned"]], now) == expected, case


def test_the_vector_statements_read_as_documented():
    stored = build_vectors()
    cert = keycerts.verify_statement(
        bytes.fromhex(stored["certificate"]), root=NEW_ROOT.public, purpose=keycerts.PURPOSE_BUNDLES
    )
    assert (cert.subject, cert.valid_from, cert.valid_until) == (SIGNER.public, CEREMONY, CEREMONY + 30 * DAY)
    cross = keycerts.verify_statement(
        bytes.fromhex(stored["cross_signature"]), root=OLD_ROOT.public, purpose=keycerts.PURPOSE_ROOT
    )
    assert (cross.subject, cross.valid_until) == (NEW_ROOT.public, None)


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    VECTORS_FILE.parent.mkdir(parents=True, exist_ok=True)
    VECTORS_FILE.write_text(json.dumps(build_vectors(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {VECTORS_FILE}")
