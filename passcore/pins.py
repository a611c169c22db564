"""Checkpoint officers: their numbers and PINs, and the PIN hash both programs read.

The administrator sets an officer's PIN on the server; the server keeps only a salted scrypt hash, which sync
carries to the checkpoint's laptops so that an officer can sign in with no network. The hash names its own
parameters (``scrypt$n=16384,r=8,p=1$<salt>$<key>``, base64 without padding), so the parameters can be raised
later without breaking hashes stored before; a reader refuses parameters beyond ``MAX_*`` rather than let a
hostile record make it spend minutes or gigabytes on one check.

A PIN of 4–8 digits has at most 10^8 values: what keeps it is the laptop's back-off after wrong PINs and the
privacy of the store (owner-only files), not the hash; the hash keeps the PIN itself out of files and logs.
Pure: the caller supplies the salt (the server draws it from ``secrets``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from passcore.errors import InputError

__all__ = [
    "MAX_N",
    "NUMBER_PATTERN",
    "SALT_BYTES",
    "check_pin",
    "hash_pin",
    "validate_number",
    "validate_pin",
]

NUMBER_PATTERN = r"^[0-9A-Za-z-]{1,16}$"
_NUMBER = re.compile(NUMBER_PATTERN)
_PIN = re.compile(r"^[0-9]{4,8}$")
SALT_BYTES = 16
N, R, P, KEY_BYTES = 2**14, 8, 1, 32  # ~16 MiB and a few tens of ms per check on a laptop
MAX_N, MAX_R, MAX_P = 2**17, 16, 4
_MAXMEM = 128 * MAX_R * (MAX_N + MAX_P + 2)  # what the largest accepted parameters need, and no more
_HASH = re.compile(
    r"^scrypt\$n=([0-9]{1,7}),r=([0-9]{1,2}),p=([0-9])\$([A-Za-z0-9+/]{16,64})\$([A-Za-z0-9+/]{32,128})$"
)


def validate_number(number: str) -> str:
    """The officer number as stored (letters, digits and hyphens, 1–16, case kept); InputError NUMBER_INVALID."""
    clean = number.strip() if isinstance(number, str) else ""
    if not _NUMBER.fullmatch(clean):
        raise InputError(
            "an officer number is 1-16 letters, digits or hyphens / 警号为1-16位字母、数字或连字符",
            code="OFFICER_NUMBER_INVALID",
        )
    return clean


def validate_pin(pin: str) -> str:
    """The PIN if it is 4–8 digits (ASCII); InputError PIN_INVALID. Never echoes the PIN."""
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        raise InputError("a PIN is 4-8 digits / PIN 为4-8位数字", code="PIN_INVALID")
    return pin


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _derive(pin: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(pin.encode("ascii"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=_MAXMEM)


def hash_pin(pin: str, *, salt: bytes) -> str:
    """The stored form of ``pin`` (validated first) with ``salt`` (``SALT_BYTES`` random bytes)."""
    validate_pin(pin)
    if len(salt) < SALT_BYTES:
        raise InputError(f"the salt must be at least {SALT_BYTES} bytes", code="SALT_TOO_SHORT")
    key = _derive(pin, salt, N, R, P, KEY_BYTES)
    return f"scrypt$n={N},r={R},p={P}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    match = _HASH.fullmatch(stored) if isinstance(stored, str) else None
    if match is None:
        raise InputError("not a PIN hash this program reads", code="PIN_HASH_INVALID")
    n, r, p = int(match[1]), int(match[2]), int(match[3])
    if not (2 <= n <= MAX_N and n & (n - 1) == 0 and 1 <= r <= MAX_R and 1 <= p <= MAX_P):
        raise InputError("the PIN hash's parameters are out of bounds", code="PIN_HASH_INVALID")
    try:
        return n, r, p, _unb64(match[4]), _unb64(match[5])
    except ValueError as err:
        raise InputError("the PIN hash is not valid base64", code="PIN_HASH_INVALID") from err


def check_pin(pin: str, stored: str) -> bool:
    """Whether ``pin`` matches ``stored``; False for a PIN that is not 4–8 digits. InputError PIN_HASH_INVALID
    for a stored value that is not a hash this program reads (or asks for more work than it allows)."""
    n, r, p, salt, key = _parse(stored)
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        return False
    return hmac.compare_digest(_derive(pin, salt, n, r, p, len(key)), key)
