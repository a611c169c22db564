"""The traffic state of each checkpoint for the public status page (高速公路通道查询): open, closed, or a green
channel for priority traffic. Set by administrators; only names, places, states and the administrator's public
note are shown to anyone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from passcore import ids
from server.checkpoints.models import Checkpoint
from server.errors import BadRequest

__all__ = ["PUBLIC_CACHE", "STATES", "PublicCheckpoint", "public_list", "set_state"]

OPEN, CLOSED, GREEN = "open", "closed", "green"
STATES = (OPEN, CLOSED, GREEN)
MAX_NOTE = 200
# The status page and its JSON are the same for everyone and a minute old at worst: a proxy or browser may keep
# them (the page's language comes from the URL or its cookie, hence Vary).
PUBLIC_CACHE = {"Cache-Control": "public, max-age=60", "Vary": "Cookie"}


@dataclass(frozen=True)
class PublicCheckpoint:
    """What the public may know about a checkpoint (nothing about devices, officers or crossings)."""

    name: str
    region: str
    location: str
    state: str
    note: str
    changed_at: datetime | None


def public_list(session: Session) -> list[PublicCheckpoint]:
    query = (
        select(Checkpoint)
        .where(col(Checkpoint.active).is_(True))
        .order_by(col(Checkpoint.region), col(Checkpoint.id))
    )
    return [
        PublicCheckpoint(c.name, c.region, c.location, c.traffic, c.traffic_note, c.traffic_at)
        for c in session.exec(query)
    ]


def set_state(
    *, session: Session, checkpoint: Checkpoint, state: str, note: str, now: datetime
) -> Checkpoint:
    """Committed."""
    text = " ".join(note.split())
    fields = {}
    if state not in STATES:
        fields["traffic"] = "traffic_state"
    if len(text) > MAX_NOTE or not ids.usable_text(text):
        fields["traffic_note"] = "traffic_note"
    if fields:
        raise BadRequest(
            "choose a state; the note is at most 200 characters", code="TRAFFIC_INVALID", fields=fields
        )
    checkpoint.traffic, checkpoint.traffic_note, checkpoint.traffic_at = state, text, now
    session.add(checkpoint)
    session.commit()
    return checkpoint
