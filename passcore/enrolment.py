"""The one-time enrolment code: a secret the server spends once, and the fingerprint of the root key the laptop must
pin. The laptop checks the root the server answers with against the fingerprint it was given with the code, so a
network that answers in the server's place cannot make it trust another root.

A code is eight groups of four RFC 4648 base32 characters (A–Z, 2–7), e.g. ``K7QD-M2XA-PL4W-ZC6B-3F2A-Q7NX-D4LM-R5TE``: the
first four groups are 80 random bits (the secret: guessing one among the few live codes is hopeless, and a code
expires within hours and works once), the last four the first 80 bits of SHA-256 over the root public key (its
DER SubjectPublicKeyInfo), which the administrator's page shows as "root key fingerprint". Case, spaces and
hyphens are not significant, so a code may be typed as it is read.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from passcore.errors import InputError
from passcore.keys import PublicKey

__all__ = [
    "FINGERPRINT_CHARS",
    "SECRET_BYTES",
    "SECRET_CHARS",
    "EnrolmentCode",
    "fingerprint",
    "make_code",
    "parse_code",
]

SECRET_BYTES = 10
SECRET_CHARS = 16  # base32 of SECRET_BYTES
FINGERPRINT_CHARS = 16  # 80 bits: finding another key with this fingerprint takes ~2^80 key generations
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_EXAMPLE = "e.g. K7QD-M2XA-PL4W-ZC6B-3F2A-Q7NX-D4LM-R5TE"


def _groups(text: str) -> str:
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def fingerprint(root: PublicKey) -> str:
    """The root key's fingerprint as codes carry it and the administrator's page shows it (four groups of four)."""
    digest = hashlib.sha256(root.spki_der).digest()
    return _groups(base64.b32encode(digest).decode()[:FINGERPRINT_CHARS])


def make_code(secret: bytes, root: PublicKey) -> str:
    """The code to hand out: ``secret`` (SECRET_BYTES random bytes) then the root's fingerprint."""
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"an enrolment secret is {SECRET_BYTES} bytes")
    return f"{_groups(base64.b32encode(secret).decode())}-{fingerprint(root)}"


@dataclass(frozen=True)
class EnrolmentCode:
    """A typed code taken apart, normalised: ``secret`` (what the server looks up; only its hash is stored) and
    ``root_fingerprint`` (what the laptop checks the server's root against)."""

    secret: str = field(repr=False)
    root_fingerprint: str

    def matches(self, root: PublicKey) -> bool:
        return fingerprint(root).replace("-", "") == self.root_fingerprint


def parse_code(text: str) -> EnrolmentCode:
    """The secret and root fingerprint of a typed code; ``InputError`` CODE_MALFORMED if it is not a code."""
    compact = "".join(ch for ch in str(text)[:80].upper() if ch not in " -\t")
    if len(compact) != SECRET_CHARS + FINGERPRINT_CHARS or not set(compact) <= _ALPHABET:
        raise InputError(
            f"not an enrolment code: {SECRET_CHARS + FINGERPRINT_CHARS} letters and digits 2–7 in groups of four, "
            f"{_EXAMPLE} (a code made before this version has fewer: ask the bureau for a new one)",
            code="CODE_MALFORMED",
        )
    return EnrolmentCode(compact[:SECRET_CHARS], compact[SECRET_CHARS:])
