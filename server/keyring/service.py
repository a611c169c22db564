"""Root and issuer keys: private parts as 0600 files under keys/ (or, for issuer keys, in a PKCS#11 token),
public parts and status in the database."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, func, select

from passcore.errors import InputError
from passcore.keys import PublicKey, Signer, SigningKey, generate_signing_key
from passcore.trust import KEY_ACTIVE, KEY_PREVIOUS, KEY_RETIRED, ROOT_ALG, IssuerKey
from server.applications import people
from server.config import Settings
from server.errors import Conflict, NotFound
from server.keyring import datakeys
from server.keyring import pkcs11 as hsm
from server.keyring.models import ROLE_ISSUER, ROLE_ROOT, STORE_FILE, STORE_PKCS11, KeyRecord
from server.notices import sealed as notices_sealed
from server.passes.models import IssuedPass, Revocation

__all__ = [
    "DataKeyRotation",
    "active_issuer",
    "active_root_record",
    "bundle_issuers",
    "ensure_keys",
    "list_keys",
    "live_passes_by_key",
    "load_root",
    "read_private_key",
    "retirable_issuer",
    "retire",
    "root_public",
    "rotate",
    "rotate_data_key",
    "write_private_key",
]

ROOT_FILE, ROOT_PUBLIC_FILE = "root.key.pem", "root.pub.pem"


def _passphrase(settings: Settings) -> bytes | None:
    return settings.key_passphrase.get_secret_value().encode() if settings.key_passphrase else None


def _write_private(path: Path, key: SigningKey, settings: Settings) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: never overwrite a key; the mode is set at creation so the key is never readable by others.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.to_pem(_passphrase(settings)))


def _read_private(path: Path, settings: Settings) -> SigningKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise InputError(f"key file {path} is missing: run `checkpass init`", code="KEY_MISSING") from err
    return SigningKey.from_pem(data, _passphrase(settings))


def _issuer_file(settings: Settings, kid: str) -> Path:
    return settings.keys_dir / f"issuer-{kid}.key.pem"


def _record(key: PublicKey, role: str, now: datetime) -> KeyRecord:
    return KeyRecord(
        kid=key.kid.hex(),
        role=role,
        alg=key.alg,
        public_key_pem=key.pem,
        status=KEY_ACTIVE,
        valid_from=now,
        created_at=now,
    )


def load_root(settings: Settings) -> SigningKey:
    return _read_private(settings.keys_dir / ROOT_FILE, settings)


# The bundle-signing keys (server.bundles.signing) are kept like every other private key here.
read_private_key, write_private_key = _read_private, _write_private


def active_root_record(session: Session) -> KeyRecord | None:
    """The root the bureau's checkpoints pin now (after a rollover the newer one; the older is ``previous``)."""
    query = select(KeyRecord).where(KeyRecord.role == ROLE_ROOT, KeyRecord.status == KEY_ACTIVE)
    return session.exec(query.order_by(col(KeyRecord.created_at).desc())).first()


def root_public(session: Session) -> PublicKey:
    """The current root's public key, from the database: its private part may be offline (issue 15)."""
    record = active_root_record(session)
    if record is None:
        raise InputError("no root key: run `checkpass init`", code="KEY_MISSING")
    return PublicKey.from_pem(record.public_key_pem.encode())


def ensure_keys(*, session: Session, settings: Settings, now: datetime) -> list[str]:
    """Create the root key, a first issuer key and a data key where missing, and seal what was stored before
    sealing existed; return what was created."""
    created = []
    root_path = settings.keys_dir / ROOT_FILE
    recorded = active_root_record(session)
    # A root recorded without its private key here has been taken offline (or rolled over): never make another.
    if recorded is None and not root_path.exists():
        _write_private(root_path, generate_signing_key(ROOT_ALG), settings)
        created.append("root key")
    if root_path.exists():
        root = load_root(settings)  # a wrong passphrase stops here, before anything is changed
        if recorded is None:
            recorded = _record(root.public, ROLE_ROOT, now)
            session.add(recorded)
    public_path = settings.keys_dir / ROOT_PUBLIC_FILE
    if recorded is not None and (
        not public_path.exists() or public_path.read_text() != recorded.public_key_pem
    ):
        # A database restored or copied without its keys/ (the root offline) still gets its public root here.
        public_path.parent.mkdir(parents=True, exist_ok=True)
        public_path.write_text(recorded.public_key_pem)
    if active_issuer_record(session) is None:
        rotate(session=session, settings=settings, now=now)
        created.append("issuer key")
    data_keys = datakeys.of(session)
    if data_keys.active_kid() is None:
        data_keys.create()
        created.append("data key")
    # Rows stored before ID numbers were sealed (migration 0008) are sealed now, batch after batch.
    while people.seal_legacy(session):
        pass
    return created


def active_issuer_record(session: Session) -> KeyRecord | None:
    query = select(KeyRecord).where(KeyRecord.role == ROLE_ISSUER, KeyRecord.status == KEY_ACTIVE)
    return session.exec(query).first()


