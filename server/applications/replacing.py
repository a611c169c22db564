"""A renewal's or an amendment's pass takes over from the pass it replaces (``Application.replaces_pass_id``).

When the new pass is issued, the replaced one is revoked with the reason, in the same transaction, but only if the
two overlap: a renewal that starts when the old pass ends leaves the old one to run out by itself; an amendment
(same window, a new driver) ends the old one at once. Until then the old pass stays valid.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from server.accounts.models import User
from server.applications import conflicts
from server.applications.models import Application
from server.passes.models import IssuedPass, Revocation

__all__ = ["retire_replaced"]


def retire_replaced(
    session: Session, application: Application, new: IssuedPass, actor: User, now: datetime
) -> Revocation | None:
    """Revoke the pass ``application`` replaces if it is still live and overlaps ``new`` (not committed)."""
    old_id = application.replaces_pass_id
    old = session.get(IssuedPass, old_id) if old_id else None
    if old is None or old.pass_id == new.pass_id or session.get(Revocation, old.pass_id) is not None:
        return None
    if old.valid_until <= now or old.valid_until <= new.valid_from:
        return None  # run out already, or runs out before the new pass starts
    # The same reason and notice as a reviewer's replacement: the revocation is not held against the enterprise.
    conflicts.revoke_replaced(session, [old], serial=new.serial, reviewer=actor, now=now)
    return session.get(Revocation, old.pass_id)
