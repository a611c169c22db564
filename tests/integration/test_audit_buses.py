"""Buses in the audit (issue 14) on both databases: a real bus pass issued by the server and a bus record uploaded
through the device API (ingest fills the crossing's bus columns and makes the quarantine tasks), then the kind
filter, the list's marker, the crossing's bus and roll (bureau and enterprise), the CSVs, the dashboard's bus
figures and the quarantine task list."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from server import db
from server.audit.bus_stats import percentile
from server.quarantine.models import CONFIRMED, QuarantineTask
from tests.integration import audit_helpers
from tests.integration import test_audit_views as views
from tests.integration.conftest import DEMO_USCC
from tests.integration.test_audit_views import at

device_factory, world = views.device_factory, views.world  # the fixtures, for this module

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
XINYANG, WUHAN = "411500", "420100"
PLATE = "豫S·B1234"


def id_number(sequence: int, region: str = "411502") -> str:
    body = f"{region}19900101{sequence:03d}"
    return body + _CHECK[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def bus_pass(app) -> tuple[str, dict]:
    """A personnel-transport pass of the demo enterprise with four passengers (the third from Wuhan)."""
    passengers = [
        {
            "name": f"乘客{n}",
            "id_number": id_number(n),
            "phone": f"1390000000{n}",
            "origin": WUHAN if n == 3 else XINYANG,
            "travel_history": [WUHAN if n == 3 else XINYANG],
        }
        for n in range(1, 5)
    ]
    pass_id, _ = audit_helpers.issue_pass(
        app,
        kind="personnel",
        vehicle={"plate": PLATE, "plate_colour": "yellow"},
        escorts=[],
        origin=XINYANG,
        destination="320583",
        travel_history=[],
        cargo="",
        bus={
            "seats": 53,
            "departure": "信阳汽车站",
            "arrival": "昆山汽车南站",
            "manager": {"name": "周经理", "id_number": "320583198801013215", "phone": "13912345678"},
        },
        passengers=passengers,
    )
    return pass_id, {"passengers": passengers}


def roll() -> list[dict]:
    """Passenger 1 normal, 2 a typed fever (held, the others go on), 3 from the hard-hit area (quarantine),
    4 not aboard."""
    base = {"origin": XINYANG, "travel_history": [XINYANG], "aboard": True, "temperature_c": None}
    return [
        base | {"n": 1, "name": "乘客1", "disposition": "RELEASE"},
        base | {"n": 2, "name": "乘客2", "temperature_c": 38.4, "disposition": "MEDICAL_HOLD"},
        base
        | {"n": 3, "name": "乘客3", "origin": WUHAN, "travel_history": [WUHAN], "disposition": "QUARANTINE"},
        base | {"n": 4, "name": "乘客4", "aboard": False, "disposition": "ABSENT"},
    ]


@pytest.fixture
def buses(app, world):
    """The views' five freight crossings and one bus, decided 03:30 UTC on 10 Feb after a 7½-minute wait."""
    pass_id, _ = bus_pass(app)
    policy = audit_helpers.change_policy(app, hard_hit=[WUHAN]).policy  # the decision's policy names Wuhan
    decided = datetime.fromisoformat(at(3.5))
    crew = [
        {"role": "driver", "name": "赵师傅", "temperature_c": 36.5, "origin": XINYANG, "travel_history": []},
        {"role": "manager", "name": "周经理", "temperature_c": 36.6, "origin": XINYANG, "travel_history": []},
    ]
    record = world["ours"].record(
        decided_at=decided.isoformat(),
        plate="豫SB1234",
        pass_id=pass_id,
        policy_version=policy.version,
        outcome="RELEASE",
        reasons=[
            "PASS_VALID",
            "PRIORITY_BUS",
            "MANIFEST_VALID",
            "FEVER_PERSON_HELD",
            "QUARANTINE_BY_ENTERPRISE",
        ],
        vehicle_origin=XINYANG,
        occupants=crew,
        bus={
            "manifest": "0" * 32,
            "pages": 1,
            "seats": 53,
            "arrived_at": (decided - timedelta(seconds=450)).isoformat(),
            "passengers": roll(),
        },
    )
    answer = world["ours"].upload(record).json()
    assert answer["accepted"] == 1, answer
    return world | {"bus": record["id"], "pass_id": pass_id}


