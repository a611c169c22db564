"""What the review page shows of one vehicle, one pass and the risk flags (template: applications/_conflicts.html)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from server.applications import conflicts, risk
from server.applications.models import Application

__all__ = ["review_context"]


def review_context(session: Session, application: Application, *, now: datetime, lang: str) -> dict[str, Any]:
    """``risk_texts`` (why the application is flagged), ``plate_conflicts`` and ``elsewhere`` (the same people on
    other live passes) while the application is open; ``can_replace`` when a live pass stands in its way."""
    open_ = application.status in conflicts.OPEN
    found = conflicts.plate_conflicts(session, application, now=now) if open_ else []
    return {
        "risk_texts": risk.describe(application, lang),
        "plate_conflicts": found,
        "elsewhere": conflicts.people_elsewhere(session, application, now=now) if open_ else [],
        "can_replace": any(c.kind == "pass" for c in found),
    }
