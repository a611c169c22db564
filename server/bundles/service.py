"""The signed trust bundle: a new version whenever its content changes or the newest is half-way to expiry."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import cbor2
from sqlmodel import Session, select

from passcore import trust
from passcore.keys import SigningKey
from server.bundles.models import BundleVersion
from server.enterprises import service as enterprises
from server.keyring import service as keyring
from server.passes import service as passes
from server.policy import service as policy_service

__all__ = ["current", "latest"]


def latest(session: Session) -> BundleVersion | None:
    return session.exec(select(BundleVersion).order_by(BundleVersion.version.desc())).first()  # type: ignore[attr-defined]


def current(*, session: Session, root: SigningKey, validity: timedelta, now: datetime) -> BundleVersion:
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
    for volatile in ("version", "iat", "exp"):
        del content[volatile]
    digest = hashlib.sha256(cbor2.dumps(content, canonical=True)).hexdigest()
    if newest is not None and newest.digest == digest and now < newest.issued_at + validity / 2:
        return newest
    row = BundleVersion(
        version=bundle.version,
        issued_at=bundle.issued_at,
        expires_at=bundle.expires_at,
        digest=digest,
        policy_version=policy.version,
        signed=trust.sign_bundle(bundle, root),
    )
    session.add(row)
    session.flush()
    return row
