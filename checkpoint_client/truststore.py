"""The checkpoint's trust: the pinned root public key and the newest trust bundle it accepted.

Both are files under CHECKPOINT_HOME. A bundle is verified against the pinned root every time it is read,
so a file edited on disk is refused like any forged bundle.

Root rollover (issue 15): a bundle may carry the pinned root's cross-signature of its successor. When such a bundle
is accepted, the checkpoint pins the successor (after storing the bundle: a power cut between the two leaves a
bundle that still verifies from the old root), so it follows the bureau's new root through an ordinary sync,
without enrolling again. Only ``accept_bundle`` moves the pin, and only forward along signed statements.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from checkpoint_client.config import Settings
from passcore import trust
from passcore.errors import BundleError, InputError
from passcore.keys import PublicKey
from passcore.policy import Policy

__all__ = [
    "accept_bundle",
    "accept_verified",
    "held_bundle",
    "held_policy",
    "import_bundle",
    "pin_root",
    "pin_root_key",
    "pinned_root",
    "read_bundle_file",
]

MAX_FILE_BYTES = trust.MAX_BUNDLE_BYTES


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{what} {path} is too large to be a trust bundle", code="BUNDLE_MALFORMED")
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read {what} {path}: {err.strerror or err}", code="FILE_UNREADABLE") from err


def _write_atomic(path: Path, data: bytes) -> None:
    # The laptop's state is the officer's account's alone: db/ holds the decisions too (0700, files 0600).
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)  # a power cut leaves the old bundle or the new one, never half of one


def pinned_root(settings: Settings) -> PublicKey:
    if not settings.root_path.exists():
        raise InputError(
            f"no root key pinned in {settings.root_path}: run `checkpoint bundle import FILE --root root.pub.pem` "
            "with the bureau's root public key",
            code="ROOT_NOT_PINNED",
        )
    return PublicKey.from_pem(_read(settings.root_path, "root key"))


def pin_root(settings: Settings, pem_file: Path) -> PublicKey:
    """Pin the bureau's root key; a different key already pinned is never silently replaced."""
    return pin_root_key(settings, PublicKey.from_pem(_read(pem_file, "root key")))


def pin_root_key(settings: Settings, key: PublicKey) -> PublicKey:
    """Pin a root key (from a file, or from the enrolment answer); refuses to replace a different one."""
    if settings.root_path.exists():
        held = pinned_root(settings)
        if held.kid != key.kid:
            raise InputError(
                f"a different root key ({held.kid.hex()}) is already pinned in {settings.root_path}; "
                "remove it deliberately if the bureau really changed its root",
                code="ROOT_MISMATCH",
            )
        return held
    _write_atomic(settings.root_path, key.pem.encode())
    return key


def _held_version(settings: Settings) -> int | None:
    """Version of the held bundle, read without the expiry check (an expired one still marks the version)."""
    if not settings.bundle_path.exists():
        return None
    data = _read(settings.bundle_path, "trust bundle")
    root = pinned_root(settings)
    try:
        bundle = trust.load_bundle(data, root=root, now=None)
    except BundleError:
        return None
    return bundle.version


def held_bundle(settings: Settings, *, now: datetime) -> trust.TrustBundle:
    if not settings.bundle_path.exists():
        raise InputError(
            "no trust bundle on this checkpoint: run `checkpoint bundle import FILE`",
            code="BUNDLE_MISSING",
        )
    return trust.load_bundle(_read(settings.bundle_path, "trust bundle"), root=pinned_root(settings), now=now)


def held_policy(settings: Settings) -> Policy:
    """The policy of the held bundle, expired or not (its retention applies to the decisions stored here even
    when the bundle can no longer be used to decide)."""
    if not settings.bundle_path.exists():
        raise InputError(
            "no trust bundle on this checkpoint: run `checkpoint bundle import FILE`", code="BUNDLE_MISSING"
        )
    data = _read(settings.bundle_path, "trust bundle")
    return trust.load_bundle(data, root=pinned_root(settings), now=None).policy


def read_bundle_file(settings: Settings, path: Path, *, now: datetime) -> trust.TrustBundle:
    """A bundle given on the command line: verified against the pinned root, not stored."""
    return trust.load_bundle(_read(path, "trust bundle"), root=pinned_root(settings), now=now)


def import_bundle(
    settings: Settings, path: Path, *, now: datetime, root_file: Path | None = None
) -> trust.TrustBundle:
    """Verify a bundle (refusing rollbacks) and keep it as the checkpoint's current one."""
    if root_file is not None:
        pin_root(settings, root_file)
    return accept_bundle(settings, _read(path, "trust bundle"), now=now)


def accept_bundle(settings: Settings, data: bytes, *, now: datetime) -> trust.TrustBundle:
    """Bundle bytes from a file or the server: verified against the pinned root, refused when forged, older than
    the held one or expired; kept as the checkpoint's current bundle when accepted."""
    return accept_verified(settings, data, now=now).bundle


def accept_verified(settings: Settings, data: bytes, *, now: datetime) -> trust.VerifiedBundle:
    """``accept_bundle`` saying which root the bundle chains to; a new root it was cross-signed to is pinned."""
    pinned = pinned_root(settings)
    verified = trust.open_bundle(data, root=pinned, now=now, held_version=_held_version(settings))
    _write_atomic(settings.bundle_path, data)
    if verified.root.kid != pinned.kid:
        _write_atomic(settings.root_path, verified.root.pem.encode())
    return verified
