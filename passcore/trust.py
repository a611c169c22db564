"""The trust bundle and offline pass verification.

The bundle is what a checkpoint needs to decide alone: issuer public keys with validity and status, revoked pass
ids, the release policy and the enterprise directory, with a monotonic version, an issue time and an expiry.
The bureau root key signs it as a COSE_Sign1 over a CBOR map; the checkpoint pins the root's public key.
Issuer keys may be EdDSA or ES256 (each entry carries its ``alg``); the root key is EdDSA (``ROOT_ALG``).

Since issue 15 the root may stay offline: it certifies a short-lived bundle-signing key (``keycerts``) and the
bundle carries that certificate, and any root cross-signatures, in its unprotected header. ``open_bundle`` follows
them from the pinned root: cross-signatures first (a rollover), then certificate, then bundle. A bundle signed by
the root itself still loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import cbor2
from cwt import COSE

from passcore import ids, keycerts, wire
from passcore.claims import PassClaims
from passcore.errors import (
    BundleExpired,
    BundleMalformed,
    BundleRollback,
    BundleSignatureInvalid,
    BundleUnknownRoot,
    CheckpassError,
    InputError,
    PassError,
    PassExpired,
    PassNotYetValid,
    PassRevoked,
    PassUnknownKey,
)
from passcore.keys import ALG_IDS, PublicKey, SigningKey
from passcore.policy import Policy

__all__ = [
    "BUNDLE_FORMAT",
    "HEADER_ROOT_ROLLOVERS",
    "HEADER_SIGNER_CERT",
    "KEY_ACTIVE",
    "KEY_PREVIOUS",
    "KEY_RETIRED",
    "MAX_ROLLOVERS",
    "ROOT_ALG",
    "BundleSigner",
    "Enterprise",
    "IssuerKey",
    "TrustBundle",
    "Verification",
    "VerifiedBundle",
    "at_instant",
    "authenticate",
    "load_bundle",
    "open_bundle",
    "sign_bundle",
    "verify_pass",
]

BUNDLE_FORMAT = 1
# active: signs new passes. previous: replaced by a newer key; its passes stay valid. retired: its passes are void.
KEY_ACTIVE, KEY_PREVIOUS, KEY_RETIRED = "active", "previous", "retired"
KEY_STATUSES = (KEY_ACTIVE, KEY_PREVIOUS, KEY_RETIRED)
MAX_BUNDLE_BYTES = 8 * 1024 * 1024
# Every checkpoint in the field accepts only EdDSA bundles, so a root key of another algorithm would sign bundles
# no one can load; ES256 is for issuer keys, which the bundle announces with their algorithm.
ROOT_ALG = "EdDSA"
# Unprotected header labels of a bundle (private use, below -65536, RFC 9052 §3.1). Unprotected because each
# statement is signed on its own; a bundle without them is signed by the pinned root itself.
HEADER_SIGNER_CERT = -65601  # bstr: the root's certificate of the key that signed this bundle
HEADER_ROOT_ROLLOVERS = -65602  # array of bstr: root cross-signatures, oldest first
# A bureau that changes its root once a year carries a few years of history; more is not a bundle of ours.
MAX_ROLLOVERS = 8
_COSE = COSE.new()


@dataclass(frozen=True)
class IssuerKey:
    public: PublicKey
    status: str
    valid_from: datetime
    valid_until: datetime | None = None

    @property
    def kid(self) -> bytes:
        return self.public.kid

    def usable_at(self, moment: datetime) -> bool:
        """Whether a pass issued at ``moment`` may carry this key's signature."""
        if self.status == KEY_RETIRED or moment < self.valid_from:
            return False
        return self.valid_until is None or moment < self.valid_until


@dataclass(frozen=True)
class Enterprise:
    """A verified enterprise: it can receive escorted vehicles. The bundle is public, so it carries no contact
    person or phone (a checkpoint learns those from its escort requests)."""

    uscc: str
    name: str


