"""A personnel-transport application's bus (issue 14): reading its bus part and manifest, and the seat limit.

``bus_of`` is how the rest of the server (the pass's issuing, its PDF and manifest pages) reads a bus: the bus part
and the passengers in manifest order, ID numbers in full when opened from an ``Application`` or a validated body.
The stored bodies (``Application.body_json``, ``IssuedPass.application_json``) hold them masked; ``bus_of_json``
reads those as they are (masked numbers, for what shows or prints only masked ones).

The seat limit (客座率): the people carried besides the driver — the passengers and the on-board manager — may fill
at most ``floor(seats × policy.bus_occupancy_percent / 100)`` seats, checked at submission and at approval.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from passcore.errors import InputError
from passcore.policy import Policy
from server.applications import people
from server.applications.models import Application
from server.applications.schemas import PERSONNEL, ApplicationCreate, BusInfo, Manager, Passenger

__all__ = ["SeatUse", "bus_of", "bus_of_json", "check_seats", "occupancy_percent", "seat_use"]


def bus_of(application: Application | ApplicationCreate) -> tuple[BusInfo, list[Passenger]] | None:
    """(the bus, its passengers in manifest order) with full ID numbers; None for a freight application.

    An ``Application`` row is opened from its sealed numbers (within its session; PEOPLE_PURGED after retention)."""
    body = application if isinstance(application, ApplicationCreate) else people.application_body(application)
    if body.kind != PERSONNEL or body.bus is None:
        return None
    return body.bus, list(body.passengers)


def bus_of_json(body_json: str) -> tuple[BusInfo, list[Passenger]] | None:
    """The same from a stored body (masked ID numbers, not validated again: it was valid when stored)."""
    data: dict[str, Any] = json.loads(body_json) if body_json else {}
    bus = data.get("bus")
    if data.get("kind") != PERSONNEL or not isinstance(bus, dict):
        return None
    info = BusInfo.model_construct(
        **{**bus, "manager": Manager.model_construct(**(bus.get("manager") or {}))}
    )
    passengers = [Passenger.model_construct(**p) for p in data.get("passengers") or [] if isinstance(p, dict)]
    return info, passengers


def occupancy_percent(policy: Policy) -> int:
    return policy.bus_occupancy_percent


@dataclass(frozen=True)
class SeatUse:
    """ "46 / 53 seats (limit 50 %)": ``aboard`` = passengers + the manager, ``allowed`` = the limit in people."""

    aboard: int
    seats: int
    percent: int

    @property
    def allowed(self) -> int:
        return self.seats * self.percent // 100

    @property
    def over(self) -> bool:
        return self.aboard > self.allowed


def seat_use(body: ApplicationCreate, policy: Policy) -> SeatUse | None:
    if body.bus is None:
        return None
    return SeatUse(aboard=len(body.passengers) + 1, seats=body.bus.seats, percent=occupancy_percent(policy))


def check_seats(body: ApplicationCreate, policy: Policy) -> None:
    """SEAT_LIMIT_EXCEEDED (an ``InputError`` naming the numbers) when the bus carries more than the policy allows."""
    use = seat_use(body, policy)
    if use is not None and use.over:
        raise InputError(
            f"{use.aboard} people aboard ({use.aboard - 1} passengers and the manager) exceed the seat limit of "
            f"{use.allowed} ({use.percent} % of {use.seats} seats)",
            code="SEAT_LIMIT_EXCEEDED",
        )
