"""The bureau's own accounts, managed by administrators: a new reviewer, auditor or administrator, and a new
password for any account, both with a generated one-time password that is shown once and never stored in clear.

The administrator passes the password on by a channel of the bureau's own (in person, by phone); the user then
changes it on their account page. Only its argon2 hash is kept, like every other password.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlmodel import Session

from passcore import ids
from server.accounts import service as accounts
from server.accounts.models import BUREAU_ROLES, User
from server.errors import BadRequest

__all__ = ["create_bureau_user", "generated_password", "reset_with_generated"]

# No 0/O, 1/l/I: read out over the phone or copied from a screen without mistakes.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def generated_password() -> str:
    """16 random characters in four groups (about 79 bits): easy to pass on, not among common passwords."""
    groups = ("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))
    return "-".join(groups)


def create_bureau_user(
    *, session: Session, username: str, role: str, display_name: str, now: datetime
) -> tuple[User, str]:
    """A new bureau account (reviewer, auditor or administrator) with a generated password, returned this once;
    committed. BadRequest naming the fields (``username``, ``role``, ``display_name``), Conflict when the
    username is taken; nothing is changed then."""
    fields: dict[str, str] = {}
    if role not in BUREAU_ROLES:
        fields["role"] = "bureau_role_invalid"
    name = " ".join(display_name.split())
    if not 1 <= len(name) <= 50 or not ids.usable_text(name):
        fields["display_name"] = "bureau_name_invalid"
    try:
        accounts.normalise_username(username)
    except BadRequest as err:
        fields |= err.fields
    if fields:
        raise BadRequest("please correct the marked fields", code="ACCOUNT_INVALID", fields=fields)
    password = generated_password()
    user = accounts.create_user(
        session=session, username=username, password=password, role=role, display_name=name, now=now
    )
    session.commit()
    return user, password


def reset_with_generated(*, session: Session, username: str, now: datetime) -> tuple[User, str]:
    """A generated password for ``username``, returned this once; every session and token of the account ends
    (committed)."""
    password = generated_password()
    user = accounts.reset_password_now(session=session, username=username, password=password, now=now)
    return user, password
