"""Data keys: what seals personal identifiers at rest and hashes them for equality lookups.

A data key is 32 random bytes in ``keys/data-<kid>.key`` (mode 0600, created exclusively, wrapped with
``CHECKPASS_KEY_PASSPHRASE`` when it is set, as the signing keys are). Two keys are derived from it with HKDF, so
the one that encrypts is never the one that hashes: AES-256-GCM for sealing, HMAC-SHA256 for person hashes.
``keys/data-key.active`` names the key that seals and hashes new values; older keys are kept only while a rotation
re-seals what they sealed, then their files are deleted. Nothing of a data key is ever in the database, so a copy of
the database alone reveals no sealed value.

A sealed value is ``v1:<kid>:<base64url(nonce ‖ ciphertext ‖ tag)>``; the associated data is the version, the kid and
a *context* naming the row and field (``application/12/people``), so a ciphertext copied to another row or field
does not open. The key ring travels with the database engine (``attach`` in ``server.db.make_engine``), so every
session on it reaches the keys of its own installation: several installations can live in one process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from passcore.errors import InputError
from server.config import Settings

__all__ = ["ACTIVE_FILE", "VERSION", "DataKeys", "attach", "kid_of", "of", "of_connection"]

VERSION = "v1"
ACTIVE_FILE = "data-key.active"
_FILE_FORMAT = "checkpass-data-key-1"
_SECRET_BYTES = 32
_NONCE_BYTES = 12
_INFO_KEY = "checkpass.data_keys"
# scrypt at 2**15 x 8: about 32 MiB and a tenth of a second, once per key and process (keys are cached).
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


@dataclass(frozen=True)
class _Key:
    kid: str
    seal: AESGCM
    hash_key: bytes

    @classmethod
    def of(cls, kid: str, secret: bytes) -> _Key:
        return cls(
            kid,
            AESGCM(_derive(secret, b"checkpass seal v1")),
            _derive(secret, b"checkpass person hash v1"),
        )


def _is_kid(text: str) -> bool:
    return len(text) == 8 and all(ch in "0123456789abcdef" for ch in text)


class DataKeys:
    """The data keys of one installation (``keys_dir``), read from their files on first use and then cached."""

    def __init__(self, keys_dir: Path, passphrase: bytes | None = None) -> None:
        self.keys_dir = keys_dir
        self._passphrase = passphrase
        self._cache: dict[str, _Key] = {}
        self._lock = threading.Lock()

    @classmethod
    def of_settings(cls, settings: Settings) -> DataKeys:
        secret = settings.key_passphrase.get_secret_value().encode() if settings.key_passphrase else None
        return cls(settings.keys_dir, secret)

    # --- files -----------------------------------------------------------------------------------------

    def _file(self, kid: str) -> Path:
        return self.keys_dir / f"data-{kid}.key"

    def _wrap(self, kid: str, secret: bytes) -> dict[str, Any]:
        if self._passphrase is None:
            return {"secret": _b64(secret)}
        salt, nonce = secrets.token_bytes(16), secrets.token_bytes(_NONCE_BYTES)
        kek = Scrypt(salt=salt, length=32, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P).derive(self._passphrase)
        wrapped = AESGCM(kek).encrypt(nonce, secret, kid.encode())
        return {
            "kdf": {"name": "scrypt", "salt": _b64(salt), "n": _SCRYPT_N, "r": _SCRYPT_R, "p": _SCRYPT_P},
            "wrapped": _b64(nonce + wrapped),
        }

    def _unwrap(self, kid: str, data: dict[str, Any]) -> bytes:
        if "secret" in data:
            if self._passphrase is not None:
                raise InputError(
                    f"data key {kid} is not encrypted but a passphrase is set", code="KEY_INVALID"
                )
            return _unb64(data["secret"])
        if self._passphrase is None:
            raise InputError(f"data key {kid} is encrypted: set CHECKPASS_KEY_PASSPHRASE", code="KEY_INVALID")
        kdf, blob = data["kdf"], _unb64(data["wrapped"])
        kek = Scrypt(salt=_unb64(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(
            self._passphrase
        )
        try:
            return AESGCM(kek).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], kid.encode())
        except InvalidTag as err:
            raise InputError(f"data key {kid}: wrong passphrase", code="KEY_INVALID") from err

    def _load(self, kid: str) -> _Key:
        with self._lock:
            if kid in self._cache:
                return self._cache[kid]
            try:
                data = json.loads(self._file(kid).read_text(encoding="utf-8"))
            except FileNotFoundError as err:
                raise InputError(
                    f"data key {kid} is missing from {self.keys_dir}: values it sealed cannot be read",
                    code="KEY_MISSING",
                ) from err
            except (ValueError, OSError) as err:
                raise InputError(f"data key file of {kid} is unreadable", code="KEY_INVALID") from err
            if data.get("format") != _FILE_FORMAT or data.get("kid") != kid:
                raise InputError(f"data key file of {kid} is not a checkpass data key", code="KEY_INVALID")
            secret = self._unwrap(kid, data)
            if len(secret) != _SECRET_BYTES:
                raise InputError(f"data key {kid} has the wrong length", code="KEY_INVALID")
            key = self._cache[kid] = _Key.of(kid, secret)
            return key

    def create(self) -> str:
        """A new data key, made the active one; returns its kid. Keys made before stay until retired."""
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        kid, secret = secrets.token_hex(4), secrets.token_bytes(_SECRET_BYTES)
        body = {"format": _FILE_FORMAT, "kid": kid, **self._wrap(kid, secret)}
        # O_EXCL: a key is never overwritten; mode 0600 from the start, so it is never readable by others.
        fd = os.open(self._file(kid), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(body) + "\n")
        with self._lock:
            self._cache[kid] = _Key.of(kid, secret)
        # Written aside and renamed: a process reading the pointer sees the old kid or the new one, never half.
        pointer = self.keys_dir / f".{ACTIVE_FILE}.{kid}"
        fd = os.open(pointer, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(kid + "\n")
        os.replace(pointer, self.keys_dir / ACTIVE_FILE)
        return kid

    def active_kid(self) -> str | None:
        """The kid of the key that seals new values, read each time: a rotation in another process shows at once."""
        try:
            kid = (self.keys_dir / ACTIVE_FILE).read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        if not _is_kid(kid):
            raise InputError(f"{ACTIVE_FILE} does not name a data key", code="KEY_INVALID")
        return kid

    def kids(self) -> list[str]:
        """Every data key on disk."""
        found = (p.name[len("data-") : -len(".key")] for p in self.keys_dir.glob("data-*.key"))
        return sorted(kid for kid in found if _is_kid(kid))

    def retire(self, kid: str) -> None:
        """Delete a key that is no longer active: whatever it alone sealed can no longer be read."""
        if kid == self.active_kid():
            raise InputError("the active data key cannot be retired: rotate first", code="KEY_ACTIVE")
        with self._lock:
            self._cache.pop(kid, None)
        self._file(kid).unlink(missing_ok=True)

    def _active(self) -> _Key:
        kid = self.active_kid()
        if kid is None:
            raise InputError(f"no data key in {self.keys_dir}: run `checkpass init`", code="KEY_MISSING")
        return self._load(kid)

    # --- sealing and hashing -------------------------------------------------------------------------------

    def seal(self, plaintext: str, context: str) -> str:
        """``plaintext`` encrypted under the active key, bound to ``context`` (the row and field it is stored in)."""
        key = self._active()
        nonce = secrets.token_bytes(_NONCE_BYTES)
        ciphertext = key.seal.encrypt(nonce, plaintext.encode("utf-8"), _aad(key.kid, context))
        return f"{VERSION}:{key.kid}:{_b64(nonce + ciphertext)}"

    def open(self, token: str, context: str) -> str:
        """The plaintext of a sealed value stored under ``context``; anything else is refused, never passed on."""
        version, kid, body = _parts(token)
        if version != VERSION:
            raise InputError(f"sealed value of unknown version {version!r}", code="SEALED_INVALID")
        key = self._load(kid)
        blob = _unb64(body)
        try:
            plain = key.seal.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _aad(kid, context))
        except InvalidTag as err:
            raise InputError(f"sealed value does not open for {context}", code="SEALED_INVALID") from err
        return plain.decode("utf-8")

    def person_hash(self, id_number: str) -> tuple[str, str]:
        """(kid, HMAC-SHA256) of an ID number under the active key: equal numbers, equal hashes."""
        key = self._active()
        return key.kid, _person_digest(key.hash_key, id_number)

    def person_hashes(self, id_number: str) -> list[tuple[str, str]]:
        """The number's hash under every key on disk: what a lookup matches while a rotation is under way."""
        return [(kid, _person_digest(self._load(kid).hash_key, id_number)) for kid in self.kids()]


