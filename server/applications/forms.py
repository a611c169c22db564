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
from server.applications.schemas import ApplicationCreate

__all__ = ["COLOURS", "DEFAULT_ESCORT_ROWS", "ApplicationForm", "form_errors"]

COLOURS = tuple(PLATE_COLOURS)
DEFAULT_ESCORT_ROWS = 3
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
        )

    @classmethod
    def posted(
        cls, *, values: dict[str, str], escort_names: list[str], escort_ids: list[str], rows: str
    ) -> ApplicationForm:
        pairs = [(n.strip(), i.strip()) for n, i in zip(escort_names, escort_ids, strict=False)]
        escorts = [(n, i) for n, i in pairs if n or i]
        try:
            wanted = int(rows)
        except ValueError:
            wanted = DEFAULT_ESCORT_ROWS
        posted: dict[str, Any] = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        form = cls(**posted)
        return replace(form, escorts=escorts, escort_rows=max(len(escorts), min(wanted, MAX_ESCORTS)))

    def with_more_rows(self) -> ApplicationForm:
        return replace(self, escort_rows=min(self.escort_rows + 1, MAX_ESCORTS))

    def rows(self) -> list[tuple[str, str]]:
        """The escort rows to show: the filled ones, then empty ones up to the row count."""
        return self.escorts + [("", "")] * max(self.escort_rows - len(self.escorts), 0)

    def data(self, *, zone: str) -> dict[str, Any]:
        """The application body (without the enterprise, which the service sets). Empty fields are left
        out, so the schema reports them as required rather than malformed."""

        def given(**values: Any) -> dict[str, Any]:
            return {k: v for k, v in values.items() if v not in ("", None)}

        return given(
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
        elif head in _TOP_FIELDS:
            name = head
        else:
            name = "form"  # the enterprise part, or a field the form does not have
        errors.setdefault(name, key)
    return errors
