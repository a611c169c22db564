"""Issuer keys in a PKCS#11 token (an HSM; SoftHSM2 in the tests): generated inside it, never extractable, used
through ``Pkcs11Signer`` wherever passes and manifest pages are signed.

The only module that imports ``pkcs11`` (python-pkcs11). passcore builds the COSE Sig_structure and hands the
bytes to the signer (``passcore.keys.Signer``); the token signs them with EdDSA (Ed25519, CKM_EDDSA) or ES256
(P-256: SHA-256 here, then CKM_ECDSA over the digest, since SoftHSM2 has no CKM_ECDSA_SHA256). Both make
signatures in the form COSE carries (64 bytes), so a checkpoint verifies a token-signed pass exactly as any other.

PKCS#11 logs in per application, not per session, and a library may be initialised once per process: so each
process keeps one logged-in read-write session per token and uses it under a lock. Every failure to reach the
token (module, token, PIN, key) is one ``HsmError`` (503) with a stable code, and the PIN is in no message.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pkcs11
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.util.ec import encode_named_curve_parameters

from passcore.keys import PublicKey
from server.config import Settings
from server.errors import AppError

__all__ = ["HsmError", "Pkcs11Signer", "generate", "key_attributes", "reset", "signer"]

_ED25519_OID = "1.3.101.112"  # RFC 8410 id-Ed25519: the CKA_EC_PARAMS of an Edwards key (PKCS#11 3.0)
_P256 = "secp256r1"
_LABEL_PREFIX = "checkpass-issuer-"


class HsmError(AppError):
    """The token cannot be used now; nothing was signed or changed. The code says which part failed."""

    status, code, title = 503, "HSM_UNAVAILABLE", "Key token unavailable"


@dataclass(frozen=True)
class _Config:
    module: Path
    label: str
    pin: str = field(repr=False)

    @property
    def pin_digest(self) -> bytes:
        return hashlib.sha256(self.pin.encode()).digest()


def _config(settings: Settings) -> _Config:
    missing = [
        name
        for name, value in (
            ("CHECKPASS_PKCS11_MODULE", settings.pkcs11_module),
            ("CHECKPASS_PKCS11_TOKEN", settings.pkcs11_token),
            ("CHECKPASS_PKCS11_PIN", settings.pkcs11_pin),
        )
        if not value
    ]
    if missing or settings.pkcs11_module is None or settings.pkcs11_pin is None:
        raise HsmError(f"no PKCS#11 token configured: set {', '.join(missing)}", code="HSM_NOT_CONFIGURED")
    return _Config(settings.pkcs11_module, settings.pkcs11_token, settings.pkcs11_pin.get_secret_value())


@dataclass
class _Open:
    session: Any
    pin_digest: bytes


# Per process: the loaded libraries (C_Initialize once each) and one logged-in session per token.
_lock = threading.RLock()
_libs: dict[str, Any] = {}
_sessions: dict[tuple[str, str], _Open] = {}
_pid = os.getpid()


def reset() -> None:
    """Close every session and finalise every library, so the next use starts afresh (SoftHSM2 reads
    SOFTHSM2_CONF at initialisation: the tests call this when they point it at a new token directory)."""
    with _lock:
        for opened in _sessions.values():
            try:
                opened.session.close()
            except p11.PKCS11Error:  # the token went away with its sessions: nothing left to close
                pass
        _sessions.clear()
        for lib in _libs.values():
            try:
                lib.finalize()
            except p11.PKCS11Error:
                pass
        _libs.clear()


def _lib(config: _Config) -> Any:
    global _pid
    if _pid != os.getpid():
        # A forked child inherits the parent's handles, which PKCS#11 says are not its own: start again.
        _sessions.clear()
        for lib in _libs.values():
            lib.reinitialize()
        _pid = os.getpid()
    path = str(config.module)
    if path not in _libs:
        if not config.module.is_file():
            raise HsmError(f"PKCS#11 module {path} does not exist", code="HSM_MODULE_MISSING")
        try:
            _libs[path] = pkcs11.lib(path)
        except p11.PKCS11Error as err:
            raise HsmError(
                f"PKCS#11 module {path} cannot be loaded: {err}", code="HSM_MODULE_MISSING"
            ) from err
    return _libs[path]


def _open(config: _Config) -> Any:
    key = (str(config.module), config.label)
    opened = _sessions.get(key)
    if opened is not None and opened.pin_digest == config.pin_digest:
        return opened.session
    if opened is not None:
        # Another PIN than the one this session logged in with: closing the token's last session logs it out,
        # so the new PIN is checked by the token, not taken on the old login's credit.
        del _sessions[key]
        try:
            opened.session.close()
        except p11.PKCS11Error:
            pass
    lib = _lib(config)
    try:
        token = lib.get_token(token_label=config.label)
    except p11.NoSuchToken as err:
        raise HsmError(
            f"no PKCS#11 token labelled {config.label!r} in {config.module}", code="HSM_TOKEN_MISSING"
        ) from err
    except p11.MultipleTokensReturned as err:
        raise HsmError(
            f"more than one PKCS#11 token is labelled {config.label!r}", code="HSM_TOKEN_MISSING"
        ) from err
    try:
        session = token.open(rw=True, user_pin=config.pin)
    except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange) as err:
        raise HsmError(
            f"the PKCS#11 token {config.label!r} refused the PIN (CHECKPASS_PKCS11_PIN)",
            code="HSM_PIN_INCORRECT",
        ) from err
    except p11.PinLocked as err:
        raise HsmError(f"the PIN of PKCS#11 token {config.label!r} is locked", code="HSM_PIN_LOCKED") from err
    except p11.UserPinNotInitialized as err:
        raise HsmError(
            f"PKCS#11 token {config.label!r} has no user PIN yet", code="HSM_TOKEN_MISSING"
        ) from err
    _sessions[key] = _Open(session, config.pin_digest)
    return session


# The session is gone with the token (removed, restarted, logged out): opened once more, then given up.
_LOST = (
    p11.SessionHandleInvalid,
    p11.SessionClosed,
    p11.DeviceRemoved,
    p11.TokenNotPresent,
    p11.UserNotLoggedIn,
)


@contextmanager
def _session(config: _Config) -> Iterator[Any]:
    with _lock:
        try:
            yield _open(config)
        except HsmError:
            raise
        except p11.PKCS11Error as err:
            _sessions.pop((str(config.module), config.label), None)
            name = type(err).__name__
            raise HsmError(f"PKCS#11 token {config.label!r} failed: {name}", code="HSM_UNAVAILABLE") from err


def _label(kid: bytes) -> str:
    return _LABEL_PREFIX + kid.hex()


def _point(value: bytes) -> bytes:
    """CKA_EC_POINT's bytes: DER OCTET STRING as PKCS#11 requires (SoftHSM2), or raw as some tokens give it."""
    if len(value) > 2 and value[0] == 0x04 and value[1] == len(value) - 2:
        return value[2:]
    if len(value) > 3 and value[0] == 0x04 and value[1] == 0x81 and value[2] == len(value) - 3:
        return value[3:]
    return value


