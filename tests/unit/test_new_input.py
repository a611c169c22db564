"""What a new application must pass beyond its shape: regions that exist, names the pass prints, plate colours
that match the plate, no trailers, the driver not also an escort. Stored applications are read back leniently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from passcore.errors import InputError
from server.applications.schemas import ApplicationCreate, error_keys, parse_application
from tests.factories import DRIVER_ID, ESCORT_IDS, USCC

RARE = "\U00020000"  # CJK Extension B, not in the pass's font


def body(**changes: Any) -> dict[str, Any]:
    start = datetime(2026, 2, 10, 8, tzinfo=UTC)
    return {
        "enterprise": {"name": "昆山精密机械有限公司", "uscc": USCC},
        "vehicle": {"plate": "苏E·A1234", "plate_colour": "yellow"},
        "driver": {"name": "张伟", "id_number": DRIVER_ID, "licence_number": DRIVER_ID},
        "escorts": [{"name": "李娜", "id_number": ESCORT_IDS[0]}],
        "origin": "320583",
        "destination": "310000",
        "travel_history": ["320500", "110101"],
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=3)).isoformat(),
    } | changes


def keys(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InputError) as caught:
        parse_application(data)
    assert caught.value.code == "APPLICATION_INVALID"
    cause = caught.value.__cause__
    assert isinstance(cause, ValidationError)
    return error_keys(cause)


def test_an_ordinary_application_passes() -> None:
    parsed = parse_application(body())
    assert parsed.origin == "320583" and parsed.travel_history == ["320500", "110101"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"origin": "320599"}, "origin"),
        ({"destination": "110103"}, "destination"),  # 崇文区: merged into 东城区 in 2010
        ({"travel_history": ["320500", "429001"]}, "travel_history.1"),
    ],
)
def test_a_region_that_does_not_exist_is_refused_at_its_field(changes: dict[str, Any], field: str) -> None:
    assert keys(body(**changes)) == {field: "region_unknown"}


def test_region_message_names_the_code() -> None:
    with pytest.raises(InputError, match="320599 is not in the current GB/T 2260 table"):
        parse_application(body(origin="320599"))


@pytest.mark.parametrize("name", ["阿依古丽·买买提", "欧阳娜娜", "龑堃", "Zhang Wei"])
def test_ordinary_and_minority_names_pass(name: str) -> None:
    assert parse_application(body(driver={**body()["driver"], "name": name})).driver.name == name


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"driver": {"name": f"张{RARE}", "id_number": DRIVER_ID, "licence_number": DRIVER_ID}},
            "driver.name",
        ),
        ({"escorts": [{"name": f"李{RARE}", "id_number": ESCORT_IDS[0]}]}, "escorts.0.name"),
        ({"enterprise": {"name": f"昆山{RARE}有限公司", "uscc": USCC}}, "enterprise.name"),
    ],
)
def test_a_name_the_pass_cannot_print_is_refused(changes: dict[str, Any], field: str) -> None:
    assert keys(body(**changes)) == {field: "name_unprintable"}


def test_unprintable_message_names_the_characters() -> None:
    driver = {"name": f"张{RARE}", "id_number": DRIVER_ID, "licence_number": DRIVER_ID}
    with pytest.raises(InputError, match="U\\+20000"):
        parse_application(body(driver=driver))


@pytest.mark.parametrize(
    ("plate", "colour", "key"),
    [
        ("苏E·D12345", "blue", "plate_colour_new_energy"),
        ("苏E·12345D", "yellow", "plate_colour_new_energy"),
        ("苏E·A1234", "green", "plate_colour_not_new_energy"),
        ("苏E·A1234", "yellow_green", "plate_colour_not_new_energy"),
    ],
)
def test_plate_colour_must_match_the_plate(plate: str, colour: str, key: str) -> None:
    assert keys(body(vehicle={"plate": plate, "plate_colour": colour})) == {"vehicle.plate_colour": key}


@pytest.mark.parametrize(
    ("plate", "colour"),
    [("苏E·D12345", "green"), ("苏E·12345D", "yellow_green"), ("苏E·A1234", "blue"), ("苏E·A1234", "white")],
)
def test_matching_plate_colours_pass(plate: str, colour: str) -> None:
    assert (
        parse_application(body(vehicle={"plate": plate, "plate_colour": colour})).vehicle.plate_colour
        == colour
    )


def test_a_trailer_plate_is_refused_with_the_tractor_hint() -> None:
    data = body(vehicle={"plate": "苏E·A123挂", "plate_colour": "yellow"})
    assert keys(data) == {"vehicle.plate": "plate_trailer"}
    with pytest.raises(InputError, match="tractor unit"):
        parse_application(data)


def test_the_driver_cannot_also_be_an_escort() -> None:
    escorts = [{"name": "李娜", "id_number": ESCORT_IDS[0]}, {"name": "张伟", "id_number": DRIVER_ID}]
    assert keys(body(escorts=escorts)) == {"escorts.1.id_number": "driver_is_escort"}
    with pytest.raises(InputError) as caught:
        parse_application(body(escorts=escorts))
    assert DRIVER_ID not in caught.value.message  # the message names the field, never the number


def test_a_stored_application_is_read_back_without_the_new_input_checks() -> None:
    # Entered before the checks (or before the table changed): it must stay readable and issuable.
    old = body(
        origin="320599",
        vehicle={"plate": "苏E·A123挂", "plate_colour": "green"},
        driver={"name": f"张{RARE}", "id_number": DRIVER_ID, "licence_number": DRIVER_ID},
        escorts=[{"name": "张伟", "id_number": DRIVER_ID}],
    )
    assert ApplicationCreate.model_validate(old).origin == "320599"
