"""Officers' shifts on the laptop: Shifts on a real store (sign in offline against synced hashes, the back-off,
take-over, deactivation by sync), the screen's shift calls (409 SIGN_IN_NEEDED, the record carries the officer),
the shift's CSV and PDF, and sync fetching the officers from a real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from checkpoint_client import shift_report
from checkpoint_client.shifts import FREE_TRIES, ShiftError, Shifts
from checkpoint_client.store import Store
from checkpoint_client.store_officers import OfficerRow
from passcore import pins
from tests.factories import NOW
from tests.integration import client_helpers
from tests.integration.screen_helpers import make_screen

make_screen = make_screen  # the fixture, for this module
bureau_server, bureau = client_helpers.bureau_server, client_helpers.bureau

SALT = bytes(range(16))
WANG = OfficerRow("K-0427", "王建国", pins.hash_pin("482916", salt=SALT), True)
LI = OfficerRow("K-0500", "李明", pins.hash_pin("1357", salt=SALT), True)
ZHAO = OfficerRow("K-0600", "赵强", pins.hash_pin("2468", salt=SALT), False)


@pytest.fixture
def store(tmp_path):
    made = Store.open(tmp_path / "db" / "checkpoint.db")
    yield made
    made.close()


def shifts_on(store: Store, clock: list[datetime]) -> Shifts:
    return Shifts(store, device="dev-1", clock=lambda: clock[0])


def code_of(call) -> ShiftError:
    with pytest.raises(ShiftError) as err:
        call()
    return err.value


def test_without_synced_officers_nobody_needs_to_sign_in(store):
    shifts = shifts_on(store, [NOW])
    assert not shifts.required() and shifts.officer() is None
    assert code_of(lambda: shifts.sign_in("K-0427", "482916")).code == "NO_OFFICERS"


def test_an_officer_signs_in_offline_against_the_synced_hash_and_out_again(store):
    clock = [NOW]
    shifts = shifts_on(store, clock)
    store.officers.replace([WANG, LI, ZHAO], synced_at=NOW)
    assert shifts.required() and shifts.officer() is None
    signed = shifts.sign_in(" K-0427 ", "482916")
    assert (signed.number, signed.name, shifts.officer()) == ("K-0427", "王建国", "K-0427")
    assert signed.shift.device == "dev-1" and signed.shift.started_at == NOW
    clock[0] = NOW + timedelta(hours=8)
    ended = shifts.sign_out()
    assert ended is not None and ended.ended_at == clock[0] and ended.ended_by == "sign_out"
    assert shifts.officer() is None and shifts.sign_out() is None
    assert [s.officer for s in shifts.log()] == ["K-0427"]


def test_wrong_pins_are_counted_and_after_five_each_try_waits_longer(store):
    clock = [NOW]
    shifts = shifts_on(store, clock)
    store.officers.replace([WANG], synced_at=NOW)
    for left in range(FREE_TRIES - 1, 0, -1):
        err = code_of(lambda: shifts.sign_in("K-0427", "000000"))
        assert (err.code, err.left) == ("PIN_WRONG", left)
        assert "000000" not in err.message and "482916" not in err.message
    locked = code_of(lambda: shifts.sign_in("K-0427", "000000"))
    assert (locked.code, locked.wait_s) == ("SIGN_IN_LOCKED", 30)
    # Locked: even the right PIN waits, and is not even checked.
    assert code_of(lambda: shifts.sign_in("K-0427", "482916")).code == "SIGN_IN_LOCKED"
    clock[0] = NOW + timedelta(seconds=31)
    again = code_of(lambda: shifts.sign_in("K-0427", "111111"))
    assert (again.code, again.wait_s) == ("SIGN_IN_LOCKED", 60)  # doubled
    clock[0] += timedelta(seconds=61)
    assert shifts.sign_in("K-0427", "482916").number == "K-0427"
    assert store.officers.failures("K-0427")[0] == 0  # a good sign-in clears the count


def test_the_back_off_survives_a_restart_of_the_screen(tmp_path):
    path = tmp_path / "db" / "checkpoint.db"
    first = Store.open(path)
    first.officers.replace([WANG], synced_at=NOW)
    for _ in range(FREE_TRIES):
        code_of(lambda: shifts_on(first, [NOW]).sign_in("K-0427", "999999"))
    first.close()
    reopened = Store.open(path)
    try:
        assert (
            code_of(lambda: shifts_on(reopened, [NOW]).sign_in("K-0427", "482916")).code == "SIGN_IN_LOCKED"
        )
    finally:
        reopened.close()


def test_unknown_numbers_look_like_wrong_pins_and_deactivated_officers_are_told(store):
    shifts = shifts_on(store, [NOW])
    store.officers.replace([WANG, ZHAO], synced_at=NOW)
    assert code_of(lambda: shifts.sign_in("NOBODY", "482916")).code == "PIN_WRONG"
    assert code_of(lambda: shifts.sign_in("K-0600", "1111")).code == "PIN_WRONG"
    assert code_of(lambda: shifts.sign_in("K-0600", "2468")).code == "OFFICER_INACTIVE"
    assert code_of(lambda: shifts.sign_in("K 0427", "482916")).code == "OFFICER_NUMBER_INVALID"
    assert code_of(lambda: shifts.sign_in("K-0427", "48a9")).code == "PIN_INVALID"
    assert shifts.officer() is None


def test_a_new_sign_in_takes_the_device_over_and_sync_ends_a_deactivated_officers_shift(store):
    clock = [NOW]
    shifts = shifts_on(store, clock)
    store.officers.replace([WANG, LI], synced_at=NOW)
    shifts.sign_in("K-0427", "482916")
    clock[0] = NOW + timedelta(hours=1)
    shifts.sign_in("K-0500", "1357")
    log = shifts.log()
    assert [(s.officer, s.ended_by) for s in log] == [("K-0500", None), ("K-0427", "taken_over")]
    assert log[1].ended_at == clock[0]
    store.officers.replace([WANG, replace(LI, active=False)], synced_at=NOW + timedelta(hours=2))
    assert shifts.officer() is None and shifts.log()[0].ended_by == "deactivated"
    store.officers.replace([], synced_at=NOW + timedelta(hours=3))
    assert not shifts.required()


# ---- the screen ---------------------------------------------------------------------------------------------------

NOPASS = {
    "plate": "浙A·12345",
    "vehicle_origin": "330100",
    "occupants": [{"role": "driver", "name": "孙磊", "temperature": "36.7", "origin": "330100"}],
}


def test_the_screen_refuses_to_decide_until_an_officer_signs_in_then_records_the_officer(make_screen):
    screen = make_screen()
    client = screen.client
    assert client.get("/api/shift").json() == {"required": False, "officer": None, "shift": None}
    screen.store.officers.replace([WANG], synced_at=NOW)
    assert client.get("/api/shift").json()["required"] is True
    vehicle = client.post("/api/vehicle/nopass").json()["current"]
    status, body = screen.decide(vehicle["id"], **NOPASS)
    assert (status, body["code"]) == (409, "SIGN_IN_NEEDED")
    assert "登录" in body["message"]
    assert screen.store.recent() == []
    wrong = client.post(
        "/api/shift/signin", json={"number": "K-0427", "pin": "000000"}, headers={"X-Screen-Lang": "en"}
    )
    assert wrong.status_code == 401
    assert (
        wrong.json()["code"] == "PIN_WRONG"
        and wrong.json()["message"] == "Wrong officer number or PIN (4 tries left)"
    )
    signed = client.post("/api/shift/signin", json={"number": "K-0427", "pin": "482916"})
    assert signed.status_code == 200 and signed.json()["officer"] == {"number": "K-0427", "name": "王建国"}
    status, body = screen.decide(vehicle["id"], **NOPASS)
    assert status == 200, body
    assert screen.store.recent()[0].record["officer"] == "K-0427"
    out = client.post("/api/shift/signout").json()
    assert out["officer"] is None and out["ended"]["officer"] == "K-0427"


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"number": 7, "pin": "1234"},
        {"number": "K-0427", "pin": 1234},
        {"number": "K" * 80, "pin": "1"},
    ],
)
def test_a_malformed_sign_in_is_a_clear_error(make_screen, body):
    screen = make_screen()
    screen.store.officers.replace([WANG], synced_at=NOW)
    answer = screen.client.post("/api/shift/signin", json=body)
    assert answer.status_code == 422 and answer.json()["code"] in (
        "OFFICER_NUMBER_INVALID",
        "PIN_INVALID",
        "REQUEST_INVALID",
    )
    assert screen.client.get("/api/shift").json()["officer"] is None


def test_without_officers_the_screen_decides_as_before_with_no_officer_in_the_record(make_screen):
    screen = make_screen()
    vehicle = screen.client.post("/api/vehicle/nopass").json()["current"]
    status, body = screen.decide(vehicle["id"], **NOPASS)
    assert status == 200, body
    assert screen.store.recent()[0].record.get("officer") is None


def test_the_shift_report_downloads_as_csv_with_a_bom_and_as_a_chinese_pdf(make_screen, tmp_path):
    screen = make_screen()
    screen.store.officers.replace([WANG], synced_at=NOW)
    screen.client.post("/api/shift/signin", json={"number": "K-0427", "pin": "482916"})
    vehicle = screen.client.post("/api/vehicle/nopass").json()["current"]
    assert screen.decide(vehicle["id"], **NOPASS)[0] == 200
    answer = screen.client.get("/api/shift/report.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert ["执勤人员", "K-0427 王建国"] in rows
    assert ["放行", "1"] in rows
    log = [r for r in rows if len(r) == 6 and r[5] == "RELEASE"]
    assert len(log) == 1 and log[0][1] == "浙A·12345" and log[0][4] == "K-0427"
    assert "孙磊" not in answer.text  # nobody aboard is named, nor any temperature
    english = screen.client.get("/api/shift/report.csv", headers={"X-Screen-Lang": "en"}).content.decode(
        "utf-8-sig"
    )
    assert "Officer,K-0427 王建国" in english and "Release" in english
    pdf = screen.client.get("/api/shift/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    path = tmp_path / "shift.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "K-0427" in text and "12345" in text and "A4" not in text
    shift_id = screen.client.get("/api/shift/log").json()["shifts"][0]["id"]
    assert screen.client.get(f"/api/shift/report.csv?shift={shift_id}").status_code == 200
    assert screen.client.get("/api/shift/report.csv?shift=999").status_code == 404


def test_the_log_names_hand_overs_of_the_shift_and_leaves_out_other_shifts(store):
    clock = [NOW]
    shifts = shifts_on(store, clock)
    store.officers.replace([WANG, LI], synced_at=NOW)
    shift = shifts.sign_in("K-0427", "482916").shift
    report = shift_report.build(store, shift, checkpoint="G312", now=NOW, zone="Asia/Shanghai")
    assert report.entries == [] and report.tally()["RELEASE"] == 0
    assert "本班次没有记录" in shift_report.words("none", "zh")


# ---- sync with a real server ----------------------------------------------------------------------------------


def test_sync_brings_the_officers_and_a_deactivation_ends_the_shift(bureau_server, bureau, tmp_path):
    laptop = client_helpers.enrol_checkpoint(bureau_server, bureau, tmp_path / "laptop")
    try:
        checkpoint_id = laptop.device.checkpoint["id"]
        shifts = Shifts(laptop.store, device=laptop.device.device_id, clock=lambda: datetime.now(UTC))
        report = laptop.sync()
        assert report.officers == {"status": "updated", "count": 0} and not shifts.required()
        added = bureau.admin.post(
            f"/api/v1/checkpoints/{checkpoint_id}/officers",
            json={"number": "K-0427", "name": "王建国", "pin": "482916"},
        )
        assert added.status_code == 201, added.text
        assert laptop.sync().officers == {"status": "updated", "count": 1}
        held = laptop.store.officers.get("K-0427")
        assert held is not None and held.active and pins.check_pin("482916", held.pin_hash)
        assert shifts.sign_in("K-0427", "482916").shift.device == laptop.device.device_id
        bureau.admin.post(f"/api/v1/checkpoints/{checkpoint_id}/officers/K-0427/deactivate")
        laptop.sync()
        assert shifts.officer() is None and shifts.log()[0].ended_by == "deactivated"
        assert code_of(lambda: shifts.sign_in("K-0427", "482916")).code == "OFFICER_INACTIVE"
        assert json.dumps(report.to_dict())  # the report stays JSON for `checkpoint sync --json`
    finally:
        laptop.store.close()
