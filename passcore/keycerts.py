"""Key statements: what a root key says about another key, signed, so that the root itself can stay offline.

Two purposes, one shape (docs/pass-format.md, "Bundle signing keys and root rollover"):

- ``bundles``: the root certifies a short-lived **bundle-signing key** (key, algorithm, validity). The server signs
  trust bundles with that key and sends the certificate with each bundle; a checkpoint checks certificate, then
  bundle. The root is needed only to certify the next signing key.
- ``root``: a root **cross-signs its successor**. The statement travels with the bundle, so a checkpoint that
  pins the old root learns, through an ordinary sync, that the new one speaks for the bureau.

A statement is a tagged COSE_Sign1 whose protected header carries the content type ``STATEMENT_TYPE`` beside alg
and kid, so a statement can never be taken for a trust bundle, nor a bundle for a statement; its payload names its
purpose, so a signing-key certificate can never be taken for a cross-signature. Pure: times come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import cbor2
from cwt import COSE

from passcore import wire
from passcore.errors import BundleMalformed, BundleSignatureInvalid, CheckpassError, InputError, PassError
from passcore.keys import ALG_IDS, PublicKey, SigningKey

__all__ = [
    "MAX_STATEMENT_BYTES",
    "PURPOSE_BUNDLES",
    "PURPOSE_ROOT",
    "SIGNER_ALGORITHMS",
    "STATEMENT_FORMAT",
    "STATEMENT_TYPE",
    "KeyStatement",
    "certify_signer",
    "cross_sign_root",
    "open_statement",
    "signer_kid",
    "verify_statement",
]

STATEMENT_FORMAT = 1
# COSE header label 3 (content type, RFC 9052 §3.1): a text content type marks the message as a key statement.
HEADER_CONTENT_TYPE = 3
STATEMENT_TYPE = "application/vnd.checkpass.key-statement+cbor"
PURPOSE_BUNDLES, PURPOSE_ROOT = "bundles", "root"
PURPOSES = (PURPOSE_BUNDLES, PURPOSE_ROOT)
# A statement is one key and a few numbers (about 200 bytes); anything much larger is not one.
MAX_STATEMENT_BYTES = 4096
# What a bundle-signing key may be: the checkpoint's verifiers know both (passes use them too). A root stays EdDSA
# (trust.ROOT_ALG): checkpoints in the field pin an Ed25519 root.
SIGNER_ALGORITHMS = frozenset({"EdDSA", "ES256"})
_ROOT_ALG = "EdDSA"
_COSE = COSE.new()


@dataclass(frozen=True)
class KeyStatement:
    """A verified (or, from ``open_statement``, merely parsed) statement by the root ``signer_kid`` about ``subject``."""

    purpose: str
    subject: PublicKey
    signer_kid: bytes
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime | None  # None for a root: a root does not expire, it is succeeded

    def covers(self, start: datetime, end: datetime) -> bool:
        """Whether the certified validity holds from ``start`` until ``end`` (a bundle's iat and exp)."""
        return self.valid_from <= start and (self.valid_until is None or end <= self.valid_until)

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": STATEMENT_FORMAT,
            "purpose": self.purpose,
            "kid": self.subject.kid,
            "alg": self.subject.alg,
            "spki": self.subject.spki_der,
            "iat": int(self.issued_at.timestamp()),
            "nbf": int(self.valid_from.timestamp()),
            "exp": None if self.valid_until is None else int(self.valid_until.timestamp()),
        }


def _whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _sign(statement: KeyStatement, root: SigningKey) -> bytes:
    if root.alg != _ROOT_ALG:
        raise InputError(f"a root key must be {_ROOT_ALG}, not {root.alg}", code="KEY_INVALID")
    # Deterministic CBOR header order (RFC 8949 §4.2.1): 1, 3, 4.
    protected = {1: ALG_IDS[root.alg], HEADER_CONTENT_TYPE: STATEMENT_TYPE, 4: root.kid}
    return bytes(
        _COSE.encode(cbor2.dumps(statement.to_payload()), root.cose_key, protected=protected, unprotected={})
    )


def certify_signer(
    root: SigningKey, key: PublicKey, *, issued_at: datetime, valid_from: datetime, valid_until: datetime
) -> bytes:
    """The root's certificate for a bundle-signing key, valid from ``valid_from`` until ``valid_until``."""
    if key.alg not in SIGNER_ALGORITHMS:
        raise InputError(f"a bundle-signing key must be EdDSA or ES256, not {key.alg}", code="KEY_INVALID")
    if key.kid == root.kid:
        raise InputError("the root cannot certify itself as its own bundle-signing key", code="KEY_INVALID")
    start, end = _whole_seconds(valid_from), _whole_seconds(valid_until)
    if end <= start:
        raise InputError("a bundle-signing key's validity must end after it starts", code="KEY_INVALID")
    statement = KeyStatement(PURPOSE_BUNDLES, key, root.kid, _whole_seconds(issued_at), start, end)
    return _sign(statement, root)


