"""Whether a claim on an application binds someone (the review desk, server/applications/desk.py): the service
asks it before every decision, so it imports nothing of the service."""

from __future__ import annotations

from datetime import datetime

from server.accounts.models import User
from server.applications.models import Application
from server.errors import Conflict

__all__ = ["claim_holder", "require_free"]


def claim_holder(application: Application, now: datetime) -> int | None:
    """The user id of whoever holds a running claim on ``application`` (None: nobody, or the claim ran out)."""
    if application.claimed_by is None or application.claim_until is None or application.claim_until <= now:
        return None
    return application.claimed_by


def require_free(application: Application, user: User, now: datetime) -> None:
    """Refuse to let ``user`` decide an application someone else holds a running claim on."""
    holder = claim_holder(application, now)
    if holder is not None and holder != user.id:
        raise Conflict(
            "another reviewer has claimed this application; wait until they release it or the claim runs out",
            code="CLAIMED",
        )
