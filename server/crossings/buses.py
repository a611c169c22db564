"""What the crossing table keeps of a bus record (issue 14) beside its body: the kind of vehicle, the wait in the
priority lane and the passenger counts, so the audit can count and filter buses without reading bodies, and the
counts outlive the retention purge (they name nobody)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from server.crossings.models import KIND_FREIGHT, KIND_PERSONNEL

__all__ = ["FREIGHT_COLUMNS", "bus_columns"]

FREIGHT_COLUMNS: dict[str, Any] = {
    "kind": KIND_FREIGHT,
    "bus_wait_seconds": None,
    "passengers_aboard": 0,
    "passengers_absent": 0,
    "passengers_quarantined": 0,
    "passengers_held": 0,
}
MAX_WAIT_SECONDS = 7 * 24 * 3600  # a wait longer than a week is a device clock gone wrong, not a queue


def _wait(bus: Mapping[str, Any], decided_at: datetime) -> int | None:
    """decided_at - arrived_at in whole seconds; None when arrived_at is missing, or after the decision (clock)."""
    text = bus.get("arrived_at")
    if not isinstance(text, str):
        return None
    try:
        arrived = datetime.fromisoformat(text)
        seconds = int((decided_at - arrived).total_seconds())
    except (ValueError, TypeError, OverflowError):
        return None
    return seconds if 0 <= seconds <= MAX_WAIT_SECONDS else None


def bus_columns(body: Mapping[str, Any], decided_at: datetime) -> dict[str, Any]:
    """The crossing's issue-14 columns from a validated record's body (freight when it has no ``bus``)."""
    bus = body.get("bus")
    if not isinstance(bus, Mapping):
        return dict(FREIGHT_COLUMNS)
    people = [p for p in bus.get("passengers") or () if isinstance(p, Mapping)]
    disposition = [p.get("disposition") for p in people]
    return {
        "kind": KIND_PERSONNEL,
        "bus_wait_seconds": _wait(bus, decided_at),
        "passengers_aboard": sum(p.get("aboard") is True for p in people),
        "passengers_absent": sum(p.get("aboard") is False for p in people),
        "passengers_quarantined": disposition.count("QUARANTINE"),
        "passengers_held": disposition.count("MEDICAL_HOLD"),
    }