def cross_sign_root(old: SigningKey, new: PublicKey, *, issued_at: datetime) -> bytes:
    """The old root's statement that ``new`` succeeds it (a root rollover)."""
    if new.alg != _ROOT_ALG:
        raise InputError(f"a root key must be {_ROOT_ALG}, not {new.alg}", code="KEY_INVALID")
    if new.kid == old.kid:
        raise InputError("a root cannot cross-sign itself", code="KEY_INVALID")
    at = _whole_seconds(issued_at)
    return _sign(KeyStatement(PURPOSE_ROOT, new, old.kid, at, at, None), root=old)


def _time(value: Any) -> datetime:
    if type(value) is not int or not 0 <= value < 2**33:
        raise TypeError("statement times must be integers")
    return datetime.fromtimestamp(value, UTC)


def _parse_payload(payload: bytes, signer_kid: bytes) -> KeyStatement:
    data = wire.loads_bounded(payload, "the key statement")
    if not isinstance(data, dict) or data.get("format") != STATEMENT_FORMAT:
        raise ValueError(f"unknown key statement format (expected {STATEMENT_FORMAT})")
    purpose = data["purpose"]
    if purpose not in PURPOSES:
        raise ValueError("unknown key statement purpose")
    subject = PublicKey.from_der(data["spki"], data["alg"])
    if subject.kid != data["kid"]:
        raise ValueError("the statement's kid is not its key's")
    until = None if data["exp"] is None else _time(data["exp"])
    statement = KeyStatement(purpose, subject, signer_kid, _time(data["iat"]), _time(data["nbf"]), until)
    if purpose == PURPOSE_ROOT and (subject.alg != _ROOT_ALG or until is not None):
        raise ValueError("a root statement names an EdDSA key and no expiry")
    if purpose == PURPOSE_BUNDLES and (
        subject.alg not in SIGNER_ALGORITHMS or until is None or until <= statement.valid_from
    ):
        raise ValueError(
            "a signing-key certificate names an EdDSA or ES256 key and an expiry after its start"
        )
    if subject.kid == signer_kid:
        raise ValueError("a key statement about its own signer")
    return statement


def _parse_cose(data: Any) -> wire.CoseSign1:
    if not isinstance(data, bytes) or len(data) > MAX_STATEMENT_BYTES:
        raise BundleMalformed(f"a key statement is a byte string of at most {MAX_STATEMENT_BYTES} bytes")
    try:
        cose = wire.parse_cose(data)
    except PassError as err:
        raise BundleMalformed(f"not a key statement: {err.message}") from err
    if cose.protected.get(HEADER_CONTENT_TYPE) != STATEMENT_TYPE or cose.kid is None:
        raise BundleMalformed("not a key statement: its protected header lacks the content type or the kid")
    return cose


def open_statement(data: Any) -> KeyStatement:
    """Parse a statement WITHOUT checking its signature: to show what a file says before a ceremony step, or to
    find which root signed it. Never trust the result; ``verify_statement`` does."""
    cose = _parse_cose(data)
    try:
        return _parse_payload(cose.payload, cose.kid or b"")
    except (CheckpassError, KeyError, TypeError, ValueError, OverflowError) as err:
        raise BundleMalformed(f"the key statement is malformed: {err}") from err


def signer_kid(data: Any) -> bytes:
    """The kid of the root that says it signed the statement (unverified)."""
    kid = _parse_cose(data).kid
    assert kid is not None  # _parse_cose refuses a statement without one
    return kid


def verify_statement(data: Any, *, root: PublicKey, purpose: str) -> KeyStatement:
    """A statement of ``purpose`` signed by ``root``: refused as malformed, of the wrong purpose or root
    (``BUNDLE_MALFORMED``) or forged (``BUNDLE_SIGNATURE_INVALID``, detail ``STATEMENT_FORGED``)."""
    cose = _parse_cose(data)
    if cose.kid != root.kid:
        raise BundleMalformed("the key statement is signed by another root", detail="STATEMENT_OTHER_ROOT")
    try:
        wire.verify_signature(cose, root, algorithms=frozenset({_ROOT_ALG}))
    except PassError as err:
        kind = "root cross-signature" if purpose == PURPOSE_ROOT else "signing-key certificate"
        raise BundleSignatureInvalid(
            f"a {kind} names root {root.kid.hex()} but its signature does not verify",
            detail="STATEMENT_FORGED",
        ) from err
    try:
        statement = _parse_payload(cose.payload, root.kid)
    except (CheckpassError, KeyError, TypeError, ValueError, OverflowError) as err:
        raise BundleMalformed(f"the key statement is malformed: {err}") from err
    if statement.purpose != purpose:
        raise BundleMalformed(
            f"a {statement.purpose!r} statement where a {purpose!r} one belongs", detail="STATEMENT_PURPOSE"
        )
    return statement
