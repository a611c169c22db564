"""A checkpoint's officers: add one, reset a PIN, deactivate, list. Each use case commits its own work.

PINs arrive in clear only as arguments here: they are validated, hashed (``passcore.pins``, a fresh random salt
each time) and dropped; no error message, log line or page repeats them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from passcore import ids, pins
from passcore.errors import InputError
from server.checkpoints.models import Checkpoint
from server.errors import BadRequest, Conflict, NotFound
from server.officers.models import Officer

__all__ = ["activate", "add_officer", "deactivate", "find_officer", "names_of", "officers_of", "reset_pin"]

MAX_NAME = 50


def _fields(number: str | None, name: str | None, pin: str | None) -> tuple[dict[str, str], str, str]:
    fields: dict[str, str] = {}
    clean_number = clean_name = ""
    if number is not None:
        try:
            clean_number = pins.validate_number(number)
        except InputError:
            fields["number"] = "officer_number_invalid"
    if name is not None:
        clean_name = " ".join(name.split())
        if not 1 <= len(clean_name) <= MAX_NAME or not ids.usable_text(clean_name):
            fields["name"] = "officer_name_invalid"
    if pin is not None:
        try:
            pins.validate_pin(pin)
        except InputError:
            fields["pin"] = "pin_invalid"
    return fields, clean_number, clean_name


def _hash(pin: str) -> str:
    return pins.hash_pin(pin, salt=secrets.token_bytes(pins.SALT_BYTES))


def add_officer(
    *, session: Session, checkpoint: Checkpoint, number: str, name: str, pin: str, now: datetime
) -> Officer:
    """A new officer of ``checkpoint``; 422 OFFICER_INVALID (by field), 409 OFFICER_EXISTS for a number taken
    at this checkpoint (by an active or a deactivated officer: old records name it)."""
    fields, clean_number, clean_name = _fields(number, name, pin)
    if fields:
        raise BadRequest("please correct the marked fields", code="OFFICER_INVALID", fields=fields)
    if not checkpoint.active:
        raise Conflict("this checkpoint is closed", code="CHECKPOINT_INACTIVE")
    if _by_number(session, checkpoint.id or 0, clean_number) is not None:
        raise Conflict(
            f"officer number {clean_number} is already used at this checkpoint",
            code="OFFICER_EXISTS",
            fields={"number": "officer_number_taken"},
        )
    officer = Officer(
        checkpoint_id=checkpoint.id or 0,
        number=clean_number,
        name=clean_name,
        pin_hash=_hash(pin),
        created_at=now,
        updated_at=now,
        pin_set_at=now,
    )
    session.add(officer)
    try:
        session.commit()
    except IntegrityError as err:  # two administrators adding the same number at once
        session.rollback()
        raise Conflict(
            f"officer number {clean_number} is already used at this checkpoint",
            code="OFFICER_EXISTS",
            fields={"number": "officer_number_taken"},
        ) from err
    return officer


def _by_number(session: Session, checkpoint_id: int, number: str) -> Officer | None:
    query = select(Officer).where(Officer.checkpoint_id == checkpoint_id, Officer.number == number)
    return session.exec(query).first()


def find_officer(session: Session, checkpoint_id: int, key: str | int) -> Officer:
    """An officer of the checkpoint by number (text) or id (int); 404 OFFICER_NOT_FOUND otherwise."""
    officer = session.get(Officer, key) if isinstance(key, int) else _by_number(session, checkpoint_id, key)
    if officer is None or officer.checkpoint_id != checkpoint_id:
        raise NotFound("no such officer at this checkpoint", code="OFFICER_NOT_FOUND")
    return officer


def officers_of(session: Session, checkpoint_id: int, *, include_inactive: bool = True) -> list[Officer]:
    query = select(Officer).where(Officer.checkpoint_id == checkpoint_id).order_by(col(Officer.number))
    if not include_inactive:
        query = query.where(col(Officer.active).is_(True))
    return list(session.exec(query))


def names_of(session: Session, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """Officers' names by (checkpoint id, number), for views that show the number a record carries (the audit);
    a number the checkpoint never had is simply missing from the answer."""
    wanted = {(int(cid), number) for cid, number in keys if number}
    if not wanted:
        return {}
    query = select(Officer).where(col(Officer.checkpoint_id).in_({cid for cid, _ in wanted}))
    return {
        (o.checkpoint_id, o.number): o.name
        for o in session.exec(query)
        if (o.checkpoint_id, o.number) in wanted
    }


def reset_pin(*, session: Session, officer: Officer, pin: str, now: datetime) -> Officer:
    """A new PIN (the laptops get it at their next sync; until then the old one still opens them)."""
    fields, _, _ = _fields(None, None, pin)
    if fields:
        raise BadRequest("please correct the marked fields", code="OFFICER_INVALID", fields=fields)
    if not officer.active:
        raise Conflict("this officer has been deactivated", code="OFFICER_INACTIVE")
    officer.pin_hash = _hash(pin)
    officer.pin_set_at = officer.updated_at = now
    session.add(officer)
    session.commit()
    return officer


def deactivate(*, session: Session, officer: Officer, now: datetime) -> Officer:
    """The officer can no longer sign in (on a laptop: from its next sync); the row stays for old records."""
    if officer.active:
        officer.active = False
        officer.deactivated_at = officer.updated_at = now
        session.add(officer)
        session.commit()
    return officer


def activate(*, session: Session, officer: Officer, now: datetime) -> Officer:
    """Undo a deactivation (a wrong click, an officer back on duty); the PIN set before opens the laptops again
    from their next sync."""
    if not officer.active:
        officer.active = True
        officer.deactivated_at = None
        officer.updated_at = now
        session.add(officer)
        session.commit()
    return officer
