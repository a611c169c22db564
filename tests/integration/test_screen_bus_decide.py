"""Bus mode's decision through the screen's API (issue 14): the roll call (readings typed only where not normal,
absent people, someone found aboard off the manifest, "the rest normal") goes through decide_bus and is stored with
the record's ``bus`` before the outcome is answered; mistakes are field errors with nothing stored."""

from __future__ import annotations

from datetime import timedelta

from passcore import crossing
from passcore.policy import Policy
from tests.integration.screen_bus_helpers import MANAGER, bus_pass, passengers
from tests.integration.screen_helpers import CHECKED, make_screen

__all__ = ["make_screen"]  # the fixture, imported for pytest

CREW = [
    {"role": "driver", "name": "张伟", "temperature": "36.5"},
    {"role": "manager", "name": MANAGER.name, "temperature": "36.6"},
]


def _bus(screen, key, count=45, hard_hit=(), pages_read=None):
    text, pages, claims = bus_pass(key, passengers(count, hard_hit=hard_hit))
    vehicle = screen.scan(text)
    for page in pages if pages_read is None else [pages[i] for i in pages_read]:
        screen.client.post("/api/vehicle/scan", json={"text": page})
    return vehicle, claims


def _decide(screen, vehicle, **form):
    body = {"vehicle_id": vehicle["id"], **CHECKED, "crew": CREW} | form
    answer = screen.client.post("/api/bus/decide", json=body)
    return answer.status_code, answer.json()


def test_all_normal_bus_is_released_with_the_rest_normal_key(make_screen, issuer_key):
    screen = make_screen()
    vehicle, claims = _bus(screen, issuer_key)
    screen.clock[0] += timedelta(minutes=3)
    status, result = _decide(screen, vehicle, rest_normal=True)
    assert status == 200, result
    assert result["outcome"] == "RELEASE" and "PRIORITY_BUS" in result["reasons"]
    assert "MANIFEST_VALID" in result["reasons"]
    assert result["bus"]["counts"] == {"RELEASE": 45} and result["bus"]["waited_s"] == 180
    stored = screen.store.recent(1)[0]
    assert stored.id == result["crossing"]["id"]
    bus = stored.record["bus"]
    assert bus["manifest"] == claims.bus.digest.hex() and bus["pages"] == 5 and bus["seats"] == 100
    assert bus["arrived_at"] == (screen.clock[0] - timedelta(minutes=3)).isoformat()
    assert [p["n"] for p in bus["passengers"]] == list(range(1, 46))
    assert all(p["aboard"] and p["temperature_c"] is None for p in bus["passengers"])
    assert [o["role"] for o in stored.record["occupants"]] == ["driver", "manager"]
    crossing.read_contents(stored.record)
    assert screen.store.verify() == 1 and screen.store.pending_count() == 1  # synced like any record


def test_roll_call_with_fever_hard_hit_absent_and_someone_off_the_manifest(make_screen, issuer_key):
    screen = make_screen(policy=Policy(hard_hit=("420000",), bus_fever="RELEASE_OTHERS"))
    vehicle, _ = _bus(screen, issuer_key, hard_hit=(7, 30))
    roll = [{"n": 12, "temperature": "38.1"}, {"n": 40, "absent": True}]
    extra = {"role": "passenger", "name": "赵六", "temperature": "36.4", "origin": "411502"}
    status, result = _decide(screen, vehicle, crew=[*CREW, extra], roll=roll, rest_normal=True)
    assert status == 200, result
    # Someone aboard who is not on the manifest: the pass is misused, the bus refused.
    assert result["outcome"] == "REFUSE" and "OCCUPANT_NOT_ON_PASS" in result["reasons"]
    stored = screen.store.recent(1)[0].record
    assert stored["occupants"][2]["name"] == "赵六"
    assert stored["bus"]["passengers"][39]["disposition"] == "ABSENT"


def test_fever_held_hard_hit_quarantined_absent_recorded(make_screen, issuer_key):
    screen = make_screen(policy=Policy(hard_hit=("420000",), bus_fever="RELEASE_OTHERS"))
    vehicle, _ = _bus(screen, issuer_key, hard_hit=(7, 30))
    roll = [{"n": 12, "temperature": "38.1"}, {"n": 40, "absent": True}]
    status, result = _decide(screen, vehicle, roll=roll, rest_normal=True, referral="昆山市第一人民医院")
    assert status == 200, result
    assert result["outcome"] == "RELEASE"
    assert {"FEVER_PERSON_HELD", "QUARANTINE_BY_ENTERPRISE"} <= set(result["reasons"])
    dispositions = {p["n"]: p["disposition"] for p in result["bus"]["passengers"]}
    assert dispositions[12] == "MEDICAL_HOLD" and dispositions[40] == "ABSENT"
    assert dispositions[7] == dispositions[30] == "QUARANTINE" and dispositions[1] == "RELEASE"
    assert result["bus"]["counts"] == {"RELEASE": 41, "MEDICAL_HOLD": 1, "QUARANTINE": 2, "ABSENT": 1}
    record = screen.store.recent(1)[0].record
    assert record["bus"]["passengers"][11]["temperature_c"] == 38.1
    assert record["referral"] == "昆山市第一人民医院"


