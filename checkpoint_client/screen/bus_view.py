"""A bus's manifest as the page shows it while the officer collects pages and calls the roll (issue 14).

Passengers appear as their pages are read (the officer can start the roll before the last page), numbered as on
the printed manifest, with their origin in words and a mark where the policy's hard-hit areas cover their origin
or travel history. Codes, not words, for everything the page translates (as views.py).
"""

from __future__ import annotations

from typing import Any

from checkpoint_client.screen.manifests import BusPages, PageEvent
from checkpoint_client.screen.views import local
from passcore import ids
from passcore.policy import Policy

__all__ = ["manifest_view", "page_view", "passengers"]


def _place(code: str) -> dict[str, Any]:
    return {"code": code, "name": ids.region_name(code)}


def passengers(bus: BusPages) -> dict[int, Any]:
    """Number -> passenger (``manifest.Passenger``) from the pages read so far for the pass's own manifest."""
    found: dict[int, Any] = {}
    digest = bus.claims.bus.digest if bus.claims is not None and bus.claims.bus is not None else None
    for page in bus.pages:
        if digest is not None and page.digest != digest:
            continue
        for offset, person in enumerate(page.passengers):
            found.setdefault(page.first + offset, person)
    return dict(sorted(found.items()))


def _hard_hit(person: Any, policy: Policy | None) -> list[str]:
    if policy is None:
        return []
    places = [person.origin, *person.travel_history]
    return sorted({area for area in (policy.covers(place) for place in places if place) if area})


def manifest_view(bus: BusPages, policy: Policy | None, *, zone: str) -> dict[str, Any]:
    claims = bus.claims
    assert claims is not None and claims.bus is not None
    collected = bus.collector()
    found = passengers(bus)
    return {
        "arrived_at": bus.arrived_at.isoformat(),
        "arrived_local": local(bus.arrived_at, zone, "%H:%M:%S"),
        "pages": claims.bus.pages,
        "scanned": sorted({p.number for p in bus.pages if p.digest == claims.bus.digest}),
        "missing": list(collected.missing),
        "complete": bool(collected.complete),
        "foreign": sum(1 for page in bus.foreign if page.valid),  # pages of another pass
        "invalid": sum(1 for page in bus.foreign if not page.valid),  # pages not genuine
        "count": claims.bus.passengers,
        "passengers": [
            {
                "n": number,
                "name": person.name,
                "id_number": person.id_masked,
                "origin": _place(person.origin),
                "history": [_place(code) for code in person.travel_history],
                "hard_hit": _hard_hit(person, policy),
            }
            for number, person in found.items()
        ],
    }


def page_view(event: PageEvent | None) -> dict[str, Any] | None:
    return None if event is None else event.to_dict()