def test_the_kind_filter_and_the_list_show_the_bus(api, portal, buses):
    auditor = api("auditor")
    assert views.listed(auditor, kind="personnel") == [buses["bus"]]
    assert views.listed(auditor, kind="bus") == [buses["bus"]]  # the everyday word works too
    freight = views.listed(auditor, kind="freight")
    assert buses["bus"] not in freight and len(freight) == 5
    bad = auditor.get("/api/v1/audit/crossings", params={"kind": "boat"})
    assert bad.status_code == 422 and bad.json()["errors"] == {"kind": "audit_kind_invalid"}
    item = auditor.get("/api/v1/audit/crossings", params={"kind": "personnel"}).json()["items"][0]
    assert item["kind"] == "personnel" and item["bus_wait_seconds"] == 450
    assert item["passengers"] == {"listed": 4, "aboard": 3, "absent": 1, "quarantine": 1, "held": 1}
    page = portal("auditor").get("/audit/crossings", params={"kind": "personnel"})
    assert "客车 · 3 人" in page.text and "等候 7 分 30 秒" in page.text
    assert 'value="personnel" selected' in page.text
    english = portal("auditor").get("/audit/crossings", params={"kind": "personnel", "lang": "en"})
    assert "Bus · 3 people" in english.text and "waited 7 min 30 s" in english.text
    wrong = portal("auditor").get("/audit/crossings", params={"kind": "boat"})
    assert wrong.status_code == 422 and "请选择货运车辆或人员运输客车" in wrong.text


def test_the_bureau_sees_the_bus_and_its_roll_with_masked_ids(api, portal, buses):
    page = portal("auditor").get(f"/audit/crossings/{buses['bus']}")
    assert page.status_code == 200
    text = page.text
    assert "信阳汽车站 → 昆山汽车南站" in text and "周经理" in text and "320583********3215" in text
    assert "名单 4 人：在车 3 人，未到 1 人，企业隔离 1 人，留观 1 人" in text
    assert "411502********0011" not in text  # (a full number never appears; masked ones do)
    assert id_number(1)[:6] + "********" + id_number(1)[-4:] in text
    for full in (id_number(n) for n in range(1, 5)):
        assert full not in text
    assert "38.4 °C" in text and "已测，正常" in text and "未在车上" in text
    assert "留观（发热）" in text and "企业隔离" in text and "随车管理人员" in text
    detail = api("auditor").get(f"/api/v1/audit/crossings/{buses['bus']}").json()
    bus = detail["bus"]
    assert (
        bus["departure"] == "信阳汽车站"
        and bus["wait_seconds"] == 450
        and bus["manager_id_number"].count("*")
    )
    passengers = bus["passengers"]
    assert [p["disposition"] for p in passengers] == ["RELEASE", "MEDICAL_HOLD", "QUARANTINE", "ABSENT"]
    assert [p["measured"] for p in passengers] == ["normal", "typed", "normal", "absent"]
    assert passengers[1]["fever"] is True and passengers[1]["temperature_c"] == 38.4
    assert passengers[2]["hard_hit"] is not None and passengers[0]["hard_hit"] is None  # Wuhan is hard-hit
    english = portal("auditor").get(f"/audit/crossings/{buses['bus']}", params={"lang": "en"})
    assert "Bus and passenger roll" in english.text and "Held (fever)" in english.text