def _aad(kid: str, context: str) -> bytes:
    return f"{VERSION}:{kid}:{context}".encode()


def _parts(token: str) -> tuple[str, str, str]:
    version, _, rest = token.partition(":")
    kid, _, body = rest.partition(":")
    if not (version and _is_kid(kid) and body):
        raise InputError("not a sealed value", code="SEALED_INVALID")
    return version, kid, body


def kid_of(token: str) -> str:
    """The kid that sealed ``token``."""
    return _parts(token)[1]


def _person_digest(key: bytes, id_number: str) -> str:
    normalised = "".join(id_number.split()).upper()
    return hmac.new(key, b"id:" + normalised.encode("utf-8"), hashlib.sha256).hexdigest()


def attach(engine: Engine, keys: DataKeys) -> None:
    """Give every connection of ``engine`` the installation's data keys (``of`` finds them from a session)."""

    def remember(_dbapi_connection: Any, record: Any) -> None:
        record.info[_INFO_KEY] = keys

    event.listen(engine, "connect", remember)


def of_connection(connection: Connection) -> DataKeys:
    """The data keys of the database ``connection`` belongs to."""
    keys = connection.info.get(_INFO_KEY)
    if not isinstance(keys, DataKeys):
        raise InputError(
            "this database engine carries no data keys (see server.db.make_engine)", code="KEY_MISSING"
        )
    return keys


def of(session: Session) -> DataKeys:
    """The data keys of the database ``session`` works on."""
    return of_connection(session.connection())
