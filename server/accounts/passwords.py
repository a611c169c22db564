"""What a new password must be: 12 to 200 characters and not one of the 20,000 most common passwords.

The list is Django's (``common-passwords.txt.gz`` beside this module, with its licence in
``common-passwords.LICENSE``), lower-cased, so a password is compared lower-cased: "Password1234" is as common
as "password1234". Only new passwords are checked (registration, account creation, reset, change); signing in
with an older, weaker one still works.
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

from server.errors import BadRequest

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "check_new_password", "is_common"]

MIN_PASSWORD = 12
MAX_PASSWORD = 200
COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt.gz")


@cache
def _common() -> frozenset[str]:
    # Read at the first check, not at import: every `checkpass` command imports the accounts service.
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def is_common(password: str) -> bool:
    return password.lower() in _common()


def check_new_password(password: str) -> None:
    """BadRequest (``PASSWORD_WEAK``, the form's field message keyed by reason) unless ``password`` may be set."""
    if len(password) < MIN_PASSWORD:
        raise BadRequest(
            f"the password needs at least {MIN_PASSWORD} characters",
            code="PASSWORD_WEAK",
            fields={"password": "password_too_short"},
        )
    if len(password) > MAX_PASSWORD:
        raise BadRequest(
            f"the password may have at most {MAX_PASSWORD} characters",
            code="PASSWORD_WEAK",
            fields={"password": "password_too_long"},
        )
    if is_common(password):
        raise BadRequest(
            "this password is among the most commonly used ones; choose another",
            code="PASSWORD_WEAK",
            fields={"password": "password_common"},
        )