def _public_of(obj: Any, alg: str) -> PublicKey:
    raw = _point(bytes(obj[Attribute.EC_POINT]))
    key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
    try:
        if alg == "EdDSA":
            key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
        else:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as err:
        raise HsmError(f"the token's public key is not a {alg} key", code="HSM_KEY_INVALID") from err
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return PublicKey.from_der(spki, alg)


def generate(settings: Settings, alg: str) -> tuple[PublicKey, str]:
    """Generate an issuer key pair in the configured token: (its public key, the token's label).

    The private key is made with CKA_SENSITIVE and without CKA_EXTRACTABLE (so CKA_NEVER_EXTRACTABLE holds):
    no call can read it or wrap it out. Both objects are labelled ``checkpass-issuer-<kid>`` with CKA_ID = kid."""
    config = _config(settings)
    if alg == "EdDSA":
        key_type, params = KeyType.EC_EDWARDS, encode_named_curve_parameters(_ED25519_OID)
    elif alg == "ES256":
        key_type, params = KeyType.EC, encode_named_curve_parameters(_P256)
    else:
        raise HsmError(f"the token makes EdDSA or ES256 issuer keys, not {alg!r}", code="HSM_KEY_INVALID")
    with _session(config) as session:
        public_obj, private_obj = session.generate_keypair(
            key_type,
            store=True,
            label=_LABEL_PREFIX + "new",
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            public_template={Attribute.EC_PARAMS: params},
            private_template={
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
            },
        )
        try:
            if private_obj[Attribute.EXTRACTABLE] or not private_obj[Attribute.SENSITIVE]:
                raise HsmError("the token would let the private key out; refused", code="HSM_KEY_INVALID")
            public = _public_of(public_obj, alg)
            for obj in (public_obj, private_obj):
                obj[Attribute.ID] = public.kid
                obj[Attribute.LABEL] = _label(public.kid)
        except BaseException:
            # Nothing half made stays behind in the token.
            private_obj.destroy()
            public_obj.destroy()
            raise
    return public, config.label


