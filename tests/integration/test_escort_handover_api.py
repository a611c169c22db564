"""The hand-over names who took the vehicle over and the officer (issue 12 point 6): the device API checks them,
an older device that sends only the time still works, the first hand-over stands with its identity; the bureau's
audit and escort pages show who, the officer and the total wait; an enterprise sees its staff member's name but
not the ID ending nor the officer's number. (SQLite and PostgreSQL: the `app` fixture runs on both.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import HOSTILE
from tests.integration.test_escorts import device, escort, escort_of

device_factory = checkpoint_devices.device_factory  # the fixtures, for this module
__all__ = ["device", "escort"]

TAKER = {"staff_name": "吴芳", "staff_id_last4": "567x", "officer": "KS-0042"}


def handover(device, escort, **body):
    at = (escort.requested_at + timedelta(minutes=75)).isoformat()
    return device.post(f"/api/v1/escorts/{escort.id}/handover", json={"at": at} | body)


def test_the_hand_over_records_who_took_the_vehicle_and_the_officer(app, device, escort):
    answer = handover(device, escort, **TAKER)
    assert answer.status_code == 200, answer.text
    assert answer.json()["handover"] == {
        "staff_name": "吴芳",
        "staff_id_last4": "567X",
        "officer": "KS-0042",
        "waited_minutes": 75,
    }
    stored = escort_of(app, escort.crossing_id)
    assert (stored.handover_staff_name, stored.handover_staff_id_last4, stored.handover_officer) == (
        "吴芳",
        "567X",
        "KS-0042",
    )
    # Sent again by another laptop with someone else: the first hand-over stands, with who it was.
    again = handover(device, escort, staff_name="别人", staff_id_last4="0000", officer="KS-0001")
    assert again.status_code == 200 and again.json()["handover"]["staff_name"] == "吴芳"
    # The other devices of the checkpoint learn who took it over with the request.
    fetched = device.get("/api/v1/escorts", params={"since": "2000-01-01T00:00:00Z"}).json()["escorts"]
    assert [e["handover"]["staff_id_last4"] for e in fetched] == ["567X"]


def test_an_older_device_that_sends_only_the_time_still_hands_over(app, device, escort):
    answer = handover(device, escort)
    assert answer.status_code == 200 and answer.json()["status"] == "handed_over"
    assert answer.json()["handover"] == {
        "staff_name": "",
        "staff_id_last4": "",
        "officer": None,
        "waited_minutes": 75,
    }
    assert escort_of(app, escort.crossing_id).handover_officer is None


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"staff_name": "", "staff_id_last4": "1234"}, {"staff_name": "HANDOVER_STAFF_NAME_INVALID"}),
        ({"staff_name": "x" * 51, "staff_id_last4": "1234"}, {"staff_name": "HANDOVER_STAFF_NAME_INVALID"}),
        ({"staff_name": "周\x00敏", "staff_id_last4": "1234"}, {"staff_name": "HANDOVER_STAFF_NAME_INVALID"}),
        (
            {"staff_name": "周\u202e敏", "staff_id_last4": "1234"},
            {"staff_name": "HANDOVER_STAFF_NAME_INVALID"},
        ),
        ({"staff_name": "周敏", "staff_id_last4": "12X4"}, {"staff_id_last4": "HANDOVER_STAFF_ID_INVALID"}),
        ({"staff_name": "周敏"}, {"staff_id_last4": "HANDOVER_STAFF_ID_INVALID"}),
        ({"staff_id_last4": "1234"}, {"staff_name": "HANDOVER_STAFF_NAME_INVALID"}),
        (
            {"staff_name": "周敏", "staff_id_last4": "1234", "officer": "警号 42"},
            {"officer": "HANDOVER_OFFICER_INVALID"},
        ),
        ({"officer": ""}, {"officer": "HANDOVER_OFFICER_INVALID"}),
        (
            {"staff_name": " ", "staff_id_last4": "", "officer": "x" * 17},
            {
                "staff_name": "HANDOVER_STAFF_NAME_INVALID",
                "staff_id_last4": "HANDOVER_STAFF_ID_INVALID",
                "officer": "HANDOVER_OFFICER_INVALID",
            },
        ),
    ],
)
def test_a_bad_identity_is_a_clear_422_and_nothing_changes(app, device, escort, body, errors):
    answer = handover(device, escort, **body)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "HANDOVER_INVALID" and problem["errors"] == errors
    assert escort_of(app, escort.crossing_id).status == "open"


@pytest.mark.parametrize("body", [{"staff_name": 7}, {"staff_id_last4": ["1234"]}, {"staff_name": "x" * 201}])
def test_a_malformed_body_is_refused(app, device, escort, body):
    assert handover(device, escort, **(TAKER | body)).status_code == 422
    assert escort_of(app, escort.crossing_id).status == "open"


def test_the_bureau_sees_who_the_officer_and_the_total_wait_the_enterprise_only_its_staff(
    app, api, portal, device, escort
):
    assert handover(device, escort, **(TAKER | {"staff_name": HOSTILE})).status_code == 200
    bureau = api("auditor").get(f"/api/v1/audit/crossings/{escort.crossing_id}").json()["escort"]
    assert (bureau["handover_staff_name"], bureau["handover_staff_id_last4"], bureau["handover_officer"]) == (
        HOSTILE,
        "567X",
        "KS-0042",
    )
    assert bureau["waited_minutes"] == 75 and bureau["handed_over_at"] is not None
    page = portal("auditor").get(f"/audit/crossings/{escort.crossing_id}?lang=en").text
    assert "(ID ending 567X)" in page and "recorded by officer KS-0042" in page
    assert "Total wait 1 h 15 min" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "接车人" in portal("auditor").get(f"/audit/crossings/{escort.crossing_id}").text
    listed = portal("auditor").get("/review/escorts?lang=en").text
    assert "ID ending 567X" in listed and "officer KS-0042" in listed

    mine = api("clerk").get(f"/api/v1/enterprise/crossings/{escort.crossing_id}").json()["escort"]
    assert mine["handover_staff_name"] == HOSTILE
    assert mine["handover_staff_id_last4"] is None and mine["handover_officer"] is None
    for path in (
        f"/enterprise/crossings/{escort.crossing_id}?lang=en",
        "/enterprise/escorts?lang=en",
        f"/enterprise/escorts/{escort.id}?lang=en",
    ):
        text = portal("clerk").get(path).text
        assert "Taken over by" in text or "taken over by" in text, path
        assert "KS-0042" not in text and "567X" not in text, path