def test_an_enterprise_sees_its_bus_without_health_details(api, portal, buses):
    page = portal("clerk").get(f"/enterprise/crossings/{buses['bus']}")
    assert page.status_code == 200
    assert "乘客2" in page.text and "企业隔离" in page.text and "未在车上" in page.text
    assert "38.4" not in page.text and "留观（发热）" not in page.text and "健康信息不向企业显示" in page.text
    assert "passengers.csv" not in page.text
    bus = api("clerk").get(f"/api/v1/enterprise/crossings/{buses['bus']}").json()["bus"]
    held = bus["passengers"][1]
    assert held["temperature_c"] is None and held["fever"] is None and held["disposition"] is None
    assert held["measured"] == "" and bus["passengers"][2]["disposition"] == "QUARANTINE"
    # the enterprise's CSV: counts but no temperatures
    rows = list(
        csv.reader(io.StringIO(portal("clerk").get("/enterprise/crossings.csv").content.decode("utf-8-sig")))
    )
    bus_row = dict(zip(rows[0], next(r for r in rows[1:] if r[-1] == buses["bus"]), strict=True))
    assert bus_row["车辆类型"] == "人员运输客车" and bus_row["在车人数"] == "3"


def test_the_csvs_carry_the_bus_and_its_roll(portal, buses):
    content = portal("auditor").get("/audit/crossings.csv", params={"kind": "personnel"}).content
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["车辆类型"] == "人员运输客车" and row["站到站"] == "信阳汽车站 → 昆山汽车南站"
    assert row["座位数"] == "53" and row["名单人数"] == "4" and row["在车人数"] == "3"
    assert row["未到人数"] == "1" and row["企业隔离人数"] == "1" and row["留观人数"] == "1"
    assert row["客车等候秒数"] == "450" and row["其他随车人员"].startswith(
        "随车管理人员 周经理 320583********3215"
    )
    freight = list(
        csv.reader(io.StringIO(portal("auditor").get("/audit/crossings.csv").content.decode("utf-8-sig")))
    )
    kinds = [dict(zip(freight[0], r, strict=True))["车辆类型"] for r in freight[1:]]
    assert kinds.count("货运车辆") == 5
    answer = portal("auditor").get(f"/audit/crossings/{buses['bus']}/passengers.csv")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "private, no-store"
    roll_rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert roll_rows[0] == [
        "序号",
        "姓名",
        "身份证号",
        "出发地",
        "14天行程",
        "在车",
        "录入体温",
        "处置代码",
        "重点地区",
    ]
    assert [r[0] for r in roll_rows[1:]] == ["1", "2", "3", "4"]
    assert roll_rows[2][6] == "38.4" and roll_rows[2][7] == "MEDICAL_HOLD" and roll_rows[4][5] == "否"
    assert all("*" in r[2] and len(r[2]) == 18 for r in roll_rows[1:])
    assert not any(id_number(n) in answer.text for n in range(1, 5))
    english = portal("auditor").get(f"/audit/crossings/{buses['bus']}/passengers.csv", params={"lang": "en"})
    assert english.content.decode("utf-8-sig").startswith("No.,Name,ID number")
    freight_roll = portal("auditor").get(f"/audit/crossings/{buses['ids']['release']}/passengers.csv")
    assert freight_roll.status_code == 404


