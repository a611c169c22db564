"""A bus crossing (a personnel-transport pass, issue 14) as the audit shows it: the record's ``bus`` key read
into the bus (manifest, pages, seats, first scan and wait) and its roll (each manifest passenger: aboard or absent,
measured normal or a typed reading, disposition, hard-hit), with the stations and the on-board manager from the
pass as issued and the passengers' masked ID numbers from its signed manifest pages.

Read from the record, not from the crossing's summary columns, so a list, a detail page and a CSV row say the same
whatever the columns hold; the columns (migration 0023) serve the filters and the dashboard's aggregates.

An enterprise (``health=False``) sees who was aboard and who not, and who goes into its quarantine, never a
temperature nor who was held for fever (design.md, Privacy): those cells read ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from passcore.policy import Policy

__all__ = [
    "ABSENT",
    "DISPOSITIONS",
    "HIDDEN_DISPOSITIONS",
    "BusView",
    "Counts",
    "Passenger",
    "counts",
    "is_bus",
    "read",
    "stations",
    "wait_seconds",
]

ABSENT, QUARANTINE, HELD, RELEASE, REFUSE = "ABSENT", "QUARANTINE", "MEDICAL_HOLD", "RELEASE", "REFUSE"
DISPOSITIONS = (RELEASE, QUARANTINE, HELD, ABSENT, REFUSE)
# What an enterprise may not learn of a person: held for fever is health data (an enterprise learns the bus's
# outcome, not who had a fever).
HIDDEN_DISPOSITIONS = frozenset({HELD})
MEASURED_NORMAL, MEASURED_TYPED, NOT_ABOARD = "normal", "typed", "absent"


@dataclass(frozen=True)
class Passenger:
    number: int  # 1-based, in manifest order
    name: str  # "" once retention has purged it
    id_masked: str  # from the signed manifest page ("" when the server no longer has it)
    origin: str | None
    travel_history: list[str]
    aboard: bool
    measured: str  # "normal" (the gun's reading, normal), "typed" (a reading typed in), "absent"
    temperature_c: Decimal | None  # a typed reading; None for "normal", "absent" or hidden
    fever: bool | None  # None: not shown
    disposition: str | None  # None: not shown to this reader
    hard_hit: str | None  # the hard-hit code the origin or travel history falls in (None: none or not known)


@dataclass(frozen=True)
class Counts:
    listed: int = 0  # on the manifest
    aboard: int = 0
    absent: int = 0
    quarantine: int = 0
    held: int = 0


@dataclass(frozen=True)
class BusView:
    manifest: str  # the manifest's digest (hex); "" when the manifest could not be read
    pages: int | None
    seats: int | None
    arrived_at: datetime | None
    wait_seconds: int | None  # decided_at - arrived_at
    counts: Counts
    passengers: list[Passenger] = field(default_factory=list)
    departure: str = ""  # from the pass as issued
    arrival: str = ""
    manager_name: str = ""
    manager_id: str = ""  # masked, as the pass carries it

    @property
    def complete(self) -> bool:
        return bool(self.manifest) and bool(self.passengers)


def _bus(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    bus = body.get("bus")
    return bus if isinstance(bus, Mapping) else None


def is_bus(body: Mapping[str, Any]) -> bool:
    return _bus(body) is not None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _temperature(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        return None
    return found if found.is_finite() else None


def _people(bus: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    value = bus.get("passengers")
    return [p for p in value if isinstance(p, Mapping)] if isinstance(value, list) else []


def counts(body: Mapping[str, Any]) -> Counts:
    """The roll's counts (every reader may see them: how many were held is a number, not a person)."""
    bus = _bus(body)
    if bus is None:
        return Counts()
    people = _people(bus)
    dispositions = [p.get("disposition") for p in people]
    return Counts(
        listed=len(people),
        aboard=sum(1 for p in people if p.get("aboard") is True),
        absent=dispositions.count(ABSENT),
        quarantine=dispositions.count(QUARANTINE),
        held=dispositions.count(HELD),
    )


def wait_seconds(body: Mapping[str, Any], decided_at: datetime) -> int | None:
    """How long the bus waited in the priority lane: from the first scan of it to the decision."""
    bus = _bus(body)
    arrived = _moment(bus.get("arrived_at")) if bus else None
    if arrived is None:
        return None
    return max(int((decided_at - arrived).total_seconds()), 0)


def stations(claims_json: str | None) -> dict[str, Any]:
    """The bus as the pass names it (``PassClaims.readable()["bus"]``): seats, stations, manager; {} if none."""
    if not claims_json:
        return {}
    try:
        claims = json.loads(claims_json)
    except ValueError:
        return {}
    bus = claims.get("bus") if isinstance(claims, dict) else None
    return bus if isinstance(bus, dict) else {}


def _hard_hit(policy: Policy | None, origin: str | None, history: list[str]) -> str | None:
    if policy is None:
        return None
    for code in (origin, *history):
        area = policy.covers(code)
        if area:
            return area
    return None


def _passenger(
    raw: Mapping[str, Any], index: int, ids: Mapping[int, str], policy: Policy | None, *, health: bool
) -> Passenger:
    threshold = (policy or Policy()).fever_threshold_c
    number = _int(raw.get("n")) or index + 1
    aboard = raw.get("aboard") is True
    typed = _temperature(raw.get("temperature_c"))
    origin = raw.get("origin") if isinstance(raw.get("origin"), str) else None
    history = [str(c) for c in raw.get("travel_history") or [] if isinstance(c, str)]
    disposition = raw.get("disposition") if isinstance(raw.get("disposition"), str) else None
    if not aboard:
        measured = NOT_ABOARD
    elif typed is None:
        measured = MEASURED_NORMAL
    else:
        measured = MEASURED_TYPED
    fever: bool | None = None
    if health:
        # A purged record keeps whether the reading was a fever, not the reading.
        fever = (typed >= threshold) if typed is not None else raw.get("fever") is True
    return Passenger(
        number=number,
        name=str(raw.get("name") or ""),
        id_masked=ids.get(number, ""),
        origin=origin,
        travel_history=history,
        aboard=aboard,
        measured=measured if health or measured == NOT_ABOARD else "",
        temperature_c=typed if health else None,
        fever=fever,
        disposition=disposition if health or disposition not in HIDDEN_DISPOSITIONS else None,
        hard_hit=_hard_hit(policy, origin, history),
    )


def read(
    body: Mapping[str, Any],
    decided_at: datetime,
    *,
    claims_json: str | None = None,
    ids: Mapping[int, str] | None = None,
    policy: Policy | None = None,
    health: bool = True,
) -> BusView | None:
    """The bus of a crossing record, or None for a freight crossing."""
    bus = _bus(body)
    if bus is None:
        return None
    manifest = bus.get("manifest")
    named = stations(claims_json)
    manager: dict[str, Any] = named["manager"] if isinstance(named.get("manager"), dict) else {}
    return BusView(
        manifest=manifest if isinstance(manifest, str) else "",
        pages=_int(bus.get("pages")),
        seats=_int(bus.get("seats")) or _int(named.get("seats")),
        arrived_at=_moment(bus.get("arrived_at")),
        wait_seconds=wait_seconds(body, decided_at),
        counts=counts(body),
        passengers=[
            _passenger(raw, index, ids or {}, policy, health=health) for index, raw in enumerate(_people(bus))
        ],
        departure=str(named.get("departure") or ""),
        arrival=str(named.get("arrival") or ""),
        manager_name=str(manager.get("name") or ""),
        manager_id=str(manager.get("id_number") or ""),
    )
