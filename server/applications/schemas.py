"""The application for a pass: the shape of `checkpass issue APPLICATION.json` and of the API's body, and what
the JSON API answers about applications.

Validation uses passcore.ids, so a plate, ID number, credit code or region code means the same everywhere.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from passcore import ids
from passcore.claims import MAX_ESCORTS, MAX_NAME, normalise_colour
from passcore.errors import InputError
from server.accounts.models import BUREAU_ROLES, User
from server.applications import new_input
from server.applications.models import ApplicationEvent

__all__ = [
    "FREIGHT",
    "KINDS",
    "MAX_PASSENGERS",
    "MAX_SEATS",
    "PERSONNEL",
    "ApplicationBody",
    "ApplicationCreate",
    "ApplicationList",
    "ApplicationPublic",
    "ApplicationShown",
    "ApplicationSummary",
    "BusInfo",
    "EventPublic",
    "Manager",
    "Passenger",
    "ReasonBody",
    "error_keys",
    "parse_application",
]


def _problem(key: str, message: str) -> PydanticCustomError:
    """A validation error whose type is a stable key (for forms and API clients) and whose text is ``message``."""
    # The message goes in as a context value: a template would read braces in it as placeholders.
    return PydanticCustomError(key, "{message}", {"message": message})


def _ids_check(check: Any) -> Any:
    def run(value: str) -> str:
        try:
            return check(value)  # type: ignore[no-any-return]
        except InputError as err:
            raise _problem(err.code.lower(), err.message) from err

    return run


def _person_name(value: str) -> str:
    value = unicodedata.normalize("NFC", value.strip())
    # Invisible and control characters would make two names that look alike compare unequal at the checkpoint.
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise _problem("name_invisible", "names may not contain control or invisible characters")
    if not value:
        raise _problem("name_empty", "name is empty")
    return value


def _phone(value: str) -> str:
    value = value.strip()
    if value and not all(ch.isdigit() or ch in "+- " for ch in value):
        raise _problem("phone_invalid", "a phone number has digits, spaces, + and - only")
    return value


def _colour(value: str) -> str:
    try:
        return normalise_colour(value)
    except ValueError as err:
        raise _problem("plate_colour_invalid", str(err)) from err


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise _problem("time_zone_missing", "give the time with its zone, e.g. 2026-02-10T08:00:00+08:00")
    return value


Name = Annotated[
    str, Field(max_length=MAX_NAME), AfterValidator(_person_name), AfterValidator(new_input.printable_name)
]
IdNumber = Annotated[str, Field(max_length=40), AfterValidator(_ids_check(ids.validate_id_number))]
Region = Annotated[
    str,
    Field(max_length=10),
    AfterValidator(_ids_check(ids.validate_region)),
    AfterValidator(new_input.check_region),
]
AwareTime = Annotated[datetime, AfterValidator(_aware)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=200)


class EnterpriseRef(_Strict):
    name: Annotated[
        str,
        Field(min_length=1, max_length=100),
        AfterValidator(_person_name),
        AfterValidator(new_input.printable_name),
    ]
    uscc: Annotated[str, Field(max_length=40), AfterValidator(_ids_check(ids.validate_uscc))]


class Vehicle(_Strict):
    plate: Annotated[
        str,
        Field(max_length=20),
        AfterValidator(_ids_check(ids.normalize_plate)),
        AfterValidator(new_input.check_plate),
    ]
    plate_colour: Annotated[str, AfterValidator(_colour)] = "blue"


class Escort(_Strict):
    name: Name
    id_number: IdNumber


class Driver(Escort):
    # A Chinese driving licence number is the holder's ID number; other licence numbers are kept as given.
    licence_number: Annotated[str, Field(min_length=6, max_length=24, pattern=r"^[0-9A-Za-z]+$")]
    phone: Annotated[str, Field(max_length=20), AfterValidator(_phone)] = ""


# Issue 14: a pass is for freight (the default: a body without ``kind``) or for personnel transport (a chartered
# bus, 站到站, with its on-board manager and a manifest of passengers).
FREIGHT, PERSONNEL = "freight", "personnel"
KINDS = (FREIGHT, PERSONNEL)
MAX_PASSENGERS = 100
MAX_SEATS = 120
MAX_STATION = 40
Phone = Annotated[str, Field(max_length=20), AfterValidator(_phone)]


def _station(value: str) -> str:
    value = unicodedata.normalize("NFC", value.strip())
    if not value:
        raise _problem("station_empty", "name the station")
    if len(value) > MAX_STATION:
        raise _problem("too_long", f"a station's name has at most {MAX_STATION} characters")
    return ids.check_text(value)


Station = Annotated[
    str, Field(max_length=200), AfterValidator(_ids_check(_station)), AfterValidator(new_input.printable_name)
]


class Manager(_Strict):
    """The employing enterprise's manager on board (用工企业派员随车管理): the receiving staff of its quarantine."""

    name: Name
    id_number: IdNumber
    phone: Annotated[Phone, Field(min_length=1)]


