"""Key material: signing keys (Ed25519 or ECDSA P-256), public keys accepted for verification, and key ids.

``Signer`` is what signing a pass needs: an algorithm, a kid and a ``sign`` over the bytes to be signed. A
``SigningKey`` is one (its private key is here, in memory); the server's PKCS#11 signer is another (its private
key never leaves the token), so passcore signs with either without knowing which.

The algorithm belongs to the key: a ``SigningKey`` says its own ``alg`` and whoever signs asks it, so an issuer
key made for ES256 signs ES256 passes without any caller naming an algorithm.
Pure: keys come in and go out as bytes (PEM or DER); reading and writing files is the caller's job.
A ``kid`` is the first 8 bytes of SHA-256 over the key's DER SubjectPublicKeyInfo. (The EU DCC hashes the whole
X.509 certificate instead; our issuer keys travel in the trust bundle without certificates.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Protocol

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cwt import COSEKey

from passcore.errors import InputError

__all__ = [
    "ALG_IDS",
    "KID_BYTES",
    "SIGNING_ALGORITHMS",
    "PublicKey",
    "Signer",
    "SigningKey",
    "generate_signing_key",
    "kid_for",
]

KID_BYTES = 8
# COSE algorithm identifiers (RFC 9053). PS256 is known so that the EU DCC test vectors can be read;
# our passes accept only what a verifier is told to accept (see wire.PASS_ALGORITHMS).
ALG_IDS = {"EdDSA": -8, "ES256": -7, "PS256": -37}
# What we sign with. EdDSA (Ed25519) is the default: short deterministic signatures, no nonce to get wrong.
# ES256 (ECDSA P-256, SHA-256) is there for a bureau whose hardware or policy requires NIST curves.
SIGNING_ALGORITHMS = ("EdDSA", "ES256")
_PUBLIC = serialization.PublicFormat.SubjectPublicKeyInfo
_DER = serialization.Encoding.DER
_PEM = serialization.Encoding.PEM


def kid_for(spki_der: bytes) -> bytes:
    return hashlib.sha256(spki_der).digest()[:KID_BYTES]


def _alg_of(key: Any) -> str:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(key, rsa.RSAPublicKey):
        return "PS256"
    raise InputError("unsupported key type: use Ed25519 or ECDSA P-256", code="KEY_INVALID")


@dataclass(frozen=True)
class PublicKey:
    """A public key as the trust bundle carries it: DER SubjectPublicKeyInfo plus its algorithm."""

    spki_der: bytes
    alg: str

    @classmethod
    def from_der(cls, spki_der: bytes, alg: str | None = None) -> PublicKey:
        try:
            key = serialization.load_der_public_key(spki_der)
        except (ValueError, UnsupportedAlgorithm) as err:
            raise InputError("public key is not valid DER SubjectPublicKeyInfo", code="KEY_INVALID") from err
        actual = _alg_of(key)
        if alg is not None and alg != actual:
            raise InputError(f"key is {actual}, not {alg}", code="KEY_INVALID")
        return cls(spki_der=spki_der, alg=actual)

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKey:
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, UnsupportedAlgorithm) as err:
            raise InputError("not a PEM public key", code="KEY_INVALID") from err
        return cls(spki_der=key.public_bytes(_DER, _PUBLIC), alg=_alg_of(key))

    @classmethod
    def from_certificate_der(cls, der: bytes) -> PublicKey:
        from cryptography import x509

        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as err:
            raise InputError("not a DER X.509 certificate", code="KEY_INVALID") from err
        key = cert.public_key()
        return cls(spki_der=key.public_bytes(_DER, _PUBLIC), alg=_alg_of(key))

    @cached_property
    def kid(self) -> bytes:
        return kid_for(self.spki_der)

    @property
    def pem(self) -> str:
        key = serialization.load_der_public_key(self.spki_der)
        return key.public_bytes(_PEM, _PUBLIC).decode("ascii")

    def verifier(self, kid: bytes | None) -> Any:
        """This key as a python-cwt key labelled ``kid`` (the library matches keys to messages by kid)."""
        return _cose_public_key(self.spki_der, self.alg, kid or b"")


class Signer(Protocol):
    """Whoever holds an issuer's private key: it signs the COSE Sig_structure that ``wire`` hands it.

    ``sign`` returns the signature as COSE carries it: 64 bytes for EdDSA, and for ES256 the fixed-length r || s
    of RFC 9053 section 2.1 (not the DER that most libraries return)."""

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> bytes: ...

    @property
    def public(self) -> PublicKey: ...

    def sign(self, data: bytes) -> bytes: ...


PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def _signing_alg_of(key: Any) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise InputError("signing keys must be Ed25519 or ECDSA P-256", code="KEY_INVALID")


@dataclass(frozen=True)
class SigningKey:
    """A private key that signs passes (issuer) or trust bundles (root); ``alg`` follows from the key's type."""

    private: PrivateKey

    def __post_init__(self) -> None:
        # Refuse any other curve or key type when the key is made, not when it signs.
        _signing_alg_of(self.private)

    @classmethod
    def from_pem(cls, pem: bytes, passphrase: bytes | None = None) -> SigningKey:
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except TypeError as err:  # encrypted without a passphrase, or a passphrase for a plain key
            raise InputError(f"private key passphrase problem: {err}", code="KEY_INVALID") from err
        except (ValueError, UnsupportedAlgorithm) as err:
            raise InputError(
                "not a readable PEM private key (wrong passphrase?)", code="KEY_INVALID"
            ) from err
        if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise InputError("signing keys must be Ed25519 or ECDSA P-256", code="KEY_INVALID")
        return cls(private=key)  # which curve is checked as the key is made

    @property
    def alg(self) -> str:
        """The COSE algorithm name this key signs with: ``EdDSA`` or ``ES256``."""
        return _signing_alg_of(self.private)

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
        )
        return self.private.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, encryption)

    @cached_property
    def public(self) -> PublicKey:
        return PublicKey(spki_der=self.private.public_key().public_bytes(_DER, _PUBLIC), alg=self.alg)

    @property
    def kid(self) -> bytes:
        return self.public.kid

    def sign(self, data: bytes) -> bytes:
        """The COSE signature of ``data`` (see ``Signer``)."""
        if isinstance(self.private, ed25519.Ed25519PrivateKey):
            return self.private.sign(data)
        r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    @cached_property
    def cose_key(self) -> Any:
        return COSEKey.from_pem(self.to_pem(), alg=self.alg, kid=self.kid)


@lru_cache(maxsize=256)
def _cose_public_key(spki_der: bytes, alg: str, kid: bytes) -> Any:
    pem = serialization.load_der_public_key(spki_der).public_bytes(_PEM, _PUBLIC)
    return COSEKey.from_pem(pem, alg=alg, kid=kid)


def generate_signing_key(alg: str = "EdDSA") -> SigningKey:
    """A new key for ``alg`` (one of ``SIGNING_ALGORITHMS``)."""
    if alg == "EdDSA":
        return SigningKey(private=ed25519.Ed25519PrivateKey.generate())
    if alg == "ES256":
        return SigningKey(private=ec.generate_private_key(ec.SECP256R1()))
    raise InputError(
        f"unknown signing algorithm {alg!r}: use one of {', '.join(SIGNING_ALGORITHMS)}", code="KEY_INVALID"
    )
