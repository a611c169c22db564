"""The portal's apply form: its flat fields <-> the application body, and body errors -> form fields.

Times come from ``datetime-local`` inputs, which carry no zone: they are read in the portal's zone
(Asia/Shanghai by default).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from passcore.claims import MAX_ESCORTS, PLATE_COLOURS
from server.applications.schemas import FREIGHT, MAX_PASSENGERS, PERSONNEL, ApplicationCreate

__all__ = ["COLOURS", "DEFAULT_ESCORT_ROWS", "PASSENGER_FIELDS", "ApplicationForm", "form_errors"]

COLOURS = tuple(PLATE_COLOURS)
DEFAULT_ESCORT_ROWS = 3
DEFAULT_PASSENGER_ROWS = 5
# A bus's manifest row on the form (issue 14): the columns of the passenger table, in order.
PASSENGER_FIELDS = ("name", "id_number", "phone", "origin", "travel_history")
PassengerRow = tuple[str, str, str, str, str]
_BUS_FIELDS = {"seats": "bus_seats", "departure": "bus_departure", "arrival": "bus_arrival"}
_LIST_SPLIT = re.compile(r"[,，、;；\s]+")
_TOP_FIELDS = {"origin", "destination", "cargo", "valid_from", "valid_until", "travel_history"}


def _local_input(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M")


def _aware_iso(text: str, zone: str) -> str:
    """An ISO time with its zone; text that is not a time is passed on for the schema to report."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return (moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))).isoformat()