@dataclass(frozen=True)
class Pkcs11Signer:
    """An issuer key whose private part is in the token: a ``passcore.keys.Signer``."""

    public: PublicKey
    _config: _Config = field(repr=False)

    @property
    def alg(self) -> str:
        return self.public.alg

    @property
    def kid(self) -> bytes:
        return self.public.kid

    def sign(self, data: bytes) -> bytes:
        try:
            signature = self._sign(data)
        except HsmError as err:
            if not isinstance(err.__cause__, _LOST):
                raise
            signature = self._sign(data)  # the failed session was dropped: this opens and logs in afresh
        self._check(data, signature)
        return signature

    def _sign(self, data: bytes) -> bytes:
        with _session(self._config) as session:
            try:
                key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=self.kid)
            except p11.NoSuchKey as err:
                raise HsmError(
                    f"issuer key {self.kid.hex()} is not in PKCS#11 token {self._config.label!r}",
                    code="HSM_KEY_MISSING",
                ) from err
            if self.alg == "EdDSA":
                signature = bytes(key.sign(data, mechanism=Mechanism.EDDSA))
            else:
                signature = bytes(key.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA))
        return signature

    def _check(self, data: bytes, signature: bytes) -> None:
        # The signature is checked against the public key the trust bundle carries before any pass is printed
        # with it: a token that holds another key under this id (a restored or mixed-up token) signs nothing
        # a checkpoint would refuse.
        key = serialization.load_der_public_key(self.public.spki_der)
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, data)
            elif isinstance(key, ec.EllipticCurvePublicKey) and len(signature) == 64:
                der = encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                )
                key.verify(der, data, ec.ECDSA(hashes.SHA256()))
            else:
                raise InvalidSignature
        except InvalidSignature as err:
            raise HsmError(
                f"PKCS#11 token {self._config.label!r} signed with another key than issuer key {self.kid.hex()}",
                code="HSM_KEY_MISMATCH",
            ) from err


def signer(settings: Settings, public: PublicKey, token_label: str | None) -> Pkcs11Signer:
    """The signer of an issuer key held in the token labelled ``token_label`` (the configured one)."""
    config = _config(settings)
    if token_label is not None and token_label != config.label:
        raise HsmError(
            f"issuer key {public.kid.hex()} is in PKCS#11 token {token_label!r}; "
            f"CHECKPASS_PKCS11_TOKEN names {config.label!r}",
            code="HSM_TOKEN_MISSING",
        )
    return Pkcs11Signer(public, config)


def key_attributes(settings: Settings, kid: bytes) -> dict[str, bool]:
    """What the token says about the private key ``kid``: sensitive, extractable, never extractable, and whether
    its value can be read (it never should be). For `checkpass keys list --json` and the tests."""
    config = _config(settings)
    with _session(config) as session:
        try:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=kid)
        except p11.NoSuchKey as err:
            raise HsmError(f"issuer key {kid.hex()} is not in the token", code="HSM_KEY_MISSING") from err
        try:
            key[Attribute.VALUE]
            readable = True
        except (p11.AttributeSensitive, p11.AttributeTypeInvalid):
            readable = False
        return {
            "sensitive": bool(key[Attribute.SENSITIVE]),
            "extractable": bool(key[Attribute.EXTRACTABLE]),
            "never_extractable": bool(key[Attribute.NEVER_EXTRACTABLE]),
            "value_readable": readable,
        }
