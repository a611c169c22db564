"""Trust bundles and offline pass verification."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import cbor2
import pytest

from passcore import errors, trust
from passcore.keys import generate_signing_key
from passcore.policy import Policy
from tests.factories import NOW, forged, issuer, make_bundle, make_claims, signed


def test_bundle_round_trips_through_its_signature(root_key, issuer_key):
    bundle = make_bundle([issuer(issuer_key)], revoked=frozenset({"ab" * 12}), version=7)
    loaded = trust.load_bundle(trust.sign_bundle(bundle, root_key), root=root_key.public, now=NOW)
    assert loaded == bundle
    assert loaded.enterprises == bundle.enterprises


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        ("wrong_root", errors.BundleUnknownRoot),
        ("bit_flip", errors.BundleSignatureInvalid),
        ("garbage", errors.BundleMalformed),
        ("truncated", errors.BundleMalformed),
        ("trailing", errors.BundleMalformed),
    ],
)
def test_a_bundle_that_cannot_be_trusted_is_refused(root_key, issuer_key, tamper, error):
    data = trust.sign_bundle(make_bundle([issuer(issuer_key)]), root_key)
    root = root_key.public
    if tamper == "wrong_root":
        root = generate_signing_key().public
    elif tamper == "bit_flip":
        data = data[:-70] + bytes([data[-70] ^ 0x01]) + data[-69:]  # inside the payload, not the signature
    elif tamper == "garbage":
        data = b"\x00not a bundle"
    elif tamper == "truncated":
        data = data[: len(data) // 2]
    elif tamper == "trailing":
        data = data + b"\x00"
    with pytest.raises(error):
        trust.load_bundle(data, root=root, now=NOW)


def test_a_bundle_signed_by_another_key_under_the_roots_kid_is_refused(root_key, issuer_key):
    from cwt import COSE, COSEKey

    bundle = make_bundle([issuer(issuer_key)])
    impostor = COSEKey.from_pem(generate_signing_key().to_pem(), alg="EdDSA", kid=root_key.kid)
    data = COSE.new().encode(
        cbor2.dumps(bundle.to_payload()), impostor, protected={1: -8, 4: root_key.kid}, unprotected={}
    )
    with pytest.raises(errors.BundleSignatureInvalid):
        trust.load_bundle(data, root=root_key.public, now=NOW)


def test_an_older_bundle_than_the_one_held_is_a_rollback(root_key, issuer_key):
    data = trust.sign_bundle(make_bundle([issuer(issuer_key)], version=4), root_key)
    with pytest.raises(errors.BundleRollback):
        trust.load_bundle(data, root=root_key.public, now=NOW, held_version=5)
    assert trust.load_bundle(data, root=root_key.public, now=NOW, held_version=4).version == 4


def test_an_expired_bundle_is_refused_but_its_version_can_still_be_read(root_key, issuer_key):
    bundle = make_bundle([issuer(issuer_key)])
    data = trust.sign_bundle(bundle, root_key)
    with pytest.raises(errors.BundleExpired):
        trust.load_bundle(data, root=root_key.public, now=bundle.expires_at)
    assert trust.load_bundle(data, root=root_key.public, now=None).version == bundle.version


def test_bundle_staleness_follows_the_policy(issuer_key):
    bundle = make_bundle([issuer(issuer_key)], policy=Policy(bundle_stale_hours=24))
    assert not bundle.is_stale(bundle.issued_at + timedelta(hours=24))
    assert bundle.is_stale(bundle.issued_at + timedelta(hours=24, seconds=1))


def test_a_bundle_with_inconsistent_key_entries_is_malformed(root_key, issuer_key):
    payload = make_bundle([issuer(issuer_key)]).to_payload()
    payload["issuers"][0]["kid"] = b"\x00" * 8
    from cwt import COSE

    data = COSE.new().encode(
        cbor2.dumps(payload), root_key.cose_key, protected={1: -8, 4: root_key.kid}, unprotected={}
    )
    with pytest.raises(errors.BundleMalformed):
        trust.load_bundle(data, root=root_key.public, now=NOW)


# --- verify_pass ----------------------------------------------------------------------------------------------


def test_valid_pass(issuer_key):
    text, _ = signed(key=issuer_key)
    result = trust.verify_pass(text, make_bundle([issuer(issuer_key)]), now=NOW)
    assert (result.valid, result.code, result.kid) == (True, "PASS_VALID", issuer_key.kid)


@pytest.mark.parametrize(
    ("at", "code"),
    [
        (lambda c: c.valid_from, "PASS_VALID"),
        (lambda c: c.valid_from - timedelta(seconds=1), "PASS_NOT_YET_VALID"),
        (lambda c: c.valid_until - timedelta(seconds=1), "PASS_VALID"),
        (lambda c: c.valid_until, "PASS_EXPIRED"),
    ],
    ids=["first second", "a second early", "last second", "at expiry"],
)
def test_validity_window_boundaries(issuer_key, at, code):
    claims = make_claims()
    text, _ = signed(claims, issuer_key)
    assert trust.verify_pass(text, make_bundle([issuer(issuer_key)]), now=at(claims)).code == code


def test_one_authentication_judged_at_any_instant_equals_verifying_at_that_instant(issuer_key):
    claims = make_claims()
    text, _ = signed(claims, issuer_key)
    bundles = [
        make_bundle([issuer(issuer_key)]),
        make_bundle([issuer(issuer_key)], revoked=frozenset({claims.pass_id})),
        make_bundle([issuer(generate_signing_key())]),
    ]
    instants = [claims.valid_from - timedelta(seconds=1), claims.valid_from, NOW, claims.valid_until]
    for bundle in bundles:
        authenticated = trust.authenticate(text, bundle)
        for at in instants:
            assert trust.at_instant(authenticated, at) == trust.verify_pass(text, bundle, now=at)
    # Revocation outranks the window, as in verify_pass: a revoked pass is refused as revoked, even once expired.
    assert trust.at_instant(trust.authenticate(text, bundles[1]), claims.valid_until).code == "PASS_REVOKED"


def test_expired_is_not_misuse_but_revoked_and_forged_are(issuer_key):
    claims = make_claims()
    bundle = make_bundle([issuer(issuer_key)], revoked=frozenset({claims.pass_id}))
    revoked = trust.verify_pass(signed(claims, issuer_key)[0], bundle, now=NOW)
    assert (revoked.code, revoked.misuse) == ("PASS_REVOKED", True)
    expired = trust.verify_pass(
        signed(claims, issuer_key)[0], make_bundle([issuer(issuer_key)]), now=claims.valid_until
    )
    assert (expired.code, expired.misuse) == ("PASS_EXPIRED", False)
    fake = trust.verify_pass(
        forged(claims, claimed_key=issuer_key), make_bundle([issuer(issuer_key)]), now=NOW
    )
    assert (fake.code, fake.misuse, fake.claims) == ("PASS_SIGNATURE_INVALID", True, None)


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (trust.KEY_ACTIVE, "PASS_VALID"),
        (trust.KEY_PREVIOUS, "PASS_VALID"),
        (trust.KEY_RETIRED, "PASS_UNKNOWN_KEY"),
    ],
)
def test_rotated_keys_stay_valid_until_retired(issuer_key, status, code):
    text, _ = signed(key=issuer_key)
    bundle = make_bundle([issuer(generate_signing_key()), issuer(issuer_key, status)])
    assert trust.verify_pass(text, bundle, now=NOW).code == code


def test_a_pass_issued_outside_its_keys_validity_is_refused(issuer_key):
    claims = make_claims()
    text, _ = signed(claims, issuer_key)
    late_key = issuer(issuer_key, valid_from=claims.issued_at + timedelta(seconds=1))
    assert trust.verify_pass(text, make_bundle([late_key]), now=NOW).code == "PASS_UNKNOWN_KEY"
    ended = issuer(issuer_key, valid_until=claims.issued_at)
    assert trust.verify_pass(text, make_bundle([ended]), now=NOW).code == "PASS_UNKNOWN_KEY"


def test_es256_passes_are_accepted_for_verification():
    import zlib

    import base45
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cwt import COSE, COSEKey

    from passcore import wire
    from passcore.keys import PublicKey

    private = ec.generate_private_key(ec.SECP256R1())
    public = PublicKey.from_pem(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    from tests.factories import claims_to_cwt

    message = COSE.new().encode(
        cbor2.dumps(claims_to_cwt(make_claims())),
        COSEKey.from_pem(pem, alg="ES256", kid=public.kid),
        protected={1: -7, 4: public.kid},
        unprotected={},
    )
    text = wire.PREFIX + base45.b45encode(zlib.compress(message)).decode()
    bundle = make_bundle([trust.IssuerKey(public, trust.KEY_ACTIVE, NOW - timedelta(days=30))])
    assert trust.verify_pass(text, bundle, now=NOW).valid


def test_verification_never_raises_for_a_random_qr_code(issuer_key):
    bundle = make_bundle([issuer(issuer_key)])
    for text in (
        "",
        "hello",
        "WIFI:S:guest;T:WPA;P:secret;;",
        "HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDE",
        "CP1:",
        "CP1:" + "A" * 5000,
    ):
        result = trust.verify_pass(text, bundle, now=NOW)
        assert (result.valid, result.code) == (False, "PASS_MALFORMED")


def test_policy_changes_make_new_versions_and_validate():
    policy = Policy(hard_hit=("420000",))
    newer = policy.next_version(effective_from=NOW, fever_threshold_c="37.5")
    assert (newer.version, str(newer.fever_threshold_c)) == (2, "37.5")
    assert Policy.from_dict(newer.to_dict()) == newer
    with pytest.raises(errors.InputError) as err:
        Policy.from_dict({"fever_threshold_c": "45"})
    assert err.value.code == "POLICY_INVALID"
    with pytest.raises(errors.InputError):
        Policy.from_dict({"surprise": 1})
    with pytest.raises(errors.InputError):
        replace(policy, hard_hit=("4200",))


# --- the algorithm belongs to the key -------------------------------------------------------------------------


@pytest.mark.parametrize("alg, header", [("EdDSA", -8), ("ES256", -7)])
def test_a_signing_key_says_its_algorithm_and_passes_carry_it(alg, header):
    from passcore import wire

    key = generate_signing_key(alg)
    assert (key.alg, key.public.alg) == (alg, alg)
    text = wire.encode(make_claims(), key)
    assert wire.decode(text).protected == {1: header, 4: key.kid}
    result = trust.verify_pass(text, make_bundle([issuer(key)]), now=NOW)
    assert (result.valid, result.claims) == (True, make_claims())


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_a_signing_key_file_keeps_its_algorithm(alg):
    from passcore.keys import SigningKey

    key = generate_signing_key(alg)
    for passphrase in (None, b"correct horse"):
        loaded = SigningKey.from_pem(key.to_pem(passphrase), passphrase)
        assert (loaded.alg, loaded.kid) == (alg, key.kid)


def test_keys_of_other_algorithms_and_curves_cannot_sign():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    from passcore.keys import SigningKey

    with pytest.raises(errors.InputError) as err:
        generate_signing_key("RS256")
    assert err.value.code == "KEY_INVALID"
    with pytest.raises(errors.InputError):
        SigningKey(ec.generate_private_key(ec.SECP384R1()))  # type: ignore[arg-type]
    for private in (ec.generate_private_key(ec.SECP384R1()), rsa.generate_private_key(65537, 2048)):
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with pytest.raises(errors.InputError) as err:
            SigningKey.from_pem(pem)
        assert err.value.code == "KEY_INVALID"


def test_a_pass_whose_header_names_another_algorithm_than_its_keys_is_refused():
    import zlib

    import base45
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from passcore import claims as claims_mod
    from passcore import wire

    key = generate_signing_key("ES256")
    bundle = make_bundle([issuer(key)])
    payload = cbor2.dumps(claims_mod.to_cwt(make_claims()))

    def es256_pass(alg_label: int) -> str:
        protected = cbor2.dumps({1: alg_label, 4: key.kid})
        der = key.private.sign(  # type: ignore[call-arg]
            cbor2.dumps(["Signature1", protected, b"", payload]), ec.ECDSA(hashes.SHA256())
        )
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        message = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))
        return wire.PREFIX + base45.b45encode(zlib.compress(message)).decode()

    assert trust.verify_pass(es256_pass(-7), bundle, now=NOW).valid  # an independent ES256 signer
    lying = trust.verify_pass(es256_pass(-8), bundle, now=NOW)  # a good signature under a header saying EdDSA
    assert (lying.valid, lying.code) == (False, "PASS_SIGNATURE_INVALID")


def test_a_bundle_announces_each_issuer_keys_algorithm_and_both_verify(root_key):
    eddsa, es256 = generate_signing_key("EdDSA"), generate_signing_key("ES256")
    bundle = make_bundle([issuer(eddsa, trust.KEY_PREVIOUS), issuer(es256)])
    loaded = trust.load_bundle(trust.sign_bundle(bundle, root_key), root=root_key.public, now=NOW)
    assert [(k.public.alg, k.kid) for k in loaded.issuers] == [("EdDSA", eddsa.kid), ("ES256", es256.kid)]
    for key in (eddsa, es256):
        assert trust.verify_pass(signed(key=key)[0], loaded, now=NOW).valid


def test_the_root_key_stays_eddsa():
    with pytest.raises(errors.InputError) as err:
        trust.sign_bundle(make_bundle([]), generate_signing_key("ES256"))
    assert err.value.code == "KEY_INVALID"
    assert trust.ROOT_ALG == "EdDSA"
