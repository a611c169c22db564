"""What the crossings CSV adds to each crossing beyond its own record: the pass's printed number, the masked ID
numbers of the people the pass names (a bus's on-board manager too), a bus pass's stations, the escort request's
times — and the people laid out in columns of their own.

The crossing record holds names and temperatures but no ID digits (passcore.crossing); the pass holds the masked
numbers (320583********1234), so an occupant is matched to the pass's person of the same name. Everything is looked
up a batch of crossings at a time: one query for the passes and one for the escort requests per 2,000 rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from passcore.claims import MAX_ESCORTS
from server.audit import buses
from server.audit.queries import Row
from server.crossings.models import EscortRequest
from server.passes.models import IssuedPass

__all__ = ["BUS_COLUMNS", "ESCORT_SLOTS", "Extra", "bus_cells", "extras", "people_cells", "people_header"]

ESCORT_SLOTS = MAX_ESCORTS  # a pass names at most this many escorts; more escorts aboard go to "others"
_IN_CHUNK = 500  # bound parameters per IN (…): well under SQLite's and PostgreSQL's limits
Translate = Callable[..., str]


@dataclass(frozen=True)
class Extra:
    serial: str = ""
    masked: dict[str, str] = field(default_factory=dict)  # name on the pass -> masked ID number
    escort: EscortRequest | None = None
    bus: dict[str, Any] = field(
        default_factory=dict
    )  # a bus pass's seats, stations and manager (buses.stations)


def _masked_ids(claims_json: str) -> dict[str, str]:
    try:
        claims = json.loads(claims_json)
    except ValueError:
        return {}
    bus = claims.get("bus") if isinstance(claims.get("bus"), dict) else {}
    people = [claims.get("driver") or {}, *(claims.get("escorts") or []), bus.get("manager") or {}]
    found: dict[str, str] = {}
    for person in people:
        if isinstance(person, dict) and person.get("name") and person.get("id_number"):
            found.setdefault(str(person["name"]), str(person["id_number"]))
    return found


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[start : start + _IN_CHUNK] for start in range(0, len(values), _IN_CHUNK)]


def extras(session: Session, rows: Sequence[Row]) -> dict[str, Extra]:
    """Per crossing id, what the CSV adds; crossings without a pass or an escort request get an empty Extra."""
    pass_ids = sorted({row.crossing.pass_id for row in rows if row.crossing.pass_id})
    passes: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {}
    for part in _chunks(pass_ids):
        query = select(IssuedPass.pass_id, IssuedPass.serial, IssuedPass.claims_json).where(
            col(IssuedPass.pass_id).in_(part)
        )
        for pass_id, serial, claims_json in session.exec(query):
            passes[pass_id] = (serial, _masked_ids(claims_json), buses.stations(claims_json))
    escorted = sorted(row.crossing.id for row in rows if row.crossing.outcome == "ESCORT_REQUIRED")
    escorts: dict[str, EscortRequest] = {}
    for part in _chunks(escorted):
        for escort in session.exec(select(EscortRequest).where(col(EscortRequest.crossing_id).in_(part))):
            escorts[escort.crossing_id] = escort
    found: dict[str, Extra] = {}
    for row in rows:
        crossing = row.crossing
        serial, masked, bus = passes.get(crossing.pass_id or "", ("", {}, {}))
        found[crossing.id] = Extra(serial, masked, escorts.get(crossing.id), bus)
    return found


def people_header(t: Translate) -> list[str]:
    header = [t("audit.csv.driver_name"), t("audit.csv.driver_id"), t("audit.csv.driver_temperature")]
    for number in range(1, ESCORT_SLOTS + 1):
        header += [
            t("audit.csv.escort_name", n=number),
            t("audit.csv.escort_id", n=number),
            t("audit.csv.escort_temperature", n=number),
        ]
    return [*header, t("audit.csv.others")]


def _temperature(occupant: dict[str, Any], health: bool) -> str:
    value = occupant.get("temperature_c") if health else None
    return "" if value is None else str(value)


def people_cells(
    occupants: list[dict[str, Any]], masked: dict[str, str], t: Translate, *, health: bool
) -> list[str]:
    """The driver's three cells, three for each escort slot, and one cell with everyone else ("随车人员 name
    36.5; …"). The first driver aboard takes the driver's cells; another driver goes to the others."""
    driver: list[str] = ["", "", ""]
    escorts: list[list[str]] = []
    others: list[str] = []
    has_driver = False
    for occupant in occupants:
        name = str(occupant.get("name") or "")
        role = str(occupant.get("role") or "")
        cells = [name, masked.get(name, "") if name else "", _temperature(occupant, health)]
        if role == "driver" and not has_driver:
            driver, has_driver = cells, True
        elif role == "escort" and len(escorts) < ESCORT_SLOTS:
            escorts.append(cells)
        else:
            words = [t(f"audit.role.{role}") if role else "", *cells]
            others.append(" ".join(word for word in words if word))
    flat = list(driver)
    for number in range(ESCORT_SLOTS):
        flat += escorts[number] if number < len(escorts) else ["", "", ""]
    return [*flat, "; ".join(others)]


def escort_times(extra: Extra, moment: Callable[[datetime | None], str]) -> list[str]:
    escort = extra.escort
    if escort is None:
        return ["", "", ""]
    return [moment(escort.requested_at), moment(escort.answered_at), moment(escort.handed_over_at)]


# A bus's columns (empty for a freight vehicle but the kind): counts of the roll, no names (the passengers CSV of
# one bus has those, ``export.passengers_csv``).
BUS_COLUMNS = (
    "kind",
    "stations",
    "seats",
    "passengers_listed",
    "passengers_aboard",
    "passengers_absent",
    "passengers_quarantine",
    "passengers_held",
    "bus_wait_seconds",
)


def bus_cells(row: Row, extra: Extra, t: Translate) -> list[Any]:
    counts = row.bus
    if counts is None:
        return [t("audit.kind.freight"), *[""] * (len(BUS_COLUMNS) - 1)]
    named = extra.bus
    departure, arrival = str(named.get("departure") or ""), str(named.get("arrival") or "")
    seats = (row.body.get("bus") or {}).get("seats") or named.get("seats") or ""
    wait = row.wait_seconds
    return [
        t("audit.kind.personnel"),
        f"{departure} → {arrival}" if departure or arrival else "",
        seats,
        counts.listed,
        counts.aboard,
        counts.absent,
        counts.quarantine,
        counts.held,
        "" if wait is None else wait,
    ]
