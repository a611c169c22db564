"""The demo checkpoint's officer: the demo laptop asks for a sign-in (number + PIN) once it has synced."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from server.checkpoints.models import Checkpoint
from server.errors import NotFound
from server.officers import service as officers
from server.officers.models import Officer

__all__ = ["DEMO_OFFICER", "seed_officer"]

DEMO_OFFICER = (
    "K-0427",
    "王建国",
    "2020",
)  # number, name, PIN: printed by `checkpass demo`, as the passwords are


def seed_officer(*, session: Session, checkpoint: Checkpoint, now: datetime) -> Officer:
    """The demo officer at ``checkpoint`` with the demo PIN (a second demo run sets the PIN again)."""
    number, name, pin = DEMO_OFFICER
    try:
        officer = officers.find_officer(session, checkpoint.id or 0, number)
    except NotFound:
        return officers.add_officer(
            session=session, checkpoint=checkpoint, number=number, name=name, pin=pin, now=now
        )
    if officer.active:
        return officers.reset_pin(session=session, officer=officer, pin=pin, now=now)
    return officer
