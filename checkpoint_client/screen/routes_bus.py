"""Bus mode's decision (issue 14): ``POST /api/bus/decide`` takes the crew, the checks and the roll call of the bus
in front of the officer; its pages are the ones scanned on this screen (the desk hands them to the manifest book).
Like ``/api/decide`` (routes.run_decision, which both go through): the screen's token guards it (guard.py), the
officer signed in is named in the record, and the outcome is answered only once the store has committed it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from checkpoint_client.screen.decide import FieldError
from checkpoint_client.screen.decide_bus import BusDecisionForm, decide_bus
from checkpoint_client.screen.desk import Vehicle
from checkpoint_client.screen.routes import Deciding, run_decision
from checkpoint_client.screen.routes_drafts import forget_decided
from checkpoint_client.screen.views import decision_view, local

__all__ = ["bus_decision_view", "router"]

router = APIRouter()
_Payload = Annotated[Any, Body()]


def bus_decision_view(decision: Any, crew: Any, *, crossing: Any, zone: str) -> dict[str, Any]:
    """The outcome with every passenger's disposition, from the record as stored (what will be synced)."""
    view = decision_view(decision, crew, crossing=crossing, zone=zone)
    bus = crossing.record.get("bus") or {}
    people = bus.get("passengers") or []
    counts: dict[str, int] = {}
    for person in people:
        counts[person["disposition"]] = counts.get(person["disposition"], 0) + 1
    arrived = datetime.fromisoformat(bus["arrived_at"]) if bus.get("arrived_at") else None
    view["bus"] = {
        "passengers": [
            {
                "n": p["n"],
                "name": p["name"],
                "disposition": p["disposition"],
                "temperature_c": p.get("temperature_c"),
                "aboard": p.get("aboard"),
            }
            for p in people
        ],
        "counts": counts,
        "pages": bus.get("pages"),
        "arrived_local": local(arrived, zone, "%H:%M:%S"),
        "waited_s": int((decision.decided_at - arrived).total_seconds()) if arrived else None,
    }
    return view


@router.post("/api/bus/decide")
def decide_route(request: Request, payload: _Payload) -> Any:
    def decide_step(form: BusDecisionForm, vehicle: Vehicle, context: Deciding) -> Callable[[], Any]:
        screen = context.screen
        pass_id = screen.bus_pass(vehicle)
        pages = screen.manifests.get(pass_id) if pass_id else None
        if pages is None or pages.claims is None:
            raise FieldError("BUS_PASS_NEEDED", None)
        decision, stored, crew = decide_bus(
            form,
            vehicle,
            pages,
            context.bundle,
            screen.store,
            now=context.now,
            officer=context.officer,
            repeat_of=context.repeat_of,
        )

        def finish() -> Any:
            screen.manifests.decided(decision.pass_id)
            forget_decided(request, decision.pass_id)
            return bus_decision_view(decision, crew, crossing=stored, zone=screen.settings.timezone)

        return finish

    return run_decision(request, payload, BusDecisionForm.parse, decide_step)
