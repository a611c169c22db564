"""The hand-over on the officer's screen (TestClient on a real store): who took the vehicle over (name and ID last
four) and the officer signed in are recorded; bad input is a 422 naming the field with nothing recorded; nobody
signed in where officers are required is a 409; the panel lists the longest wait first with the enterprise's
contact, then the latest hand-overs with the total wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from passcore.claims import Driver
from tests import factories
from tests.factories import HUBEI_USCC, NOW
from tests.integration.screen_helpers import CHECKED, crew, make_screen

__all__ = ["make_screen"]  # the fixture, imported for pytest

TAKER = {"staff_name": "周敏", "staff_id_last4": "123x"}


@dataclass
class Shifts:
    """What the routes ask of ``screen.shifts`` (checkpoint_client.shifts): who is signed in, whether one must be."""

    signed_in: str | None
    needed: bool

    def officer(self) -> str | None:
        return self.signed_in

    def required(self) -> bool:
        return self.needed


def escort_decision(screen, issuer_key, plate="鄂AD12345") -> str:
    driver = Driver("刘洋", "420102********7893", "420102********7893")
    claims = factories.make_claims(
        plate=plate, driver=driver, escorts=(), enterprise=HUBEI_USCC, origin="420100"
    )
    vehicle = screen.scan(factories.signed(claims, issuer_key)[0])
    status, result = screen.decide(vehicle["id"], occupants=crew("36.8", names=("刘洋",)), **CHECKED)
    assert (status, result["outcome"]) == (200, "ESCORT_REQUIRED")
    screen.client.post("/api/vehicle/next", json={})
    return result["crossing"]["id"]


def handover(screen, crossing_id: str, body) -> tuple[int, dict]:
    answer = screen.client.post(f"/api/escorts/{crossing_id}/handover", json=body)
    return answer.status_code, answer.json()


def test_the_hand_over_records_who_took_the_vehicle_the_officer_and_the_total_wait(make_screen, issuer_key):
    screen = make_screen()
    screen.client.app.state.screen.shifts = Shifts("KS-0042", needed=True)
    crossing_id = escort_decision(screen, issuer_key)
    screen.clock[0] = NOW + timedelta(minutes=75)
    status, answer = handover(screen, crossing_id, TAKER)
    assert status == 200 and answer["escorts"] == []
    recorded = answer["recorded"]
    assert recorded["handover"] == {
        "staff_name": "周敏",
        "staff_id_last4": "123X",
        "officer": "KS-0042",
        "waited_s": 75 * 60,
        "synced": False,
        "error": None,
    }
    assert [e["crossing_id"] for e in answer["handed_over"]] == [crossing_id]  # the panel shows it a while
    assert _identity(screen, crossing_id) == ("周敏", "123X", "KS-0042")
    screen.clock[0] = NOW + timedelta(hours=4)  # later, the panel has only the waiting vehicles
    assert screen.client.get("/api/overview").json()["handed_over"] == []


def _identity(screen, crossing_id: str) -> tuple:
    [done] = [e for e in screen.store.escorts(include_done=True) if e["crossing_id"] == crossing_id]
    return done["handover_staff_name"], done["handover_staff_id_last4"], done["handover_officer"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"staff_name": "", "staff_id_last4": "1234"}, "HANDOVER_STAFF_NAME_INVALID", "staff_name"),
        ({"staff_name": "x" * 51, "staff_id_last4": "1234"}, "HANDOVER_STAFF_NAME_INVALID", "staff_name"),
        ({"staff_name": "周\u202e敏", "staff_id_last4": "1234"}, "HANDOVER_STAFF_NAME_INVALID", "staff_name"),
        ({"staff_name": 7, "staff_id_last4": "1234"}, "HANDOVER_STAFF_NAME_INVALID", "staff_name"),
        ({"staff_name": "周敏", "staff_id_last4": "12"}, "HANDOVER_STAFF_ID_INVALID", "staff_id_last4"),
        ({"staff_name": "周敏", "staff_id_last4": "X123"}, "HANDOVER_STAFF_ID_INVALID", "staff_id_last4"),
        ({"staff_name": "周敏"}, "HANDOVER_STAFF_ID_INVALID", "staff_id_last4"),
        ({}, "HANDOVER_STAFF_NAME_INVALID", "staff_name"),
        (["周敏", "1234"], "HANDOVER_STAFF_NAME_INVALID", "staff_name"),
    ],
)
def test_a_bad_identity_is_refused_by_field_and_nothing_is_recorded(
    make_screen, issuer_key, body, code, field
):
    screen = make_screen()
    crossing_id = escort_decision(screen, issuer_key)
    status, answer = handover(screen, crossing_id, body)
    assert (status, answer["code"], answer["field"]) == (422, code, field)
    assert answer["message"] and answer["message"] != f"E_{code}"  # in words
    assert [e["crossing_id"] for e in screen.store.escorts()] == [crossing_id]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_errors_are_in_the_page_language(make_screen, issuer_key, lang):
    screen = make_screen()
    crossing_id = escort_decision(screen, issuer_key)
    answer = screen.client.post(
        f"/api/escorts/{crossing_id}/handover",
        json={"staff_name": "周敏", "staff_id_last4": "12"},
        headers={"X-Screen-Lang": lang},
    ).json()
    assert (
        answer["message"]
        == {
            "zh": "身份证后四位：三位数字加一位数字或 X",
            "en": "The ID's last four: three digits, then a digit or X",
        }[lang]
    )


def test_nobody_signed_in_where_officers_are_required_hands_nothing_over(make_screen, issuer_key):
    screen = make_screen()
    crossing_id = escort_decision(screen, issuer_key)
    screen.client.app.state.screen.shifts = Shifts(None, needed=True)
    status, answer = handover(screen, crossing_id, TAKER)
    assert (status, answer["code"]) == (409, "SIGN_IN_NEEDED")
    assert [e["crossing_id"] for e in screen.store.escorts()] == [crossing_id]
    screen.client.app.state.screen.shifts = Shifts(None, needed=False)  # no officers configured: as before
    status, answer = handover(screen, crossing_id, TAKER)
    assert status == 200 and answer["recorded"]["handover"]["officer"] is None


def test_the_panel_lists_the_longest_wait_first_with_the_enterprise_contact(make_screen, issuer_key):
    screen = make_screen()
    first = escort_decision(screen, issuer_key, plate="鄂AD12345")
    screen.clock[0] = NOW + timedelta(minutes=10)
    second = escort_decision(screen, issuer_key, plate="鄂AD23456")
    screen.store.mark_synced([first, second])
    answered = {
        "id": 7, "crossing_id": second, "plate": "鄂AD23456", "status": "answered", "requested_at": NOW,
        "enterprise": {"uscc": HUBEI_USCC, "name": "武汉物流有限公司", "contact": "陈刚", "phone": "027-8888 0000"},
        "staff_name": "周敏", "staff_phone": "138 1234 5678", "eta": NOW + timedelta(minutes=40),
        "answered_at": NOW + timedelta(minutes=12), "handed_over_at": None,
    }  # fmt: skip
    screen.store.merge_escorts([answered], server_time=None)
    waiting = screen.client.get("/api/overview").json()["escorts"]
    assert [e["crossing_id"] for e in waiting] == [first, second]
    assert waiting[1]["enterprise"] == {
        "name": "武汉物流有限公司",
        "contact": "陈刚",
        "phone": "027-8888 0000",
    }