@dataclass(frozen=True)
class TrustBundle:
    version: int
    issued_at: datetime
    expires_at: datetime
    issuers: tuple[IssuerKey, ...]
    revoked: frozenset[str]
    policy: Policy
    enterprises: Mapping[str, Enterprise] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "enterprises", MappingProxyType(dict(self.enterprises)))

    def issuer(self, kid: bytes) -> IssuerKey | None:
        return next((key for key in self.issuers if key.kid == kid), None)

    def is_stale(self, now: datetime) -> bool:
        return (now - self.issued_at).total_seconds() > self.policy.bundle_stale_hours * 3600

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": BUNDLE_FORMAT,
            "version": self.version,
            "iat": int(self.issued_at.timestamp()),
            "exp": int(self.expires_at.timestamp()),
            "issuers": [
                {
                    "kid": key.kid,
                    "alg": key.public.alg,
                    "spki": key.public.spki_der,
                    "status": key.status,
                    "nbf": int(key.valid_from.timestamp()),
                    "exp": None if key.valid_until is None else int(key.valid_until.timestamp()),
                }
                for key in self.issuers
            ],
            "revoked": [bytes.fromhex(pass_id) for pass_id in sorted(self.revoked)],
            "policy": self.policy.to_dict(),
            # Four texts, the last two always empty: checkpoints before the contact was dropped unpack four.
            "enterprises": [[e.uscc, e.name, "", ""] for e in self.enterprises.values()],
        }


