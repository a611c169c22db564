"""A bus's application (issue 14) through the API and the portal: the manifest sealed at rest and masked for all
but the reviewer, the seat limit at submission and approval, duplicates, the import and the templates, and who
may see what."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from server import db
from server.applications import bus as buses
from server.applications.models import Application, PersonHash
from server.policy import service as policy_service
from tests.bus_factories import MANAGER_ID, bus_body, passengers
from tests.integration.test_applications import form, window

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def api_bus(count: int = 45, **changes) -> dict:
    valid_from, _ = window()
    data = bus_body(count, start=valid_from, **changes)
    data.pop("enterprise")
    return data


def set_percent(app, percent: int) -> None:
    with db.session_scope(app.state.engine) as session:
        policy_service.set_policy(
            session=session, changes={"bus_occupancy_percent": percent}, now=datetime.now(UTC), by="test"
        )


def csv_of(rows: list[dict]) -> bytes:
    lines = ["姓名,身份证号,手机号,出发地,14天行程"]
    lines += [
        f"{p['name']},{p['id_number']},{p['phone']},{p['origin']},{';'.join(p['travel_history'])}"
        for p in rows
    ]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


def test_a_bus_is_stored_sealed_and_answered_masked(api, app):
    set_percent(app, 100)
    clerk = api("clerk")
    response = clerk.post("/api/v1/applications?submit=true", json=api_bus(45))
    assert response.status_code == 201, response.text
    shown = response.json()["application"]
    assert shown["kind"] == "personnel" and shown["bus"]["seats"] == 53
    assert shown["bus"]["manager"]["id_number"] == "320583********3215"
    assert len(shown["passengers"]) == 45 and shown["passengers"][0]["id_number"].count("*") == 8
    with Session(app.state.engine) as session:
        row = session.get(Application, response.json()["id"])
        assert row.kind == "personnel"
        # No full number in the stored body; the sealed copy opens to them all, in order.
        assert MANAGER_ID not in row.body_json
        assert not any(p["id_number"] in row.body_json for p in passengers(45))
        found = buses.bus_of(row)
        assert found is not None
        info, manifest = found
        assert info.manager.id_number == MANAGER_ID
        assert [p.id_number for p in manifest] == [p["id_number"] for p in passengers(45)]
        roles = [h.role for h in session.exec(select(PersonHash).where(PersonHash.application_id == row.id))]
        assert roles.count("passenger") == 45 and roles.count("manager") == 1
        assert "乘客45" in row.search_text


def test_the_seat_limit_is_checked_at_submission_with_the_numbers(api, app):
    clerk = api("clerk")
    # 53 seats at 50 %: 26 people, the manager one of them.
    draft = clerk.post("/api/v1/applications", json=api_bus(30))
    assert draft.status_code == 201, draft.text  # a draft may be over while it is worked on
    refused = clerk.post(f"/api/v1/applications/{draft.json()['id']}/submit")
    assert refused.status_code == 422
    assert refused.json()["code"] == "SEAT_LIMIT_EXCEEDED"
    assert refused.json()["errors"] == {"bus.seats": "seat_limit_exceeded"}
    assert (
        "31 people aboard" in refused.json()["detail"] and "26 (50 % of 53 seats)" in refused.json()["detail"]
    )
    assert clerk.post("/api/v1/applications?submit=true", json=api_bus(25)).status_code == 201


def test_the_seat_limit_is_checked_again_at_approval(api, app):
    clerk, reviewer = api("clerk"), api("reviewer")
    submitted = clerk.post("/api/v1/applications?submit=true", json=api_bus(25))
    assert submitted.status_code == 201, submitted.text
    set_percent(app, 40)  # tightened since: 21 people on 53 seats
    refused = reviewer.post(f"/api/v1/applications/{submitted.json()['id']}/approve")
    assert refused.status_code == 422 and refused.json()["code"] == "SEAT_LIMIT_EXCEEDED", refused.text
    assert clerk.get(f"/api/v1/applications/{submitted.json()['id']}").json()["status"] == "submitted"


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh", "超出客座率：车上 26 人（乘客加随车管理人员），53 座按 40% 最多 21 人"),
        (
            "en",
            "Over the occupancy limit: 26 aboard (passengers and the manager), at most 21 on 53 seats at 40 %",
        ),
    ],
)
def test_the_review_page_names_the_numbers_of_a_refused_approval(api, portal, app, lang, words):
    submitted = api("clerk").post("/api/v1/applications?submit=true", json=api_bus(25))
    assert submitted.status_code == 201, submitted.text
    set_percent(app, 40)
    answer = portal("reviewer").form(
        f"/review/applications/{submitted.json()['id']}/approve?lang={lang}", {"confirm": "yes"}
    )
    assert answer.status_code == 422
    assert f'<p class="alert" role="alert">{words}</p>' in answer.text


@pytest.mark.parametrize(
    ("change", "field", "key"),
    [
        (
            lambda b: b["passengers"].append(dict(b["passengers"][0])),
            "passengers.3.id_number",
            "passenger_duplicate",
        ),
        (
            lambda b: b["passengers"][1].update(id_number=MANAGER_ID),
            "passengers.1.id_number",
            "passenger_is_manager",
        ),
        (
            lambda b: b["passengers"][0].update(id_number=b["driver"]["id_number"]),
            "passengers.0.id_number",
            "passenger_is_driver",
        ),
    ],
)
def test_one_person_twice_is_refused_at_its_row(api, change, field, key):
    data = api_bus(3)
    change(data)
    refused = api("clerk").post("/api/v1/applications", json=data)
    assert refused.status_code == 422
    assert refused.json()["code"] == "PASSENGER_DUPLICATE"
    assert refused.json()["errors"] == {field: key}


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"passengers": []}, {"passengers": "passengers_required"}),
        ({"escorts": [{"name": "李娜", "id_number": "320583199007054567"}]}, {"escorts": "bus_escorts"}),
        ({"kind": "freight"}, {"kind": "freight_passengers"}),
        ({"passengers": passengers(101)}, {"passengers": "too_many"}),
    ],
)
def test_a_bus_body_that_does_not_fit_is_refused(api, changes, errors):
    refused = api("clerk").post("/api/v1/applications", json=api_bus(3) | changes)
    assert refused.status_code == 422 and refused.json()["errors"] == errors


def test_regions_of_the_manifest_must_exist_and_stations_are_named(api):
    data = api_bus(2)
    data["passengers"][1]["origin"] = "411599"
    data["bus"]["departure"] = " "
    refused = api("clerk").post("/api/v1/applications", json=data)
    assert refused.json()["errors"] == {
        "bus.departure": "station_empty",
        "passengers.1.origin": "region_unknown",
    }


def test_a_hard_hit_passenger_origin_is_a_risk_reason(api, app):
    with db.session_scope(app.state.engine) as session:
        policy_service.set_policy(
            session=session, changes={"hard_hit": ["420100"]}, now=datetime.now(UTC), by="t"
        )
    data = api_bus(3)
    data["passengers"][2]["travel_history"] = ["420100"]
    created = api("clerk").post("/api/v1/applications?submit=true", json=data)
    assert created.status_code == 201, created.text
    reasons = api("reviewer").get(f"/api/v1/applications/{created.json()['id']}").json()["risk_reasons"]
    assert {"code": "passenger_travel_history", "detail": "420100"} in reasons


def test_who_sees_the_manifest_and_how(api, portal, app):
    created = api("clerk").post("/api/v1/applications?submit=true", json=api_bus(5))
    application_id = created.json()["id"]
    full, masked = passengers(5)[0]["id_number"], created.json()["application"]["passengers"][0]["id_number"]
    assert api("rival").get(f"/api/v1/applications/{application_id}").status_code == 404
    assert portal("rival").get(f"/enterprise/applications/{application_id}").status_code == 404
    own = portal("clerk").get(f"/enterprise/applications/{application_id}").text
    assert masked in own and full not in own and MANAGER_ID not in own
    assert "6 / 53 座（上限 50%）" in own
    review = portal("reviewer").get(f"/review/applications/{application_id}").text
    assert full in review and MANAGER_ID in review
    audit = portal("auditor").get(f"/review/applications/{application_id}").text
    assert full not in audit and masked in audit
    assert full not in json.dumps(api("reviewer").get(f"/api/v1/applications/{application_id}").json())


def test_the_templates_download_for_signed_in_users_only(api, portal):
    clerk = portal("clerk")
    sheet = clerk.get("/applications/manifest-template.xlsx")
    assert sheet.status_code == 200
    rows = list(load_workbook(io.BytesIO(sheet.content), read_only=True).worksheets[0].values)
    assert rows[0] == ("姓名", "身份证号", "手机号", "出发地", "14天行程") and rows[1][0] == "张三"
    text = clerk.get("/applications/manifest-template.csv?lang=en").content
    assert text.startswith(b"\xef\xbb\xbfname,id_number,phone,origin,travel_history")
    assert portal().get("/applications/manifest-template.csv", follow_redirects=False).status_code in (
        303,
        401,
    )
    assert api().get("/api/v1/manifests/template.xlsx").status_code == 401
    assert api("reviewer").get("/api/v1/manifests/template.csv").status_code == 200


def test_the_import_api_reads_a_file_or_lists_its_problems(api):
    clerk = api("clerk")
    good = clerk.post(
        "/api/v1/manifests/import", files={"file": ("m.csv", csv_of(passengers(45)), "text/csv")}
    )
    assert good.status_code == 200 and len(good.json()["passengers"]) == 45
    rows = passengers(3)
    rows[1]["id_number"] = rows[1]["id_number"][:-1] + ("1" if rows[1]["id_number"][-1] != "1" else "2")
    bad = clerk.post("/api/v1/manifests/import", files={"file": ("m.csv", csv_of(rows), "text/csv")})
    assert bad.status_code == 422 and bad.json()["passengers"] == []
    assert bad.json()["problems"][0]["zh"] == "第 3 行：身份证号：身份证号校验位不符"
    assert (
        api("reviewer").post("/api/v1/manifests/import", files={"file": ("m.csv", b"x")}).status_code == 403
    )
    assert api().post("/api/v1/manifests/import", files={"file": ("m.csv", b"x")}).status_code in (401, 403)


def bus_form(action: str, rows: list[dict] | None = None, **changes) -> dict:
    rows = rows or []
    data = form(action) | {
        "plate": "豫S·B1234",
        "kind": "personnel",
        "escort_name": [],
        "escort_id_number": [],
        "bus_seats": "53",
        "bus_departure": "信阳汽车站",
        "bus_arrival": "昆山汽车南站",
        "manager_name": "周经理",
        "manager_id_number": MANAGER_ID,
        "manager_phone": "13912345678",
        "passenger_name": [p["name"] for p in rows],
        "passenger_id_number": [p["id_number"] for p in rows],
        "passenger_phone": [p["phone"] for p in rows],
        "passenger_origin": [p["origin"] for p in rows],
        "passenger_travel_history": [";".join(p["travel_history"]) for p in rows],
        "passenger_rows": str(len(rows)),
    }
    return data | changes


def test_the_portal_imports_a_file_into_the_table_and_submits_it(portal, app):
    set_percent(app, 100)
    clerk = portal("clerk")
    imported = clerk.form(
        "/enterprise/applications/new",
        bus_form("import_manifest"),
        files={"manifest_file": ("名单.csv", csv_of(passengers(45)), "text/csv")},
    )
    assert imported.status_code == 200, imported.text
    assert "已导入 45 名乘客" in imported.text
    assert imported.text.count('name="passenger_id_number"') == 45
    created = clerk.form(
        "/enterprise/applications/new", bus_form("submit", passengers(45)), follow_redirects=False
    )
    assert created.status_code == 303, created.text
    application_id = int(re.search(r"/enterprise/applications/(\d+)", created.headers["location"])[1])
    with Session(app.state.engine) as session:
        row = session.get(Application, application_id)
        assert row.status == "submitted" and row.kind == "personnel"


def test_the_portal_lists_a_bad_files_rows_and_keeps_the_table(portal):
    clerk = portal("clerk")
    rows = passengers(4)
    rows[2]["origin"] = "火星"
    answer = clerk.form(
        "/enterprise/applications/new",
        bus_form("import_manifest", passengers(2)),
        files={"manifest_file": ("m.csv", csv_of(rows), "text/csv")},
    )
    assert answer.status_code == 422
    assert "第 4 行：出发地：没有“火星”这个地区" in answer.text
    assert answer.text.count('name="passenger_id_number"') == 2  # nothing imported


def test_the_portal_shows_the_seat_limit_at_the_seats(portal):
    answer = portal("clerk").form("/enterprise/applications/new?lang=en", bus_form("submit", passengers(30)))
    assert answer.status_code == 422
    assert "at most 26 on 53 seats at 50 %" in answer.text or "最多 26 人" in answer.text


def test_an_approved_bus_is_issued_with_its_manifest(api, app):
    set_percent(app, 100)
    created = api("clerk").post("/api/v1/applications?submit=true", json=api_bus(45))
    approved = api("reviewer").post(f"/api/v1/applications/{created.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "issued"
    window_end = datetime.now(UTC) + timedelta(days=30)
    assert datetime.fromisoformat(approved.json()["valid_until"]) < window_end
