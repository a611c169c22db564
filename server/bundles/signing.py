"""Who signs the trust bundle (issue 15): a bundle-signing key the root certified, so the root can stay offline.

The root is needed only for a ceremony (docs/deploy.md, "Key ceremony"): to certify the next signing key, and to
cross-sign its successor at a rollover. Both statements are stored (``BundleStatement``) and travel with every
bundle; the signing key's private part is a 0600 file under keys/ like the issuer keys.

Which key signs a bundle made at ``now`` with ``validity``: the newest certificate by the current root whose window
holds the whole bundle (a bundle never outlives its key's certificate) and whose private key is here; else the
root itself when its private key is here (an online root, as before issue 15); else nothing, and the error says
which ceremony step is due. Old roots' cross-signatures go with every bundle, oldest first, so a checkpoint that
pins any of them follows to the current root through an ordinary sync.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from passcore import keycerts, trust
from passcore.errors import CheckpassError, InputError
from passcore.keys import PublicKey, SigningKey, generate_signing_key
from passcore.trust import KEY_ACTIVE, KEY_PREVIOUS, ROOT_ALG
from server.bundles.models import BundleStatement
from server.config import Settings
from server.errors import Conflict, Unavailable
from server.keyring import service as keyring
from server.keyring.models import ROLE_ROOT, KeyRecord

__all__ = [
    "DEFAULT_SIGNER_DAYS",
    "Choice",
    "certify_online",
    "choose",
    "generate_root",
    "install_certificate",
    "install_rollover",
    "new_signing_key",
    "rollovers",
    "signing_keys",
]

# Short enough that a stolen signing key soon stops mattering, long enough for a monthly ceremony.
DEFAULT_SIGNER_DAYS = 30


def _signer_file(settings: Settings, kid: str) -> Path:
    return settings.keys_dir / f"bundle-signer-{kid}.key.pem"


def _root_file(settings: Settings) -> Path:
    return settings.keys_dir / keyring.ROOT_FILE


def rollovers(session: Session) -> list[BundleStatement]:
    query = select(BundleStatement).where(BundleStatement.purpose == keycerts.PURPOSE_ROOT)
    return list(session.exec(query.order_by(col(BundleStatement.created_at))))


def signing_keys(session: Session) -> list[BundleStatement]:
    query = select(BundleStatement).where(BundleStatement.purpose == keycerts.PURPOSE_BUNDLES)
    return list(session.exec(query.order_by(col(BundleStatement.created_at))))


@dataclass(frozen=True)
class Choice:
    """The signer chosen for a bundle, without its private key read yet (``load`` reads it)."""

    root: PublicKey
    certificate: BundleStatement | None  # None: the root signs itself
    rollovers: tuple[bytes, ...]

    @property
    def identity(self) -> str | None:
        """What, besides the content, makes a bundle differ: a new signing key or a rollover is a new version.
        None for the root signing alone, as before issue 15 (so an upgrade alone signs no new version)."""
        if self.certificate is None and not self.rollovers:
            return None
        signer = self.certificate.kid if self.certificate else f"root {self.root.kid.hex()}"
        return hashlib.sha256(repr((signer, self.rollovers)).encode()).hexdigest()

    def load(self, settings: Settings) -> trust.BundleSigner:
        if self.certificate is not None:
            key = keyring.read_private_key(_signer_file(settings, self.certificate.kid), settings)
            return trust.BundleSigner(key, bytes(self.certificate.statement), self.rollovers)
        root_path = _root_file(settings)
        root = keyring.load_root(settings) if root_path.exists() else None
        if root is None or root.kid != self.root.kid:
            # The server cannot do its part (not the request's fault) until the operator acts: a 503 that says
            # which ceremony is due (a checkpoint retries its sync later, as for any 503).
            raise Unavailable(
                f"no bundle-signing key certified by root {self.root.kid.hex()} is valid for a whole bundle, and "
                "the root key is offline: certify one (`checkpass root new-signer`, `checkpass root certify` on "
                "the offline machine, `checkpass root install-cert`)",
                code="BUNDLE_SIGNER_MISSING",
            )
        return trust.BundleSigner(root, None, self.rollovers)


def choose(*, session: Session, settings: Settings, now: datetime, validity: timedelta) -> Choice:
    root = keyring.root_public(session)
    chain = tuple(bytes(row.statement) for row in rollovers(session))[-trust.MAX_ROLLOVERS :]
    start = now.replace(microsecond=0)
    usable = [
        row
        for row in signing_keys(session)
        if row.signer_kid == root.kid.hex()
        and row.valid_from <= start
        and row.valid_until is not None
        and start + validity <= row.valid_until
        and _signer_file(settings, row.kid).exists()
    ]
    newest = max(usable, key=lambda row: (row.valid_until or start, row.created_at), default=None)
    return Choice(root, newest, chain)


# --- the ceremony ------------------------------------------------------------------------------------------


def new_signing_key(*, settings: Settings, alg: str = "EdDSA") -> PublicKey:
    """A bundle-signing key made here (its private part never leaves keys/); the root certifies its public part."""
    key = generate_signing_key(alg)
    keyring.write_private_key(_signer_file(settings, key.kid.hex()), key, settings)
    return key.public


def install_certificate(
    *, session: Session, settings: Settings, certificate: bytes, now: datetime
) -> BundleStatement:
    """Store the root's certificate of a signing key made here; refused unless the current root signed it, it names
    a key whose private part is in keys/, and it is still valid. Nothing changes when refused."""
    root = keyring.root_public(session)
    statement = keycerts.verify_statement(certificate, root=root, purpose=keycerts.PURPOSE_BUNDLES)
    _check_installable(settings, statement, now)
    kid = statement.subject.kid.hex()
    existing = session.get(BundleStatement, kid)
    if existing is not None:
        if bytes(existing.statement) == certificate:
            return existing  # installed twice: nothing to do
        raise Conflict(f"signing key {kid} already has a certificate", code="KEY_EXISTS")
    return _store(session, statement, certificate, now)


def _check_installable(settings: Settings, statement: keycerts.KeyStatement, now: datetime) -> None:
    kid = statement.subject.kid.hex()
    if not _signer_file(settings, kid).exists():
        raise InputError(
            f"the certificate names signing key {kid}, whose private key is not in {settings.keys_dir}: certify "
            "the public key that `checkpass root new-signer` wrote on this server",
            code="KEY_MISSING",
        )
    if statement.valid_until is None or statement.valid_until <= now:
        raise InputError(f"the certificate expired at {_when(statement.valid_until)}", code="KEY_EXPIRED")


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "-"


def _store(session: Session, statement: keycerts.KeyStatement, data: bytes, now: datetime) -> BundleStatement:
    row = BundleStatement(
        kid=statement.subject.kid.hex(),
        purpose=statement.purpose,
        signer_kid=statement.signer_kid.hex(),
        alg=statement.subject.alg,
        public_key_pem=statement.subject.pem,
        valid_from=statement.valid_from,
        valid_until=statement.valid_until,
        statement=data,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def certify_online(
    *,
    session: Session,
    settings: Settings,
    now: datetime,
    days: int = DEFAULT_SIGNER_DAYS,
    alg: str = "EdDSA",
) -> BundleStatement:
    """The three ceremony steps at once, for a root kept on this server (a small bureau, the demo)."""
    root_path = _root_file(settings)
    if not root_path.exists():
        raise InputError(
            f"the root key is not in {settings.keys_dir} (kept offline?): certify on the offline machine with "
            "`checkpass root certify`",
            code="KEY_MISSING",
        )
    root = keyring.load_root(settings)
    if root.kid != keyring.root_public(session).kid:
        raise InputError(
            f"{root_path} is not the current root ({keyring.root_public(session).kid.hex()})",
            code="KEY_INVALID",
        )
    public = new_signing_key(settings=settings, alg=alg)
    start = now.replace(microsecond=0)
    data = keycerts.certify_signer(
        root, public, issued_at=start, valid_from=start, valid_until=start + timedelta(days=days)
    )
    return install_certificate(session=session, settings=settings, certificate=data, now=now)


def generate_root(out_dir: Path, *, passphrase: bytes | None) -> SigningKey:
    """A new root key pair in ``out_dir`` (on the offline machine): root.key.pem (0600, encrypted with the
    passphrase when one is set) and root.pub.pem. Never overwrites."""
    key = generate_signing_key(ROOT_ALG)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private, public = out_dir / keyring.ROOT_FILE, out_dir / keyring.ROOT_PUBLIC_FILE
    if private.exists() or public.exists():
        raise InputError(f"{out_dir} already holds a root key: choose an empty directory", code="KEY_EXISTS")
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.to_pem(passphrase))
    public.write_text(key.public.pem)
    return key


def install_rollover(
    *,
    session: Session,
    settings: Settings,
    cross_signature: bytes,
    now: datetime,
    new_root_key: SigningKey | None = None,
    certificate: bytes | None = None,
) -> tuple[KeyRecord, BundleStatement]:
    """Make the cross-signed root current: every bundle from now on carries the cross-signature (and those before
    it) and is signed under the new root. The old root's record becomes ``previous`` (replay still verifies the
    bundles it signed). Bundles need a signer under the new root at once: ``certificate``, a signing key the new
    root certified, or ``new_root_key``, the new root's private key when the root is kept online here (a signing
    key is then certified with it). Everything is checked before anything changes: refused, nothing changed."""
    old = keyring.root_public(session)
    try:
        statement = keycerts.verify_statement(cross_signature, root=old, purpose=keycerts.PURPOSE_ROOT)
    except CheckpassError as err:
        raise InputError(
            f"not a cross-signature by the current root {old.kid.hex()}: {err.message}",
            code="ROOT_ROLLOVER_INVALID",
        ) from err
    new = statement.subject
    if new_root_key is not None and new_root_key.kid != new.kid:
        raise InputError(
            "the new root's private key is not the key the cross-signature names", code="KEY_INVALID"
        )
    if session.get(KeyRecord, new.kid.hex()) is not None:
        raise Conflict(f"root {new.kid.hex()} is known already", code="KEY_EXISTS")
    if certificate is not None:
        certified = keycerts.verify_statement(certificate, root=new, purpose=keycerts.PURPOSE_BUNDLES)
        _check_installable(settings, certified, now)
    elif new_root_key is None:
        raise InputError(
            "a rollover needs a bundle-signing key certified by the new root (a certificate), or the new root's "
            "private key to certify one here; nothing was changed",
            code="BUNDLE_SIGNER_MISSING",
        )
    for record in session.exec(
        select(KeyRecord).where(KeyRecord.role == ROLE_ROOT, KeyRecord.status == KEY_ACTIVE)
    ):
        record.status, record.valid_until = KEY_PREVIOUS, now
        session.add(record)
    record = KeyRecord(
        kid=new.kid.hex(),
        role=ROLE_ROOT,
        alg=new.alg,
        public_key_pem=new.pem,
        status=KEY_ACTIVE,
        valid_from=now,
        created_at=now,
    )
    session.add(record)
    _store(session, statement, cross_signature, now)
    if certificate is not None:
        signer = install_certificate(session=session, settings=settings, certificate=certificate, now=now)
    session.flush()  # a database refusal comes before any file moves
    root_path = _root_file(settings)
    if root_path.exists():
        # The old root's key (online until now) is kept beside, never deleted here, and never signs again.
        os.replace(root_path, settings.keys_dir / f"root-{old.kid.hex()}.key.pem")
    if new_root_key is not None:
        keyring.write_private_key(root_path, new_root_key, settings)
    (settings.keys_dir / keyring.ROOT_PUBLIC_FILE).write_text(new.pem)
    if certificate is None:
        signer = certify_online(session=session, settings=settings, now=now)
    return record, signer