class BusInfo(_Strict):
    seats: Annotated[int, Field(strict=True, ge=1, le=MAX_SEATS)]  # passenger seats, the driver's not counted
    departure: Station
    arrival: Station
    manager: Manager


class Passenger(_Strict):
    name: Name
    id_number: IdNumber
    phone: Phone = ""
    origin: Region
    travel_history: list[Region] = Field(default_factory=list, max_length=16)


class ApplicationCreate(_Strict):
    kind: Literal["freight", "personnel"] = "freight"
    enterprise: EnterpriseRef
    vehicle: Vehicle
    driver: Driver
    escorts: list[Escort] = Field(default_factory=list, max_length=MAX_ESCORTS)
    origin: Region
    destination: Region
    travel_history: list[Region] = Field(default_factory=list, max_length=16)
    cargo: Annotated[str, Field(max_length=60), AfterValidator(_ids_check(ids.check_text))] = ""
    valid_from: AwareTime
    valid_until: AwareTime
    bus: BusInfo | None = None
    passengers: list[Passenger] = Field(default_factory=list, max_length=MAX_PASSENGERS)

    @model_validator(mode="after")
    def _kind(self) -> ApplicationCreate:
        """A bus has its bus part and 1..100 passengers and no escorts (its manager receives); freight has none."""
        problems: list[tuple[str, str, tuple[str | int, ...]]] = []
        if self.kind == PERSONNEL:
            if self.bus is None:
                problems.append(("bus_required", "a personnel-transport pass needs its bus part", ("bus",)))
            if not self.passengers:
                problems.append(
                    ("passengers_required", "a bus needs at least one passenger", ("passengers",))
                )
            if self.escorts:
                message = "a bus has no escorts: its on-board manager is the receiving staff"
                problems.append(("bus_escorts", message, ("escorts",)))
        elif self.bus is not None or self.passengers:
            message = "only a personnel-transport pass (kind personnel) has a bus and passengers"
            problems.append(("freight_passengers", message, ("kind",)))
        if problems:
            raise ValidationError.from_exception_data(
                "ApplicationCreate",
                [
                    InitErrorDetails(type=_problem(key, message), loc=loc, input=self.kind)
                    for key, message, loc in problems
                ],
            )
        return self

    @model_validator(mode="after")
    def _window(self) -> ApplicationCreate:
        if self.valid_until <= self.valid_from:
            raise _problem("window_order", "valid_until must be after valid_from")
        return self

    @model_validator(mode="after")
    def _new_input(self, info: ValidationInfo) -> ApplicationCreate:
        new_input.whole(
            info,
            plate=self.vehicle.plate,
            plate_colour=self.vehicle.plate_colour,
            driver_id=self.driver.id_number,
            escort_ids=[escort.id_number for escort in self.escorts],
        )
        new_input.manifest(
            info,
            driver_id=self.driver.id_number,
            manager_id=self.bus.manager.id_number if self.bus else None,
            passenger_ids=[p.id_number for p in self.passengers],
        )
        return self


def parse_application(data: Any) -> ApplicationCreate:
    """Validate an application; every problem is reported in one ``InputError`` naming its field."""
    try:
        return ApplicationCreate.model_validate(data, context=new_input.NEW_INPUT)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'application'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
        # A bus's manifest naming one person twice has its own code (issue 14); the fields say where.
        duplicate = any(str(e["type"]) in new_input.DUPLICATE_KEYS for e in err.errors())
        code = "PASSENGER_DUPLICATE" if duplicate else "APPLICATION_INVALID"
        raise InputError(f"invalid application: {problems}", code=code) from err


# Pydantic's own error types -> our keys; the custom ones above (and passcore's codes) pass through as they are.
_PYDANTIC_KEYS = {
    "missing": "required",
    "string_too_long": "too_long",
    "too_long": "too_many",
    "extra_forbidden": "unknown_field",
    "string_type": "wrong_type",
    "list_type": "wrong_type",
    "dict_type": "wrong_type",
    "model_type": "wrong_type",
    "model_attributes_type": "wrong_type",
}


def error_keys(err: ValidationError) -> dict[str, str]:
    """``{"driver.id_number": "id_number_invalid", …}``: each problem's field (dotted) and a stable message key.

    The first problem of a field wins; a problem with the whole application (the window's order) is the
    end of the window's.
    """
    keys: dict[str, str] = {}
    for error in err.errors():
        field = ".".join(map(str, error["loc"])) or "valid_until"
        kind = str(error["type"])
        if field.endswith("licence_number") and kind in ("string_too_short", "string_pattern_mismatch"):
            key = "licence_invalid"
        elif kind.startswith(("datetime", "date", "time")) and kind != "time_zone_missing":
            key = "time_invalid"
        elif kind in _PYDANTIC_KEYS:
            key = _PYDANTIC_KEYS[kind]
        elif isinstance(error.get("ctx"), dict) and "message" in error["ctx"]:
            key = kind  # one of ours
        else:
            key = "invalid"
        keys.setdefault(field, key)
    return keys


