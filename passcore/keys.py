"""Key material: Ed25519 signing keys, public keys accepted for verification, and key ids.

Pure: keys come in and go out as bytes (PEM or DER); reading and writing files is the caller's job.
A ``kid`` is the first 8 bytes of SHA-256 over the key's DER SubjectPublicKeyInfo. (The EU DCC hashes the whole
X.509 certificate instead; our issuer keys travel in the trust bundle without certificates.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cwt import COSEKey

from passcore.errors import InputError

__all__ = [
    "ALG_IDS",
    "KID_BYTES",
    "PublicKey",
    "SigningKey",
    "generate_signing_key",
    "kid_for",
]

KID_BYTES = 8
# COSE algorithm identifiers (RFC 9053). PS256 is known so that the EU DCC test vectors can be read;
# our passes accept only what a verifier is told to accept (see wire.PASS_ALGORITHMS).
ALG_IDS = {"EdDSA": -8, "ES256": -7, "PS256": -37}
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


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key that signs passes (issuer) or trust bundles (root)."""

    private: ed25519.Ed25519PrivateKey

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
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise InputError("signing keys must be Ed25519", code="KEY_INVALID")
        return cls(private=key)

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
        )
        return self.private.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, encryption)

    @cached_property
    def public(self) -> PublicKey:
        return PublicKey(spki_der=self.private.public_key().public_bytes(_DER, _PUBLIC), alg="EdDSA")

    @property
    def kid(self) -> bytes:
        return self.public.kid

    @cached_property
    def cose_key(self) -> Any:
        return COSEKey.from_pem(self.to_pem(), alg="EdDSA", kid=self.kid)


@lru_cache(maxsize=256)
def _cose_public_key(spki_der: bytes, alg: str, kid: bytes) -> Any:
    pem = serialization.load_der_public_key(spki_der).public_bytes(_PEM, _PUBLIC)
    return COSEKey.from_pem(pem, alg=alg, kid=kid)


def generate_signing_key() -> SigningKey:
    return SigningKey(private=ed25519.Ed25519PrivateKey.generate())
