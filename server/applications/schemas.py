"""The application for a pass: the shape of `checkpass issue APPLICATION.json` and of the API's body.

Validation uses passcore.ids, so a plate, ID number, credit code or region code means the same everywhere.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from passcore import ids
from passcore.claims import MAX_ESCORTS, MAX_NAME, normalise_colour
from passcore.errors import InputError

__all__ = ["ApplicationCreate", "parse_application"]


def _ids_check(check: Any) -> Any:
    def run(value: str) -> str:
        try:
            return check(value)  # type: ignore[no-any-return]
        except InputError as err:
            raise ValueError(err.message) from err

    return run


def _person_name(value: str) -> str:
    value = unicodedata.normalize("NFC", value.strip())
    # Invisible and control characters would make two names that look alike compare unequal at the checkpoint.
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise ValueError("names may not contain control or invisible characters")
    if not value:
        raise ValueError("name is empty")
    return value


def _phone(value: str) -> str:
    value = value.strip()
    if value and not all(ch.isdigit() or ch in "+- " for ch in value):
        raise ValueError("a phone number has digits, spaces, + and - only")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give the time with its zone, e.g. 2026-02-10T08:00:00+08:00")
    return value


Name = Annotated[str, Field(max_length=MAX_NAME), AfterValidator(_person_name)]
IdNumber = Annotated[str, Field(max_length=40), AfterValidator(_ids_check(ids.validate_id_number))]
Region = Annotated[str, Field(max_length=10), AfterValidator(_ids_check(ids.validate_region))]
AwareTime = Annotated[datetime, AfterValidator(_aware)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=200)


class EnterpriseRef(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_person_name)]
    uscc: Annotated[str, Field(max_length=40), AfterValidator(_ids_check(ids.validate_uscc))]


class Vehicle(_Strict):
    plate: Annotated[str, Field(max_length=20), AfterValidator(_ids_check(ids.normalize_plate))]
    plate_colour: Annotated[str, AfterValidator(normalise_colour)] = "blue"


class Escort(_Strict):
    name: Name
    id_number: IdNumber


class Driver(Escort):
    # A Chinese driving licence number is the holder's ID number; other licence numbers are kept as given.
    licence_number: Annotated[str, Field(min_length=6, max_length=24, pattern=r"^[0-9A-Za-z]+$")]
    phone: Annotated[str, Field(max_length=20), AfterValidator(_phone)] = ""


class ApplicationCreate(_Strict):
    enterprise: EnterpriseRef
    vehicle: Vehicle
    driver: Driver
    escorts: list[Escort] = Field(default_factory=list, max_length=MAX_ESCORTS)
    origin: Region
    destination: Region
    travel_history: list[Region] = Field(default_factory=list, max_length=16)
    cargo: Annotated[str, Field(max_length=60)] = ""
    valid_from: AwareTime
    valid_until: AwareTime

    @model_validator(mode="after")
    def _window(self) -> ApplicationCreate:
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


def parse_application(data: Any) -> ApplicationCreate:
    """Validate an application; every problem is reported in one ``InputError`` naming its field."""
    try:
        return ApplicationCreate.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'application'}: {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
        raise InputError(f"invalid application: {problems}", code="APPLICATION_INVALID") from err