@dataclass
class ApplicationForm:
    """What the clerk typed, as typed: re-shown unchanged next to the errors."""

    plate: str = ""
    plate_colour: str = "blue"
    driver_name: str = ""
    driver_id_number: str = ""
    driver_licence_number: str = ""
    driver_phone: str = ""
    escorts: list[tuple[str, str]] = field(default_factory=list)  # (name, ID number), filled rows only
    escort_rows: int = DEFAULT_ESCORT_ROWS
    origin: str = ""
    destination: str = ""
    travel_history: str = ""
    cargo: str = ""
    valid_from: str = ""
    valid_until: str = ""
    # A bus (issue 14): kind "personnel", the bus part and the passenger table (filled rows only).
    kind: str = FREIGHT
    bus_seats: str = ""
    bus_departure: str = ""
    bus_arrival: str = ""
    manager_name: str = ""
    manager_id_number: str = ""
    manager_phone: str = ""
    passengers: list[PassengerRow] = field(default_factory=list)
    passenger_rows: int = DEFAULT_PASSENGER_ROWS

    @classmethod
    def blank(cls, *, now: datetime, zone: str, max_days: int) -> ApplicationForm:
        start = now.astimezone(ZoneInfo(zone)).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return cls(
            valid_from=_local_input(start, zone),
            valid_until=_local_input(start + timedelta(days=min(14, max_days)), zone),
        )

    @classmethod
    def of(cls, body: ApplicationCreate, *, zone: str) -> ApplicationForm:
        return cls(
            plate=body.vehicle.plate,
            plate_colour=body.vehicle.plate_colour,
            driver_name=body.driver.name,
            driver_id_number=body.driver.id_number,
            driver_licence_number=body.driver.licence_number,
            driver_phone=body.driver.phone,
            escorts=[(e.name, e.id_number) for e in body.escorts],
            escort_rows=max(DEFAULT_ESCORT_ROWS, len(body.escorts)),
            origin=body.origin,
            destination=body.destination,
            travel_history=", ".join(body.travel_history),
            cargo=body.cargo,
            valid_from=_local_input(body.valid_from, zone),
            valid_until=_local_input(body.valid_until, zone),
            kind=body.kind,
            bus_seats=str(body.bus.seats) if body.bus else "",
            bus_departure=body.bus.departure if body.bus else "",
            bus_arrival=body.bus.arrival if body.bus else "",
            manager_name=body.bus.manager.name if body.bus else "",
            manager_id_number=body.bus.manager.id_number if body.bus else "",
            manager_phone=body.bus.manager.phone if body.bus else "",
            passengers=[
                (p.name, p.id_number, p.phone, p.origin, ", ".join(p.travel_history)) for p in body.passengers
            ],
            passenger_rows=max(DEFAULT_PASSENGER_ROWS, len(body.passengers)),
        )

    @classmethod
    def posted(
        cls,
        *,
        values: dict[str, str],
        escort_names: list[str],
        escort_ids: list[str],
        rows: str,
        passenger_columns: dict[str, list[str]] | None = None,
        passenger_rows: str = "",
    ) -> ApplicationForm:
        pairs = [(n.strip(), i.strip()) for n, i in zip(escort_names, escort_ids, strict=False)]
        escorts = [(n, i) for n, i in pairs if n or i]
        try:
            wanted = int(rows)
        except ValueError:
            wanted = DEFAULT_ESCORT_ROWS
        posted: dict[str, Any] = {
            k: v for k, v in values.items() if k in cls.__dataclass_fields__ and isinstance(v, str)
        }
        form = cls(**posted)
        if form.kind not in (FREIGHT, PERSONNEL):
            form = replace(form, kind=FREIGHT)
        columns = passenger_columns or {}
        count = max((len(columns.get(f) or []) for f in PASSENGER_FIELDS), default=0)
        table = [
            tuple(
                (columns.get(f) or [])[i].strip() if i < len(columns.get(f) or []) else ""
                for f in PASSENGER_FIELDS
            )
            for i in range(min(count, MAX_PASSENGERS + 1))
        ]
        passengers: list[PassengerRow] = [row for row in table if any(row)]  # type: ignore[misc]
        try:
            wanted_passengers = int(passenger_rows)
        except ValueError:
            wanted_passengers = DEFAULT_PASSENGER_ROWS
        return replace(
            form,
            escorts=escorts,
            escort_rows=max(len(escorts), min(wanted, MAX_ESCORTS)),
            passengers=passengers,
            passenger_rows=max(len(passengers), min(wanted_passengers, MAX_PASSENGERS)),
        )

    def with_more_rows(self) -> ApplicationForm:
        return replace(self, escort_rows=min(self.escort_rows + 1, MAX_ESCORTS))

    def with_more_passengers(self, count: int = 5) -> ApplicationForm:
        return replace(self, passenger_rows=min(self.passenger_rows + count, MAX_PASSENGERS))

    def without_passenger(self, index: int) -> ApplicationForm:
        """The form with the ``index``-th shown passenger row taken out (rows after it move up)."""
        rows = self.passenger_table()
        if 0 <= index < len(rows):
            del rows[index]
        filled = [row for row in rows if any(row)]
        return replace(self, passengers=filled, passenger_rows=max(len(filled), self.passenger_rows - 1, 1))

    def with_manifest(self, passengers: list[dict[str, Any]]) -> ApplicationForm:
        """The passenger table replaced by an imported manifest (a bus from then on)."""
        rows: list[PassengerRow] = [
            (
                p["name"],
                p["id_number"],
                p.get("phone", ""),
                p["origin"],
                ", ".join(p.get("travel_history") or []),
            )
            for p in passengers
        ]
        return replace(self, kind=PERSONNEL, passengers=rows, passenger_rows=max(len(rows), 1))

    def passenger_table(self) -> list[PassengerRow]:
        """The passenger rows to show: the filled ones, then empty ones up to the row count."""
        return self.passengers + [("", "", "", "", "")] * max(self.passenger_rows - len(self.passengers), 0)

    def rows(self) -> list[tuple[str, str]]:
        """The escort rows to show: the filled ones, then empty ones up to the row count."""
        return self.escorts + [("", "")] * max(self.escort_rows - len(self.escorts), 0)

    def data(self, *, zone: str) -> dict[str, Any]:
        """The application body (without the enterprise, which the service sets). Empty fields are left
        out, so the schema reports them as required rather than malformed."""

        def given(**values: Any) -> dict[str, Any]:
            return {k: v for k, v in values.items() if v not in ("", None)}

        body = given(
            vehicle=given(plate=self.plate.strip(), plate_colour=self.plate_colour),
            driver=given(
                name=self.driver_name,
                id_number=self.driver_id_number.strip(),
                licence_number=self.driver_licence_number.strip(),
                phone=self.driver_phone.strip(),
            ),
            escorts=[given(name=n, id_number=i) for n, i in self.escorts],
            origin=self.origin.strip(),
            destination=self.destination.strip(),
            travel_history=[c for c in _LIST_SPLIT.split(self.travel_history) if c],
            cargo=self.cargo,
            valid_from=_aware_iso(self.valid_from.strip(), zone) if self.valid_from.strip() else "",
            valid_until=_aware_iso(self.valid_until.strip(), zone) if self.valid_until.strip() else "",
        )
        if self.kind != PERSONNEL:
            return body
        seats = self.bus_seats.strip()
        body["kind"] = PERSONNEL
        body["escorts"] = []  # a bus has none: rows typed before switching the kind are not sent
        body["bus"] = given(
            seats=int(seats) if seats.isdigit() and len(seats) < 6 else seats,
            departure=self.bus_departure,
            arrival=self.bus_arrival,
            manager=given(
                name=self.manager_name,
                id_number=self.manager_id_number.strip(),
                phone=self.manager_phone.strip(),
            ),
        )
        body["passengers"] = [
            given(
                name=name,
                id_number=number.strip(),
                phone=phone.strip(),
                origin=origin.strip(),
                travel_history=[c for c in _LIST_SPLIT.split(history) if c],
            )
            for name, number, phone, origin, history in self.passengers
        ]
        return body


def form_errors(fields: dict[str, str]) -> dict[str, str]:
    """Body field paths (``driver.id_number``, ``escorts.1.name``) -> the form's input names."""
    errors: dict[str, str] = {}
    for path, key in fields.items():
        parts = path.split(".")
        head = parts[0]
        if head == "vehicle":
            name = parts[1] if len(parts) > 1 else "plate"
        elif head == "driver":
            name = f"driver_{parts[1]}" if len(parts) > 1 else "driver_name"
        elif head == "escorts":
            name = f"escort_{parts[2]}_{parts[1]}" if len(parts) > 2 else "escorts"
        elif head == "bus":
            if len(parts) > 2 and parts[1] == "manager":
                name = f"manager_{parts[2]}"
            else:
                name = _BUS_FIELDS.get(parts[1], "bus_seats") if len(parts) > 1 else "bus_seats"
        elif head == "passengers":
            name = f"passenger_{parts[2]}_{parts[1]}" if len(parts) > 2 else "passengers"
        elif head == "kind":
            name = "kind"
        elif head in _TOP_FIELDS:
            name = head
        else:
            name = "form"  # the enterprise part, or a field the form does not have
        errors.setdefault(name, key)
    return errors
