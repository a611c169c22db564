"""The auditor's desk on both databases (issue 13): the crossings CSV names the pass by its printed number, lays
the people out in their own columns with masked ID numbers, and gives the escort's times, the device and the
officer; the plate filter finds a plate from any part of it."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from server.crossings.models import EscortRequest
from tests.integration import test_audit_views as views
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.test_audit_views import listed
from tests.integration.test_passes import issue_pass

device_factory, world = views.device_factory, views.world  # the fixtures, for this module


def parse(content: bytes) -> list[dict[str, str]]:
    header, *rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("A1234", ["next_day", "escort", "release"]),  # 苏EA1234 twice, and 鄂A12345 holds it too
        ("a1234", ["next_day", "escort", "release"]),
        ("ａ１２３４", ["next_day", "escort", "release"]),  # full-width, as Chinese input methods type it
        ("EA1234", ["next_day", "release"]),
        ("e·a1234", ["next_day", "release"]),
        ("苏E·A1234", ["next_day", "release"]),  # a whole plate: exact, as before
        ("苏EA12", ["next_day", "release"]),  # the province first: the plate starts with it
        ("苏e", ["next_day", "release"]),
        ("鄂", ["fever", "forged", "escort"]),
        ("54321", ["fever", "forged"]),
        ("A 543-21", ["fever", "forged"]),
        ("B9999", []),
    ],
)
def test_the_plate_filter_finds_a_plate_from_part_of_it(api, world, typed, expected):
    assert listed(api("auditor"), plate=typed) == [world["ids"][name] for name in expected]


@pytest.mark.parametrize("typed", ["A", "7", "NONSENSE", "A%12", "A_12", "<b>苏A</b>", "E苏A12", "A12345678"])
def test_what_cannot_be_part_of_a_plate_is_refused_by_name(api, world, typed):
    answer = api("auditor").get("/api/v1/audit/crossings", params={"plate": typed})
    assert answer.status_code == 422 and answer.json()["errors"] == {"plate": "audit_plate_invalid"}


def test_the_portal_page_and_the_csv_search_part_of_a_plate(portal, world):
    auditor = portal("auditor")
    page = auditor.get("/audit/crossings", params={"plate": "54321"})
    assert page.status_code == 200
    assert world["ids"]["forged"] in page.text and world["ids"]["release"] not in page.text
    rows = parse(auditor.get("/audit/crossings.csv", params={"plate": "54321"}).content)
    assert [row["记录编号"] for row in rows] == [world["ids"][name] for name in ("fever", "forged")]


def test_the_csv_names_the_pass_people_escort_times_device_and_officer(app, portal, device_factory):
    issued = issue_pass(app, plate="苏E·B2345")
    claims = json.loads(issued.claims_json)
    device = device_factory(make_checkpoint(app, "G312 昆山东卡口"), "东卡口 1 号机")
    crew = [
        {"role": "driver", "name": "张伟", "temperature_c": 36.5, "origin": "320583", "travel_history": []},
        {"role": "escort", "name": "李娜", "temperature_c": 36.7, "origin": "320583", "travel_history": []},
        {"role": "passenger", "name": "=王五", "temperature_c": 36.4, "origin": None, "travel_history": []},
    ]
    record = device.record(
        plate="苏EB2345",
        pass_id=issued.pass_id,
        occupants=crew,
        officer="KS-0042",
        outcome="ESCORT_REQUIRED",
        reasons=["PASS_VALID", "HARD_HIT_VEHICLE"],
        vehicle_origin="420100",
    )
    assert device.upload(record).json()["accepted"] == 1
    with Session(app.state.engine) as session:
        escort = session.exec(select(EscortRequest).where(EscortRequest.crossing_id == record["id"])).one()
        requested = escort.requested_at
        escort.answered_at = requested + timedelta(minutes=12)
        escort.handed_over_at = requested + timedelta(minutes=41)
        session.add(escort)
        session.commit()

    def local(moment):
        return moment.astimezone(views.ZoneInfo("Asia/Shanghai")).isoformat(timespec="seconds")

    (row,) = parse(portal("auditor").get("/audit/crossings.csv", params={"plate": "B2345"}).content)
    assert row["通行证号"] == issued.serial and issued.pass_id not in row.values()
    assert row["驾驶员姓名"] == "张伟" and row["驾驶员体温（℃）"] == "36.5"
    assert (
        row["驾驶员身份证号（脱敏）"] == claims["driver"]["id_number"]
        and "*" in row["驾驶员身份证号（脱敏）"]
    )
    assert row["押运员1姓名"] == "李娜"
    assert row["押运员1身份证号（脱敏）"] == claims["escorts"][0]["id_number"]
    assert row["押运员2姓名"] == "" and row["押运员6姓名"] == ""
    assert row["其他随车人员"] == "随车人员 =王五 36.4"  # inside the cell: no formula
    assert row["接车请求时间"] == local(requested)
    assert row["企业答复时间"] == local(requested + timedelta(minutes=12))
    assert row["交接时间"] == local(requested + timedelta(minutes=41))
    assert (row["执勤民警"], row["设备名称"], row["设备"]) == ("KS-0042", "东卡口 1 号机", device.device_id)

    (english,) = parse(
        portal("auditor").get("/audit/crossings.csv", params={"plate": "B2345", "lang": "en"}).content
    )
    assert english["Pass number"] == issued.serial and english["Driver"] == "张伟"
    assert english["Escort 1 ID number (masked)"] == claims["escorts"][0]["id_number"]
    assert english["Other occupants"] == "Passenger =王五 36.4"
    assert english["Handed over"] == local(requested + timedelta(minutes=41))

    (own,) = parse(portal("clerk").get("/enterprise/crossings.csv", params={"plate": "B2345"}).content)
    assert own["驾驶员姓名"] == "张伟" and own["驾驶员体温（℃）"] == "" and own["执勤民警"] == ""
    assert own["其他随车人员"] == "随车人员 =王五"