@dataclass(frozen=True)
class BundleSigner:
    """What signs bundles: a key certified by the root (``certificate``), or the root itself (no certificate),
    and the root cross-signatures that every bundle carries so that checkpoints pinning an older root follow."""

    key: SigningKey
    certificate: bytes | None = None
    rollovers: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle that verified, with what vouched for it: ``root`` is the root it chains to — the pinned one, or
    the newest root the cross-signatures led to from it (``rolled_over`` lists those, oldest first)."""

    bundle: TrustBundle
    root: PublicKey
    signer_kid: bytes
    rolled_over: tuple[PublicKey, ...] = ()


def sign_bundle(bundle: TrustBundle, signer: SigningKey | BundleSigner) -> bytes:
    """Sign with a certified bundle-signing key (a ``BundleSigner``) or with the root key itself."""
    if isinstance(signer, SigningKey):
        signer = BundleSigner(signer)
    key = signer.key
    if signer.certificate is None and key.alg != ROOT_ALG:
        raise InputError(f"the root key must be {ROOT_ALG}, not {key.alg}", code="KEY_INVALID")
    if signer.certificate is not None:
        certified = keycerts.open_statement(signer.certificate)
        if certified.purpose != keycerts.PURPOSE_BUNDLES or certified.subject.kid != key.kid:
            raise InputError("the certificate does not name this bundle-signing key", code="KEY_INVALID")
        if not certified.covers(bundle.issued_at, bundle.expires_at):
            raise InputError(
                "the bundle would outlive its signing key's certificate: certify a new bundle-signing key",
                code="KEY_EXPIRED",
            )
    if len(signer.rollovers) > MAX_ROLLOVERS:
        raise InputError(
            f"at most {MAX_ROLLOVERS} root cross-signatures travel with a bundle", code="KEY_INVALID"
        )
    unprotected: dict[int, Any] = {}
    if signer.certificate is not None:
        unprotected[HEADER_SIGNER_CERT] = signer.certificate
    if signer.rollovers:
        unprotected[HEADER_ROOT_ROLLOVERS] = list(signer.rollovers)
    payload = cbor2.dumps(bundle.to_payload())
    return bytes(
        _COSE.encode(
            payload, key.cose_key, protected={1: ALG_IDS[key.alg], 4: key.kid}, unprotected=unprotected
        )
    )


def load_bundle(
    data: bytes, *, root: PublicKey, now: datetime | None, held_version: int | None = None
) -> TrustBundle:
    """Verify and parse a signed bundle; refuse a wrong root, a bad signature, a rollback or an expired bundle.

    ``now`` None skips the expiry check only (to learn the version of a bundle that has since expired).
    """
    return open_bundle(data, root=root, now=now, held_version=held_version).bundle


def _follow_rollovers(raw: Any, pinned: PublicKey) -> tuple[PublicKey, tuple[PublicKey, ...]]:
    """From the pinned root along the cross-signatures it (and each successor) made: the newest root reached.

    Statements another root made are passed over (a checkpoint already on the newer root needs none of them);
    one that names the current root but does not verify is a forgery and refuses the whole bundle."""
    if raw is None:
        return pinned, ()
    if not isinstance(raw, list) or len(raw) > MAX_ROLLOVERS:
        raise BundleMalformed(f"the root cross-signatures are an array of at most {MAX_ROLLOVERS}")
    pending = [(keycerts.signer_kid(item), item) for item in raw]
    current, seen = pinned, {pinned.kid}
    passed: list[PublicKey] = []
    while True:
        step = next(((kid, item) for kid, item in pending if kid == current.kid), None)
        if step is None:
            return current, tuple(passed)
        pending.remove(step)
        successor = keycerts.verify_statement(step[1], root=current, purpose=keycerts.PURPOSE_ROOT).subject
        if successor.kid in seen:
            raise BundleMalformed("the root cross-signatures go round in a circle")
        seen.add(successor.kid)
        passed.append(successor)
        current = successor


def open_bundle(
    data: bytes, *, root: PublicKey, now: datetime | None, held_version: int | None = None
) -> VerifiedBundle:
    """``load_bundle`` that also says which root the bundle chains to (a checkpoint pins it after a rollover)
    and which key signed it. The order of the checks is docs/pass-format.md's, section 4."""
    if not isinstance(data, bytes) or len(data) > MAX_BUNDLE_BYTES:
        raise BundleMalformed(f"a trust bundle is at most {MAX_BUNDLE_BYTES} bytes")
    try:
        cose = wire.parse_cose(data)
    except PassError as err:
        raise BundleMalformed(f"not a trust bundle: {err.message}") from err
    if cose.protected.get(keycerts.HEADER_CONTENT_TYPE) is not None:
        raise BundleMalformed("not a trust bundle: a key statement (or another content type)")
    newest, passed = _follow_rollovers(cose.unprotected.get(HEADER_ROOT_ROLLOVERS), root)
    certificate = None
    if cose.kid == newest.kid:
        key, algorithms = newest, frozenset({ROOT_ALG})
    elif (raw_cert := cose.unprotected.get(HEADER_SIGNER_CERT)) is not None:
        if keycerts.signer_kid(raw_cert) != newest.kid:
            raise BundleUnknownRoot(
                "the trust bundle's signing key is certified by a root key this device does not trust",
                detail="CERTIFICATE_UNKNOWN_ROOT",
            )
        certificate = keycerts.verify_statement(raw_cert, root=newest, purpose=keycerts.PURPOSE_BUNDLES)
        if certificate.subject.kid != cose.kid:
            raise BundleUnknownRoot(
                "the trust bundle is signed by a key its certificate does not name",
                detail="SIGNER_NOT_CERTIFIED",
            )
        key, algorithms = certificate.subject, keycerts.SIGNER_ALGORITHMS
    else:
        raise BundleUnknownRoot("the trust bundle is signed by a root key this device does not trust")
    try:
        wire.verify_signature(cose, key, algorithms=algorithms)
    except PassError as err:
        raise BundleSignatureInvalid("the trust bundle's signature does not verify") from err
    try:
        bundle = _parse(cose.payload)
    except (CheckpassError, KeyError, TypeError, ValueError, OverflowError) as err:
        raise BundleMalformed(f"the trust bundle's contents are malformed: {err}") from err
    if certificate is not None and not certificate.covers(bundle.issued_at, bundle.expires_at):
        # A stolen signing key could sign bundles for any dates: the certificate's window bounds them.
        raise BundleSignatureInvalid(
            "the trust bundle was signed outside its signing key's certified validity",
            detail="SIGNER_OUTSIDE_VALIDITY",
        )
    if held_version is not None and bundle.version < held_version:
        raise BundleRollback(
            f"bundle version {bundle.version} is older than the version held ({held_version})"
        )
    if now is not None and now >= bundle.expires_at:
        raise BundleExpired(f"the trust bundle expired at {bundle.expires_at.isoformat()}")
    return VerifiedBundle(bundle, newest, key.kid, passed)


def _time(value: Any) -> datetime:
    if type(value) is not int:
        raise TypeError("times must be integers")
    return datetime.fromtimestamp(value, UTC)


