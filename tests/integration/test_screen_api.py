"""The officer's screen through its HTTP calls (TestClient): decisions via station and the real local store,
the bundle's state in the header, escorts and hand-overs."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from checkpoint_client import store_sqlite
from passcore.claims import Driver
from passcore.policy import Policy
from tests import factories
from tests.factories import HUBEI_USCC, NOW
from tests.integration.screen_helpers import CHECKED, crew, make_screen, two_person_pass

__all__ = ["make_screen"]  # the fixture, imported for pytest


def test_valid_pass_two_people_is_released_and_recorded_before_it_is_shown(make_screen, issuer_key):
    screen = make_screen()
    text = two_person_pass(issuer_key)
    vehicle = screen.scan(text)
    assert vehicle["kind"] == "pass" and vehicle["valid"] and vehicle["claims"]["plate"] == "苏E·A1234"
    assert [p["name"] for p in vehicle["claims"]["escorts"]] == ["李娜"]
    assert vehicle["claims"]["enterprise"]["name"] == "昆山精密机械有限公司"
    status, result = screen.decide(vehicle["id"], occupants=crew("36.5", "36.6"), **CHECKED)
    assert status == 200 and result["outcome"] == "RELEASE" and result["recorded"]
    stored = screen.store.recent(1)[0]
    assert stored.id == result["crossing"]["id"] and stored.seq == result["crossing"]["seq"] == 1
    assert stored.record["checks"] == {
        "identity_confirmed": True,
        "licence_confirmed": True,
        "id_last4_matched": None,
    }
    assert stored.record["verification"] == "PASS_VALID" and stored.record["plate"] == "苏EA1234"
    assert screen.store.verify() == 1
    # The raw QR text is not kept on disk (only the pass id and what the decision needs).
    on_disk = b"".join(p.read_bytes() for p in screen.settings.store_path.parent.glob("checkpoint.sqlite3*"))
    assert text[4:60].encode() not in on_disk
    overview = screen.client.get("/api/overview").json()
    assert overview["pending"] == 1 and overview["recent"][0]["outcome"] == "RELEASE"
    assert screen.client.get("/api/vehicle").json()["current"] is None  # done: the next scan becomes current


def test_fever_is_a_medical_hold_naming_who(make_screen, issuer_key):
    screen = make_screen()
    vehicle = screen.scan(two_person_pass(issuer_key))
    status, result = screen.decide(vehicle["id"], occupants=crew("36.5", "38.2"), **CHECKED)
    assert (status, result["outcome"], result["fever"]) == (200, "MEDICAL_HOLD", ["李娜"])
    assert "FEVER" in result["reasons"]


def test_hard_hit_vehicle_needs_an_escort_and_the_hand_over_is_recorded(make_screen, issuer_key):
    screen = make_screen()
    driver = Driver("刘洋", "420102********7893", "420102********7893")
    claims = factories.make_claims(
        plate="鄂AD12345", driver=driver, escorts=(), enterprise=HUBEI_USCC, origin="420100"
    )
    vehicle = screen.scan(factories.signed(claims, issuer_key)[0])
    form = crew("36.8", names=("刘洋",))
    status, result = screen.decide(vehicle["id"], occupants=form, **CHECKED)
    assert (status, result["outcome"]) == (200, "ESCORT_REQUIRED")
    assert {"HARD_HIT_VEHICLE"} <= set(result["reasons"]) and result["hard_hit"][0]["code"] == "420000"
    waiting = screen.client.get("/api/overview").json()["escorts"]
    assert [(e["plate"], e["status"]) for e in waiting] == [("鄂A·D12345", "unsent")]
    assert waiting[0]["enterprise"]["name"] == "武汉物流有限公司"  # from the bundle until the server answers
    screen.clock[0] = NOW + timedelta(minutes=75)
    taker = {"staff_name": "周敏", "staff_id_last4": "1234"}
    answer = screen.client.post(f"/api/escorts/{waiting[0]['crossing_id']}/handover", json=taker)
    assert answer.status_code == 200 and answer.json()["escorts"] == []
    done = screen.store.escorts(include_done=True)[0]
    assert done["status"] == "handed_over" and done["handed_over_at"] == NOW + timedelta(minutes=75)
    assert screen.client.post("/api/escorts/no-such-crossing/handover", json=taker).status_code == 404
    assert screen.client.post(f"/api/escorts/{'x' * 5000}/handover", json=taker).status_code == 404


def test_forged_pass_is_refused_and_its_contents_are_not_shown(make_screen, issuer_key):
    screen = make_screen()
    forged = factories.forged(factories.make_claims(plate="苏EB9999"), claimed_key=issuer_key)
    vehicle = screen.scan(forged)
    assert vehicle["valid"] is False and vehicle["misuse"] and vehicle["claims"] is None
    assert vehicle["code"] == "PASS_SIGNATURE_INVALID"
    status, result = screen.decide(vehicle["id"], plate="苏E·B9999", occupants=crew("36.5", names=("赵六",)))
    assert (status, result["outcome"]) == (200, "REFUSE")
    record = screen.store.recent(1)[0].record
    assert record["verification"] == "PASS_SIGNATURE_INVALID" and set(record["checks"].values()) == {None}


def test_revoked_and_expired_passes(make_screen, issuer_key):
    claims = factories.make_claims()
    screen = make_screen(revoked=frozenset({claims.pass_id}))
    revoked = screen.scan(factories.signed(claims, issuer_key)[0])
    assert (revoked["code"], revoked["misuse"], revoked["claims"]["plate"]) == (
        "PASS_REVOKED",
        True,
        "苏E·A1234",
    )
    expired = factories.make_claims(pass_id="ab" * 12, valid_until=NOW - timedelta(hours=1))
    assert screen.scan(factories.signed(expired, issuer_key)[0])["id"] == revoked["id"]  # waits behind it
    vehicle = screen.client.post("/api/vehicle/next", json={"drop": revoked["id"]}).json()["current"]
    assert (vehicle["code"], vehicle["misuse"]) == ("PASS_EXPIRED", False)
    status, result = screen.decide(vehicle["id"], plate="苏E·A1234", occupants=crew("36.5", "36.6"))
    assert (status, result["outcome"]) == (200, "RELEASE")  # treated as a vehicle without a pass
    assert {"PASS_EXPIRED", "NO_PASS"} <= set(result["reasons"])


def test_vehicle_without_a_pass_uses_the_same_screen(make_screen):
    screen = make_screen()
    vehicle = screen.client.post("/api/vehicle/nopass").json()["current"]
    assert vehicle["kind"] == "nopass"
    people = [{"role": "driver", "name": "孙磊", "temperature": "36.7", "origin": "330100"}]
    bad = {
        "plate": "浙A·12345",
        "vehicle_origin": "330100",
        "occupants": people,
        "enterprise": "91320583MA1XY7123X",
    }
    status, error = screen.decide(vehicle["id"], **bad)
    assert (status, error["code"], error["field"]) == (422, "USCC_INVALID", "enterprise")
    assert "统一社会信用代码" in error["message"]
    status, result = screen.decide(vehicle["id"], **(bad | {"enterprise": ""}))
    assert (status, result["outcome"], result["reasons"]) == (200, "RELEASE", ["NO_PASS"])
    assert screen.store.recent(1)[0].record["vehicle_origin"] == "330100"


def test_a_qr_code_that_is_not_a_pass_gets_a_clear_message(make_screen):
    screen = make_screen()
    vehicle = screen.scan("https://shop.example/<script>alert(1)</script>")
    assert vehicle["kind"] == "not_pass" and vehicle["excerpt"].startswith("https://shop.example/")
    later = screen.scan("CP1:NOT-A-REAL-PASS")  # a stray code gives way to the next scan
    assert later["kind"] == "pass" and later["code"] == "PASS_MALFORMED" and later["misuse"]


@pytest.mark.parametrize(
    ("temperatures", "code", "field"),
    [
        (("36.5", ""), "TEMPERATURE_MISSING", "temp-1"),
        (("36.5", "45"), "TEMPERATURE_IMPLAUSIBLE", "temp-1"),
        (("3.65", "36.5"), "TEMPERATURE_IMPLAUSIBLE", "temp-0"),
        (("abc", "36.5"), "TEMPERATURE_INVALID", "temp-0"),
        (("NaN", "36.5"), "TEMPERATURE_INVALID", "temp-0"),
        (("1e999", "36.5"), "TEMPERATURE_IMPLAUSIBLE", "temp-0"),
        (("Infinity", "36.5"), "TEMPERATURE_INVALID", "temp-0"),
    ],
)
def test_bad_temperatures_are_shown_at_their_field_and_nothing_is_recorded(
    make_screen, issuer_key, temperatures, code, field
):
    screen = make_screen()
    vehicle = screen.scan(two_person_pass(issuer_key))
    status, error = screen.decide(vehicle["id"], occupants=crew(*temperatures), **CHECKED)
    assert (status, error["code"], error["field"]) == (422, code, field)
    assert screen.store.recent() == []
    status, result = screen.decide(vehicle["id"], occupants=crew("36.5", "36.6"), **CHECKED)  # corrected
    assert (status, result["outcome"]) == (200, "RELEASE")


def test_every_required_check_must_be_answered(make_screen, issuer_key):
    screen = make_screen()
    vehicle = screen.scan(two_person_pass(issuer_key))
    people = crew("36.5", "36.6")
    for missing, field in (("plate_confirmed", "check-plate"), ("identity_confirmed", "check-person"),
                           ("licence_confirmed", "check-licence")):  # fmt: skip
        status, error = screen.decide(vehicle["id"], occupants=people, **{**CHECKED, missing: None})
        assert (status, error["field"]) == (422, field)
    status, error = screen.decide(vehicle["id"], occupants=people, **{**CHECKED, "plate_confirmed": False})
    assert (status, error["code"], error["field"]) == (422, "PLATE_INVALID", "plate")
    status, result = screen.decide(
        vehicle["id"], occupants=people, **{**CHECKED, "plate_confirmed": False}, plate="苏E·B7777"
    )
    assert (status, result["outcome"]) == (200, "REFUSE") and "PLATE_MISMATCH" in result["reasons"]


def test_policy_asking_for_the_last_four_id_characters(make_screen, issuer_key):
    screen = make_screen(policy=Policy(hard_hit=("420000",), identity_check="id_last4"))
    assert screen.client.get("/api/overview").json()["policy"]["identity_check"] == "id_last4"
    first = screen.scan(two_person_pass(issuer_key))
    form = {"plate_confirmed": True, "licence_confirmed": True, "occupants": crew("36.5", "36.6")}
    assert screen.decide(first["id"], **form)[1]["code"] == "ID_LAST4_NEEDED"
    assert screen.decide(first["id"], **form, id_last4="12a4")[1]["code"] == "ID_LAST4_INVALID"
    status, result = screen.decide(first["id"], **form, id_last4="1234")
    assert (status, result["outcome"]) == (200, "RELEASE")
    assert screen.store.recent(1)[0].record["checks"]["id_last4_matched"] is True
    second = screen.scan(factories.signed(factories.make_claims(pass_id="cd" * 12), issuer_key)[0])
    status, result = screen.decide(
        second["id"], **form | {"occupants": crew("36.5", "36.6")}, id_last4="9999"
    )
    assert result["outcome"] == "REFUSE" and "PERSON_MISMATCH" in result["reasons"]
    assert screen.store.recent(1)[0].record["checks"]["id_last4_matched"] is False


def test_bundle_missing_stale_expired_and_clock_skew(make_screen, issuer_key):
    screen = make_screen(bundle=False)
    assert screen.client.get("/api/overview").json()["bundle"]["state"] == "BUNDLE_MISSING"
    vehicle = screen.scan(two_person_pass(issuer_key))
    assert vehicle["checked"] is False
    status, error = screen.decide(vehicle["id"], occupants=crew("36.5", "36.6"), **CHECKED)
    assert (status, error["code"]) == (409, "BUNDLE_MISSING") and "信任包" in error["message"]

    screen = make_screen()
    screen.clock[0] = NOW + timedelta(hours=26)  # issued an hour before NOW; stale after 24 h
    header = screen.client.get("/api/overview").json()["bundle"]
    assert header["stale"] and not header["expired"] and not header["clock_skew"]
    screen.clock[0] = NOW + timedelta(days=8)  # the test bundle expires after 7 days
    vehicle = screen.scan(two_person_pass(issuer_key))
    assert screen.client.get("/api/overview").json()["bundle"]["expired"]
    status, error = screen.decide(vehicle["id"], occupants=crew("36.5", "36.6"), **CHECKED)
    assert (status, error["code"]) == (409, "BUNDLE_EXPIRED") and screen.store.recent() == []
    screen.clock[0] = NOW - timedelta(hours=3)
    assert screen.client.get("/api/overview").json()["bundle"]["clock_skew"]


def test_a_full_disk_means_not_recorded_and_the_vehicle_stays(make_screen, issuer_key, monkeypatch):
    connect = store_sqlite._connect

    def small_disk(path: Path) -> sqlite3.Connection:  # a real SQLITE_FULL: the file may not grow any more
        conn = connect(path)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    screen = make_screen()
    monkeypatch.setattr(store_sqlite, "_connect", small_disk)
    big = [{"role": "driver", "name": "张" * 50, "temperature": "36.5", "origin": "330100"}]
    for attempt in range(300):
        vehicle = screen.client.post("/api/vehicle/nopass").json()["current"]
        status, body = screen.decide(vehicle["id"], plate=f"浙A{attempt:05d}", occupants=big)
        if status != 200:
            break
    assert status == 503 and body["code"] == "STORE_FULL" and body["recorded"] is False
    assert "决定未记录" in body["message"]
    assert screen.client.get("/api/vehicle").json()["current"]["id"] == vehicle["id"]  # still to be decided
    assert screen.store.verify() == attempt  # nothing partial, the chain intact


def test_a_decision_is_recorded_once_even_when_submitted_twice(make_screen, issuer_key):
    screen = make_screen()
    vehicle = screen.scan(two_person_pass(issuer_key))
    first = screen.decide(vehicle["id"], occupants=crew("36.5", "36.6"), **CHECKED)
    second = screen.decide(vehicle["id"], occupants=crew("36.5", "36.6"), **CHECKED)
    assert first[0] == 200 and second[0] == 409 and second[1]["code"] == "SCAN_UNKNOWN"
    assert len(screen.store.recent()) == 1


def test_a_person_aboard_who_is_not_on_the_pass_means_refusal(make_screen, issuer_key):
    screen = make_screen()
    vehicle = screen.scan(two_person_pass(issuer_key))
    people = [
        *crew("36.5", "36.6"),
        {"role": "passenger", "name": "陌生人", "temperature": "36.7", "origin": "420100"},
    ]
    status, result = screen.decide(vehicle["id"], occupants=people, **CHECKED)
    assert (status, result["outcome"]) == (200, "REFUSE")
    assert {"OCCUPANT_NOT_ON_PASS", "HARD_HIT_PERSON"} <= set(result["reasons"])
    record = screen.store.recent(1)[0].record
    assert [o["name"] for o in record["occupants"]] == ["张伟", "李娜", "陌生人"]
    assert record["occupants"][2]["origin"] == "420100"


def test_an_absent_escort_is_left_off_and_a_bad_origin_is_shown_at_its_field(make_screen, issuer_key):
    screen = make_screen()
    vehicle = screen.scan(factories.signed(factories.make_claims(), issuer_key)[0])  # driver and two escorts
    people = crew("36.5", "36.6")  # 王强 is not aboard today
    bad = [*people[:1], people[1] | {"origin": "99999"}]
    status, error = screen.decide(vehicle["id"], occupants=bad, **CHECKED)
    assert (status, error["code"], error["field"]) == (422, "REGION_INVALID", "origin-1")
    status, result = screen.decide(vehicle["id"], occupants=people, **CHECKED)
    assert (status, result["outcome"]) == (200, "RELEASE")


def test_offline_the_decision_is_kept_and_the_header_says_so(make_screen, issuer_key):
    import socket
    import time

    from checkpoint_client.device import Device, save_device

    screen = make_screen(sync_attempts=1)
    with socket.socket() as closed:  # a port nothing listens on: the network is down
        closed.bind(("127.0.0.1", 0))
        server = f"http://127.0.0.1:{closed.getsockname()[1]}"
    save_device(screen.settings, Device(server=server, device_id="0" * 32, token="cpt_test"))
    vehicle = screen.scan(two_person_pass(issuer_key))
    status, result = screen.decide(vehicle["id"], occupants=crew("36.5", "36.6"), **CHECKED)
    assert (status, result["outcome"]) == (200, "RELEASE")
    assert screen.client.post("/api/sync").json()["sync"]["enrolled"] is True
    for _ in range(100):
        sync = screen.client.get("/api/overview").json()["sync"]
        if sync["last_at"] and not sync["busy"]:
            break
        time.sleep(0.1)
    assert sync["code"] == "SERVER_UNREACHABLE" and sync["error"]
    overview = screen.client.get("/api/overview").json()
    assert overview["pending"] == 1 and overview["recent"][0]["synced"] is False