def test_under_hold_bus_a_fever_holds_everyone(make_screen, issuer_key):
    screen = make_screen()
    vehicle, _ = _bus(screen, issuer_key, count=9)
    status, result = _decide(screen, vehicle, roll=[{"n": 3, "temperature": "38.5"}], rest_normal=True)
    assert status == 200 and result["outcome"] == "MEDICAL_HOLD"
    assert result["bus"]["counts"] == {"MEDICAL_HOLD": 9}


def test_a_roll_not_finished_is_a_field_error_and_nothing_is_stored(make_screen, issuer_key):
    screen = make_screen()
    vehicle, _ = _bus(screen, issuer_key, count=12)
    status, result = _decide(screen, vehicle, roll=[{"n": 2, "temperature": "36.8"}])
    assert status == 422 and result["code"] == "ROLL_INCOMPLETE" and result["field"] == "roll"
    assert "11" in result["message"] and "1、3、4" in result["message"]
    for roll, code in (
        ([{"n": 13, "absent": True}], "ROLL_NUMBER_UNKNOWN"),
        ([{"n": 2, "absent": True}, {"n": 2, "temperature": "36.6"}], "ROLL_NUMBER_TWICE"),
        ([{"n": 2, "absent": True, "temperature": "36.6"}], "ROLL_ABSENT_MEASURED"),
        ([{"n": 5, "temperature": "55"}], "ROLL_TEMPERATURE_IMPLAUSIBLE"),
        ([{"n": 5, "temperature": "热"}], "ROLL_TEMPERATURE_INVALID"),
    ):
        status, result = _decide(screen, vehicle, roll=roll, rest_normal=True)
        assert (status, result["code"], result["field"]) == (422, code, "roll"), result
    status, result = _decide(screen, vehicle, roll=[{"n": 0}], rest_normal=True)
    assert status == 422 and result["code"] == "REQUEST_INVALID"
    status, result = _decide(screen, vehicle, crew=[{**CREW[0], "temperature": ""}], rest_normal=True)
    assert (status, result["field"]) == (422, "temp-0")
    assert screen.store.recent(5) == []
    # Corrected, the same bus is decided (the desk still holds it).
    status, result = _decide(screen, vehicle, rest_normal=True)
    assert status == 200 and result["outcome"] == "RELEASE"


def test_pages_missing_refuse_the_bus_without_a_roll(make_screen, issuer_key):
    screen = make_screen()
    vehicle, _ = _bus(screen, issuer_key, pages_read=[0, 2])
    status, result = _decide(screen, vehicle)
    assert status == 200 and result["outcome"] == "REFUSE"
    assert "MANIFEST_INCOMPLETE" in result["reasons"]
    record = screen.store.recent(1)[0].record
    assert record["bus"]["passengers"] == [] and record["bus"]["manifest"] == ""


def test_deciding_with_a_page_of_another_pass_records_misuse(make_screen, issuer_key):
    screen = make_screen()
    vehicle, _ = _bus(screen, issuer_key, count=9)
    _, other_pages, _ = bus_pass(issuer_key, passengers(9), pass_id="fedcba9876543210fedcba98")
    screen.client.post("/api/vehicle/scan", json={"text": other_pages[0]})
    status, result = _decide(screen, vehicle, rest_normal=True)
    assert status == 200 and result["outcome"] == "REFUSE" and "MANIFEST_INVALID" in result["reasons"]


def test_a_freight_vehicle_is_not_decided_as_a_bus(make_screen, issuer_key):
    from tests.integration.screen_helpers import two_person_pass

    screen = make_screen()
    vehicle = screen.scan(two_person_pass(issuer_key))
    status, result = _decide(screen, vehicle, rest_normal=True)
    assert status == 422 and result["code"] == "BUS_PASS_NEEDED"
    assert screen.client.get("/api/vehicle").json()["current"]["id"] == vehicle["id"]  # still there to decide


def test_a_bus_draft_keeps_the_roll_call(make_screen, issuer_key):
    screen = make_screen()
    form = {
        "people": [{"role": "manager", "name": MANAGER.name, "temperature": "36.6", "fixed": True}],
        "roll": [
            {"n": 12, "temperature": "38.1", "absent": False},
            {"n": 40, "temperature": "", "absent": True},
        ],
        "rest_normal": False,
    }
    saved = screen.client.put("/api/drafts", json={"key": "pass:0123456789abcdef01234567", "form": form})
    assert saved.status_code == 200, saved.text
    loaded = screen.client.get("/api/drafts", params={"key": "pass:0123456789abcdef01234567"}).json()
    assert loaded["form"]["roll"] == form["roll"] and loaded["form"]["rest_normal"] is False
    bad = screen.client.put(
        "/api/drafts", json={"key": "pass:0123456789abcdef01234567", "form": {"roll": [{"n": 1}, {"n": 1}]}}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "roll.1.n"