def _parse(payload: bytes) -> TrustBundle:
    # Revocation lists are long and flat; the depth bound still applies.
    data = wire.loads_bounded(payload, "the bundle payload")
    if not isinstance(data, dict) or data.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"unknown bundle format (expected {BUNDLE_FORMAT})")
    issuers = []
    for item in data["issuers"]:
        public = PublicKey.from_der(item["spki"], item["alg"])
        if public.kid != item["kid"] or item["status"] not in KEY_STATUSES:
            raise ValueError("issuer key entry is inconsistent")
        until = item["exp"]
        issuers.append(
            IssuerKey(public, item["status"], _time(item["nbf"]), None if until is None else _time(until))
        )
    revoked = data["revoked"]
    if not isinstance(revoked, list) or not all(isinstance(r, bytes) and len(r) == 12 for r in revoked):
        raise ValueError("revoked must be a list of 12-byte pass ids")
    enterprises = {}
    for entry in data["enterprises"]:
        # [uscc, name, ...]: what follows the name (older bundles' contact and phone) is read past, not kept.
        if not isinstance(entry, list) or len(entry) < 2 or not all(isinstance(x, str) for x in entry):
            raise TypeError("enterprise entries are lists of text: credit code, name, …")
        uscc, name = entry[0], entry[1]
        enterprises[uscc] = Enterprise(ids.validate_uscc(uscc), name)
    version = data["version"]
    if type(version) is not int or version < 1:
        raise ValueError("version must be a positive integer")
    return TrustBundle(
        version=version,
        issued_at=_time(data["iat"]),
        expires_at=_time(data["exp"]),
        issuers=tuple(issuers),
        revoked=frozenset(r.hex() for r in revoked),
        policy=Policy.from_dict(data["policy"]),
        enterprises=enterprises,
    )


@dataclass(frozen=True)
class Verification:
    """The result of checking one QR text at one instant. ``claims`` is set once the signature has verified.

    ``unknown_claims`` names the claims the pass carries that this version does not know (``claims.Decoded``):
    they were skipped, and they are set only with ``claims``."""

    valid: bool
    code: str  # PASS_VALID or the first failing reason code
    message: str
    claims: PassClaims | None = None
    kid: bytes | None = None
    detail: str | None = None
    unknown_claims: tuple[str, ...] = ()

    @property
    def pass_id(self) -> str | None:
        return self.claims.pass_id if self.claims else None

    @property
    def misuse(self) -> bool:
        """Forged, tampered, unknown key or revoked: the pass is refused, not merely out of date."""
        return not self.valid and self.code not in (PassExpired.code, PassNotYetValid.code)


def verify_pass(text: str, bundle: TrustBundle, *, now: datetime) -> Verification:
    """Verify a QR text offline: structure, key, signature, claims, revocation, validity window."""
    return at_instant(authenticate(text, bundle), now)


def authenticate(text: str, bundle: TrustBundle) -> Verification:
    """Every check of ``verify_pass`` that does not depend on the instant (all but the validity window).

    Its result holds for any instant under the same bundle, so a replay of many sightings of one pass checks
    the signature once; ``at_instant`` completes it."""
    kid = None
    claims = None
    unknown: tuple[str, ...] = ()
    try:
        cose = wire.decode(text)
        kid = cose.kid
        if kid is None:
            raise PassUnknownKey("the pass names no key in its protected header")
        issuer = bundle.issuer(kid)
        if issuer is None or issuer.status == KEY_RETIRED:
            raise PassUnknownKey(f"the pass is signed by an unknown or retired key ({kid.hex()})")
        wire.verify_signature(cose, issuer.public)
        decoded = wire.read_pass(cose)
        claims, unknown = decoded.claims, decoded.unknown_names
        if not issuer.usable_at(claims.issued_at):
            raise PassUnknownKey("the pass was signed outside its key's validity")
        if claims.pass_id in bundle.revoked:
            raise PassRevoked(f"pass {claims.pass_id} has been revoked")
    except PassError as err:
        return Verification(False, err.code, err.message, claims, kid, err.detail, unknown)
    return Verification(True, "PASS_VALID", "the pass is valid", claims, kid, unknown_claims=unknown)


def at_instant(authenticated: Verification, now: datetime) -> Verification:
    """An ``authenticate`` result judged at ``now``: a pass outside its validity window is not valid."""
    claims = authenticated.claims
    if not authenticated.valid or claims is None:
        return authenticated
    error: PassError | None = None
    if now < claims.valid_from:
        error = PassNotYetValid(f"the pass is valid from {claims.valid_from.isoformat()}")
    elif now >= claims.valid_until:
        error = PassExpired(f"the pass expired at {claims.valid_until.isoformat()}")
    if error is None:
        return authenticated
    return replace(authenticated, valid=False, code=error.code, message=error.message, detail=error.detail)