def active_issuer(*, session: Session, settings: Settings) -> Signer:
    """What signs new passes and manifest pages: the active issuer key's file, or its token (``hsm.HsmError``
    when the token cannot be reached: nothing is signed)."""
    record = active_issuer_record(session)
    if record is None:
        raise InputError("no active issuer key: run `checkpass init`", code="KEY_MISSING")
    if record.private_store == STORE_PKCS11:
        return hsm.signer(settings, PublicKey.from_pem(record.public_key_pem.encode()), record.token_label)
    return _read_private(_issuer_file(settings, record.kid), settings)


def rotate(*, session: Session, settings: Settings, now: datetime, in_token: bool | None = None) -> KeyRecord:
    """A new issuer key signs new passes; the old one's passes stay valid until it is retired.

    ``in_token``: the key pair is generated in the configured PKCS#11 token and its private part never leaves
    it; False: a key file; None (the portal's and API's rotation): where the active key is, so a bureau that moved
    its issuer keys into an HSM never gets a file key back from a button. The key is made before anything in the
    database changes, so a token that cannot be used (module, token, PIN) leaves the active key as it was."""
    if in_token is None:
        active = active_issuer_record(session)
        in_token = active is not None and active.private_store == STORE_PKCS11
    token_label = None
    if in_token:
        public, token_label = hsm.generate(settings, settings.issuer_alg)
    else:
        key = generate_signing_key(settings.issuer_alg)  # keys made earlier keep theirs: the alg is the key's
        _write_private(_issuer_file(settings, key.kid.hex()), key, settings)
        public = key.public
    for old in session.exec(
        select(KeyRecord).where(KeyRecord.role == ROLE_ISSUER, KeyRecord.status == KEY_ACTIVE)
    ):
        old.status = KEY_PREVIOUS
        session.add(old)
    record = _record(public, ROLE_ISSUER, now)
    record.private_store = STORE_PKCS11 if in_token else STORE_FILE
    record.token_label = token_label
    session.add(record)
    session.flush()
    return record


def retire(*, session: Session, kid: str, now: datetime) -> KeyRecord:
    record = session.get(KeyRecord, kid)
    if record is None or record.role != ROLE_ISSUER:
        raise InputError(f"no issuer key {kid!r}", code="KEY_NOT_FOUND")
    if record.status == KEY_ACTIVE:
        raise InputError("the active key cannot be retired: rotate first", code="KEY_ACTIVE")
    record.status = KEY_RETIRED
    record.valid_until = record.valid_until or now
    session.add(record)
    return record


def list_keys(session: Session) -> list[KeyRecord]:
    return list(session.exec(select(KeyRecord).order_by(col(KeyRecord.role), col(KeyRecord.created_at))))


def bundle_issuers(session: Session) -> tuple[IssuerKey, ...]:
    records = session.exec(select(KeyRecord).where(KeyRecord.role == ROLE_ISSUER).order_by(KeyRecord.kid))
    return tuple(
        IssuerKey(PublicKey.from_pem(r.public_key_pem.encode()), r.status, r.valid_from, r.valid_until)
        for r in records
    )


def retirable_issuer(session: Session, kid: str) -> KeyRecord:
    """The previous issuer key ``kid`` as typed by an administrator, or the HTTP error saying why it cannot go."""
    kid = kid.strip().lower()
    is_kid = len(kid) == 16 and all(ch in "0123456789abcdef" for ch in kid)
    record = session.get(KeyRecord, kid) if is_kid else None
    if record is None or record.role != ROLE_ISSUER:
        raise NotFound("no such issuer key", code="KEY_NOT_FOUND")
    if record.status == KEY_ACTIVE:
        raise Conflict("the active key cannot be retired: rotate first", code="KEY_ACTIVE")
    if record.status == KEY_RETIRED:
        raise Conflict("this key is already retired", code="KEY_RETIRED")
    return record


def live_passes_by_key(session: Session, now: datetime) -> dict[str, int]:
    """Unrevoked, unexpired passes per signing key: what retiring that key would void."""
    query = (
        select(IssuedPass.kid, func.count())
        .outerjoin(Revocation, col(Revocation.pass_id) == IssuedPass.pass_id)
        .where(col(Revocation.pass_id).is_(None), col(IssuedPass.valid_until) > now)
        .group_by(IssuedPass.kid)
    )
    return {kid: int(count) for kid, count in session.exec(query)}


@dataclass(frozen=True)
class DataKeyRotation:
    kid: str  # the new active data key
    retired: list[str]  # the data keys deleted once nothing depended on them
    resealed: int  # rows re-sealed and re-hashed


def rotate_data_key(*, session: Session, batch: int = 500) -> DataKeyRotation:
    """A new data key seals and hashes from now on; every value sealed or hashed by an older one is re-sealed and
    re-hashed, committed batch by batch (an interrupted rotation loses nothing: run it again); then the older keys'
    files are deleted. Until then they stay, so every value opens at every moment of the rotation."""
    keys = datakeys.of(session)
    while people.seal_legacy(session, batch=batch):
        session.commit()
    kid = keys.create()
    resealed = 0
    while done := people.reseal(session, batch=batch):
        resealed += done
        session.commit()
    resealed += notices_sealed.reseal(session)  # webhook secrets, unsent reset links (issue 13)
    session.commit()
    retired = [
        old
        for old in keys.kids()
        if old != kid and people.unsealed_left(session, old) == 0 and notices_sealed.left(session, old) == 0
    ]
    for old in retired:
        keys.retire(old)
    return DataKeyRotation(kid, retired, resealed)
