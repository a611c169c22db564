"""Checks only what someone types now must pass: regions in the current table, names the pass can print, plate
colour matching the plate, no trailer plates, the driver not also an escort.

``parse_application`` validates with ``NEW_INPUT`` as pydantic's context. An application stored earlier is read back
without it (``ApplicationCreate.model_validate``): it was valid when it was entered, and a table that changed since
(a region merged, a font without some glyph) must not make it unreadable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError, ValidationInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from passcore import ids
from passcore.errors import InputError
from server import pdf_font
from server.regions import table

__all__ = [
    "DUPLICATE_KEYS",
    "NEW_INPUT",
    "check_plate",
    "check_region",
    "manifest",
    "printable_name",
    "unprintable_message",
    "whole",
]

NEW_INPUT = {"new_input": True}
# The keys of a bus's people named twice (``manifest``): parse_application answers PASSENGER_DUPLICATE for them.
DUPLICATE_KEYS = frozenset(
    {"manager_is_driver", "passenger_is_driver", "passenger_is_manager", "passenger_duplicate"}
)

# GA 36-2018: new-energy plates have 8 characters, small vehicles' gradient green, large ones' yellow-green;
# every other plate has 7 and is blue (small), yellow (large, trailers, learners), white (police, armed police,
# emergency) or black (foreign-owned, border crossing) — never green.
NEW_ENERGY_COLOURS = frozenset({"green", "yellow_green"})


def _is_new(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and bool(info.context.get("new_input"))


def _problem(key: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(key, "{message}", {"message": message})


def check_region(value: str, info: ValidationInfo) -> str:
    if _is_new(info):
        try:
            table.check_exists(value)
        except InputError as err:
            raise _problem(err.code.lower(), err.message) from err
    return value


def unprintable_message(chars: str) -> str:
    shown = "、".join(f"{ch} (U+{ord(ch):04X})" for ch in chars)
    return f"the printed pass cannot show {shown}; write the name with common characters or in pinyin"


def printable_name(value: str, info: ValidationInfo) -> str:
    """A name the pass's font can print, so no character of it comes out as a box at the checkpoint."""
    if _is_new(info) and (chars := pdf_font.unrenderable(value)):
        raise _problem("name_unprintable", unprintable_message(chars))
    return value


def check_plate(value: str, info: ValidationInfo) -> str:
    if _is_new(info) and value.endswith("挂"):
        raise _problem(
            "plate_trailer",
            "a trailer (挂) cannot hold a pass of its own: apply with the plate of the tractor unit pulling it",
        )
    return value


def _colour_problem(plate: str, colour: str) -> PydanticCustomError | None:
    if len(plate) == 8 and colour not in NEW_ENERGY_COLOURS:
        return _problem(
            "plate_colour_new_energy",
            "an 8-character plate is a new-energy plate: green (yellow-green on large vehicles)",
        )
    if len(plate) != 8 and colour in NEW_ENERGY_COLOURS:
        return _problem(
            "plate_colour_not_new_energy",
            "green plates are new-energy plates with 8 characters; a 7-character plate is blue, yellow, white or black",
        )
    return None


def whole(
    info: ValidationInfo, *, plate: str, plate_colour: str, driver_id: str, escort_ids: Sequence[str]
) -> None:
    """The checks across fields, each reported at its field (``vehicle.plate_colour``, ``escorts.1.id_number``)."""
    if not _is_new(info):
        return
    problems: list[InitErrorDetails] = []
    if (colour := _colour_problem(plate, plate_colour)) is not None:
        problems.append(_at(colour, ("vehicle", "plate_colour"), plate_colour))
    for position, escort_id in enumerate(escort_ids):
        if escort_id == driver_id:
            problem = _problem("driver_is_escort", "the driver cannot also be an escort (same ID number)")
            problems.append(_at(problem, ("escorts", position, "id_number"), ids.mask_id(escort_id)))
    if problems:
        raise ValidationError.from_exception_data("ApplicationCreate", problems)


def manifest(
    info: ValidationInfo, *, driver_id: str, manager_id: str | None, passenger_ids: Sequence[str]
) -> None:
    """A bus's people are each one person once (PASSENGER_DUPLICATE): no ID number twice in the manifest, the
    driver and the manager not among the passengers, and the manager not the driver."""
    if not _is_new(info):
        return
    problems: list[InitErrorDetails] = []
    if manager_id is not None and manager_id == driver_id:
        problem = _problem(
            "manager_is_driver", "the on-board manager cannot also be the driver (same ID number)"
        )
        problems.append(_at(problem, ("bus", "manager", "id_number"), ids.mask_id(manager_id)))
    seen: dict[str, int] = {}
    for position, number in enumerate(passenger_ids):
        if number == driver_id:
            problem = _problem("passenger_is_driver", "the driver is not a passenger (same ID number)")
        elif number == manager_id:
            problem = _problem(
                "passenger_is_manager", "the on-board manager is not a passenger (same ID number)"
            )
        elif number in seen:
            problem = _problem(
                "passenger_duplicate", f"the same ID number as passenger {seen[number] + 1} of the list"
            )
        else:
            seen[number] = position
            continue
        problems.append(_at(problem, ("passengers", position, "id_number"), ids.mask_id(number)))
    if problems:
        raise ValidationError.from_exception_data("ApplicationCreate", problems)


def _at(problem: PydanticCustomError, loc: tuple[str | int, ...], value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=problem, loc=loc, input=value)
