"""The signed trust bundle: a new version whenever its content changes or the newest is half-way to expiry.

``current`` (the CLI's) and ``refresh`` work inside the caller's transaction, so a key rotation or a policy change
and the bundle version that announces it are committed together; ``publish`` is the use case of its own
(serving the bundle), and ``delta`` compares two stored versions for the compact revocation delta.

Building the content reads every revocation (about 0.2 s at 100,000), so ``publish`` first compares a cheap
summary of the inputs (revocation count and newest time, policy, issuers, directory) with the one its process saw
when it last served the newest version, and skips the build when nothing changed. Revocations are only ever added,
so an unchanged count and newest time mean an unchanged list.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import cbor2
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from passcore import trust, wire
from passcore.keys import SigningKey
from server.bundles import signing
from server.bundles.models import BundleVersion
from server.config import Settings
from server.enterprises import service as enterprises
from server.errors import BadRequest, Conflict
from server.keyring import service as keyring
from server.passes import service as passes
from server.policy import service as policy_service

__all__ = ["Delta", "current", "delta", "etag", "latest", "publish", "refresh"]

# Everything in the payload except these is content: a change in any of it makes a new version.
_VOLATILE = ("version", "iat", "exp")
# What a revocation delta cannot carry: when any of it changed, the checkpoint needs the full bundle.
_NOT_IN_DELTA = ("format", "issuers", "policy", "enterprises")


@dataclass(frozen=True)
class Delta:
    from_version: int
    to_version: int
    revoked: list[str]  # pass ids revoked in to_version that from_version did not list
    full_required: bool


def latest(session: Session) -> BundleVersion | None:
    return session.exec(select(BundleVersion).order_by(col(BundleVersion.version).desc())).first()


def etag(row: BundleVersion) -> str:
    """The HTTP entity tag of a signed version: changes whenever the bytes served change."""
    return f'"{row.version}-{row.digest[:16]}"'


def _current(
    session: Session,
    signer: Callable[[], SigningKey | trust.BundleSigner],
    validity: timedelta,
    now: datetime,
    identity: str | None = None,
) -> BundleVersion:
    now = now.replace(microsecond=0)
    newest = latest(session)
    policy = policy_service.current(session)
    bundle = trust.TrustBundle(
        version=(newest.version + 1) if newest else 1,
        issued_at=now,
        expires_at=now + validity,
        issuers=keyring.bundle_issuers(session),
        revoked=frozenset(passes.revoked_ids(session)),
        policy=policy,
        enterprises={e.uscc: e for e in enterprises.directory(session)},
    )
    content = bundle.to_payload()
    for volatile in _VOLATILE:
        del content[volatile]
    if identity is not None:  # a new signing key or a root rollover: checkpoints need the statements now
        content["signer"] = identity
    digest = hashlib.sha256(cbor2.dumps(content, canonical=True)).hexdigest()
    if newest is not None and newest.digest == digest and now < newest.issued_at + validity / 2:
        return newest
    # The signing key is read (and decrypted) only when there is something to sign.
    row = BundleVersion(
        version=bundle.version,
        issued_at=bundle.issued_at,
        expires_at=bundle.expires_at,
        digest=digest,
        policy_version=policy.version,
        signed=trust.sign_bundle(bundle, signer()),
    )
    session.add(row)
    session.flush()
    return row


def current(
    *, session: Session, root: SigningKey | trust.BundleSigner, validity: timedelta, now: datetime
) -> BundleVersion:
    """The bundle in force, signed with ``root`` if a new version is due (the root key itself, or a signer)."""
    return _current(session, lambda: root, validity, now)


def refresh(*, session: Session, settings: Settings, now: datetime) -> BundleVersion:
    """The bundle in force, signed anew if needed, inside the caller's transaction (not committed)."""
    validity = timedelta(days=settings.bundle_validity_days)
    for _attempt in range(3):
        try:
            # Two workers may sign the same next version at once; the loser's savepoint rolls back and it
            # looks again, finding the winner's version (or signing the one after it with its own change).
            with session.begin_nested():
                choice = signing.choose(session=session, settings=settings, now=now, validity=validity)
                return _current(session, partial(choice.load, settings), validity, now, choice.identity)
        except IntegrityError:
            continue
    raise Conflict("the trust bundle is being published by another request; try again", code="BUNDLE_BUSY")


# database URL -> (version, digest, inputs summary) of the newest version this process built or confirmed: only
# the newest can be served without a rebuild, so one entry per database is all there is to keep.
_confirmed: dict[str, tuple[int, str, str]] = {}
_confirmed_lock = threading.Lock()


def _inputs_summary(session: Session, settings: Settings, now: datetime) -> str:
    count, newest = passes.revocations_mark(session)
    issuers = [(k.kid.hex(), k.status, k.valid_from, k.valid_until) for k in keyring.bundle_issuers(session)]
    validity = timedelta(days=settings.bundle_validity_days)
    signer = signing.choose(session=session, settings=settings, now=now, validity=validity).identity
    parts = (
        count,
        newest,
        policy_service.current(session).version,
        issuers,
        enterprises.directory(session),
        signer,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def publish(*, session: Session, settings: Settings, now: datetime) -> BundleVersion:
    """The signed bundle to serve, committed (a version made here must exist before anyone names it)."""
    # Taken before the build: a revocation committed during it makes the next request build again (never stale).
    summary = _inputs_summary(session, settings, now)
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    newest = latest(session)
    half = timedelta(days=settings.bundle_validity_days) / 2
    if newest is not None and now.replace(microsecond=0) < newest.issued_at + half:
        with _confirmed_lock:
            if _confirmed.get(url) == (newest.version, newest.digest, summary):
                return newest
    for _attempt in range(2):
        try:
            row = refresh(session=session, settings=settings, now=now)
            session.commit()
            with _confirmed_lock:
                _confirmed[url] = (row.version, row.digest, summary)
            return row
        except OperationalError:
            # SQLite: a read snapshot taken before another worker committed its version cannot write; a new
            # transaction sees that version. (Nothing else is pending here, so starting over loses nothing.)
            session.rollback()
    raise Conflict("the trust bundle is being published by another request; try again", code="BUNDLE_BUSY")


def _payload(row: BundleVersion) -> dict[str, Any]:
    # Our own stored bytes, signed by us: parsed without verifying again.
    data = cbor2.loads(wire.parse_cose(bytes(row.signed)).payload)
    if not isinstance(data, dict):
        raise ValueError(f"stored bundle version {row.version} is not a map")
    return data


def delta(*, session: Session, settings: Settings, since: int, now: datetime) -> Delta:
    """What changed in the revocation list since version ``since``, computed from the two signed versions
    themselves, so it agrees exactly with what the full bundles say."""
    newest = publish(session=session, settings=settings, now=now)
    if since > newest.version:
        raise BadRequest(
            f"bundle version {since} does not exist yet (the newest is {newest.version})",
            code="BUNDLE_VERSION_UNKNOWN",
            fields={"since": "bundle_version_unknown"},
        )
    if since == newest.version:
        return Delta(since, since, [], False)
    held = session.get(BundleVersion, since)
    if held is None:  # never kept (or purged): nothing to compare with
        return Delta(since, newest.version, [], True)
    old, new = _payload(held), _payload(newest)
    before, after = set(old["revoked"]), set(new["revoked"])
    full = any(old.get(key) != new.get(key) for key in _NOT_IN_DELTA) or not before <= after
    return Delta(since, newest.version, sorted(r.hex() for r in after - before), full)