# ---- what the JSON API answers ------------------------------------------------------------------------------


class ApplicationBody(ApplicationCreate):
    """The application file's shape; ``enterprise`` may be left out: it is always the applicant's own."""

    enterprise: EnterpriseRef | None = None  # type: ignore[assignment]


class ReasonBody(BaseModel):
    reason: str = Field(default="", max_length=5000, description="why; required, at most 500 characters")


class RiskReason(BaseModel):
    code: str = Field(
        description="origin, destination, travel_history, plate, driver_birthplace, escort_birthplace, "
        "passenger_origin, passenger_travel_history (the place is in the hard-hit area), refusals, "
        "revocations (the enterprise's earlier ones)"
    )
    detail: str = Field(description="the region code, or the count")


class ApplicationSummary(BaseModel):
    id: int
    status: str
    enterprise_uscc: str
    enterprise_name: str
    plate: str
    valid_from: datetime | None
    valid_until: datetime | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    reason: str = Field(description="the rejection's (or revocation's) reason")
    pass_id: str | None
    serial: str | None = Field(description="the pass's number, e.g. 320583-000001")
    risk: int | None = Field(
        default=None,
        description="bureau staff only (null for enterprises): how many risk reasons, 0 = no flag",
    )
    risk_reasons: list[RiskReason] | None = Field(default=None, description="bureau staff only: the reasons")


class PersonShown(BaseModel):
    name: str
    id_number: str = Field(description="masked, e.g. 320583********1234")


class DriverShown(PersonShown):
    licence_number: str = Field(description="masked")
    phone: str


class ManagerShown(PersonShown):
    phone: str


class BusShown(BaseModel):
    seats: int
    departure: str
    arrival: str
    manager: ManagerShown


class PassengerShown(PersonShown):
    phone: str
    origin: str
    travel_history: list[str]


class ApplicationShown(BaseModel):
    """An application as the API answers it: as applied for, ID and licence numbers masked (only the reviewer's
    review page shows them in full)."""

    enterprise: EnterpriseRef
    vehicle: Vehicle
    driver: DriverShown
    escorts: list[PersonShown]
    origin: str
    destination: str
    travel_history: list[str]
    cargo: str
    valid_from: datetime
    valid_until: datetime
    kind: str = Field(default=FREIGHT, description="freight | personnel (a bus, issue 14)")
    bus: BusShown | None = Field(default=None, description="a bus only: seats, stations, manager (masked)")
    passengers: list[PassengerShown] = Field(default_factory=list, description="a bus's manifest, masked")

    @classmethod
    def masked(cls, body: ApplicationCreate) -> ApplicationShown:
        driver = body.driver
        bus = body.bus
        return cls(
            **body.model_dump(exclude={"driver", "escorts", "bus", "passengers"}),
            bus=BusShown(
                seats=bus.seats,
                departure=bus.departure,
                arrival=bus.arrival,
                manager=ManagerShown(
                    name=bus.manager.name,
                    id_number=ids.mask_id(bus.manager.id_number),
                    phone=bus.manager.phone,
                ),
            )
            if bus
            else None,
            passengers=[
                PassengerShown(**{**p.model_dump(), "id_number": ids.mask_id(p.id_number)})
                for p in body.passengers
            ],
            driver=DriverShown(
                name=driver.name,
                id_number=ids.mask_id(driver.id_number),
                licence_number=ids.mask_id(driver.licence_number),
                phone=driver.phone,
            ),
            escorts=[PersonShown(name=e.name, id_number=ids.mask_id(e.id_number)) for e in body.escorts],
        )


class ApplicationPublic(ApplicationSummary):
    application: ApplicationShown = Field(description="as applied for, ID and licence numbers masked")


class ApplicationList(BaseModel):
    items: list[ApplicationSummary]
    total: int


class EventPublic(BaseModel):
    at: datetime
    from_status: str = Field(description="empty for the creation")
    to_status: str = Field(description="equal to from_status (draft) for an edit")
    reason: str
    actor_role: str | None = Field(description="None: the system (e.g. expiry)")
    actor: str | None = Field(description="the username; shown to bureau staff only")

    @classmethod
    def of(cls, event: ApplicationEvent, actor: User | None, viewer: User) -> EventPublic:
        return cls(
            at=event.at,
            from_status=event.from_status,
            to_status=event.to_status,
            reason=event.reason,
            actor_role=actor.role if actor else None,
            actor=actor.username if actor and viewer.role in BUREAU_ROLES else None,
        )