def test_the_dashboard_counts_buses_waits_and_quarantine_tasks(app, portal, buses):
    with db.session_scope(app.state.engine) as session:
        tasks = session.exec(select(QuarantineTask)).all()
        assert [(t.crossing_id, t.passenger) for t in tasks] == [(buses["bus"], 3)]
    page = portal("auditor").get("/audit/dashboard", params={"from": "2026-02-10", "to": "2026-02-12"})
    assert page.status_code == 200
    charts = views.charts_of(page.text)
    assert "客车优先通道等候时间（中位数 7.5 分钟，95% 分位 7.5 分钟）" in charts["bus_waits"]
    assert "等候时间（分钟" in charts["bus_waits"] and "客车（辆）" in charts["bus_waits"]
    text = page.text
    assert 'id="kpi-buses" href="/audit/crossings?' in text and "kind=personnel" in text
    kpi = text[text.index('id="kpi-passengers"') :]
    assert '<span class="n">3</span>' in kpi[:80]
    assert "2026-02-10</td><td>1</td><td>3</td>" in text  # buses and passengers per local day
    # The task was decided in February: open and, by now, overdue.
    assert '<span class="n">1</span><span>隔离任务超时' in text
    # The figure links the one list over the same range (tasks by release time), where the task is.
    link = text[text.index('id="kpi-tasks-overdue" href="') :].split('"')[3].replace("&amp;", "&")
    assert link.startswith("/review/quarantine?from=2026-02-10") and link.endswith("&status=overdue")
    listed = portal("auditor").get(link)
    assert listed.status_code == 200 and listed.text.count('class="task ') == 1
    assert portal("auditor").get(link.replace("2026-02-10", "2026-02-11")).text.count('class="task ') == 0
    english = portal("auditor").get(
        "/audit/dashboard", params={"from": "2026-02-10", "to": "2026-02-12", "lang": "en"}
    )
    assert "Bus waits in the priority lane (median 7.5 min" in views.charts_of(english.text)["bus_waits"]


def test_percentiles_by_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([(60, 1)], 0.95) == 60
    waits = [(value, 1) for value in range(1, 101)]
    assert percentile(waits, 0.5) == 50 and percentile(waits, 0.95) == 95
    assert percentile([(10, 19), (600, 1)], 0.95) == 10  # the 19th of 20
    assert percentile([(10, 18), (600, 2)], 0.95) == 600


def test_the_quarantine_list_filters_and_links_the_crossing(app, portal, buses):
    """The bureau's one list of quarantine tasks (/review/quarantine; the audit's former /audit/quarantine
    redirects there with its filters)."""
    auditor = portal("auditor")
    page = auditor.get("/review/quarantine")
    assert page.status_code == 200
    assert "乘客3" in page.text and f"/audit/crossings/{buses['bus']}" in page.text and "已超期" in page.text
    assert "乘客3" in auditor.get("/review/quarantine", params={"status": "overdue"}).text
    assert (
        "乘客3" in auditor.get("/review/quarantine", params={"status": "open"}).text
    )  # open counts the overdue
    assert "乘客3" not in auditor.get("/review/quarantine", params={"status": "confirmed"}).text
    assert "乘客3" in auditor.get("/review/quarantine", params={"enterprise": DEMO_USCC}).text
    assert "乘客3" not in auditor.get("/review/quarantine", params={"checkpoint": str(buses["there"])}).text
    moved = auditor.get("/audit/quarantine", params={"status": "overdue"}, follow_redirects=False)
    assert (moved.status_code, moved.headers["location"]) == (308, "/review/quarantine?status=overdue")
    with db.session_scope(app.state.engine) as session:
        task = session.exec(select(QuarantineTask)).one()
        task.status, task.place = CONFIRMED, "昆山市某酒店"
        task.arrived_at = task.confirmed_at = datetime.now(UTC)
    confirmed = auditor.get("/review/quarantine", params={"status": "confirmed"})
    assert "乘客3" in confirmed.text and "昆山市某酒店" in confirmed.text and "已确认" in confirmed.text
    bad = auditor.get(
        "/review/quarantine",
        params={"status": "lost", "checkpoint": "x", "enterprise": "没有这家公司", "page": "0"},
    )
    assert bad.status_code == 422
    for message in ("请选择待确认、已超期或已确认", "请选择一个卡口", "没有名称含此文字的企业", "页码应为"):
        assert message in bad.text
    assert "Quarantine arrivals" in auditor.get("/review/quarantine", params={"lang": "en"}).text
    assert portal("clerk").get("/audit/quarantine", follow_redirects=False).status_code == 403
    assert portal("clerk").get("/review/quarantine", follow_redirects=False).status_code == 403
