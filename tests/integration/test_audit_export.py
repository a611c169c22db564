"""CSV exports on both databases: UTF-8 with a BOM (Chinese opens in Excel), formula-like cells neutralised, the
filter respected, produced in chunks; the daily summary per checkpoint as CSV and as a page."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import Session

from server import db
from server.audit import export, queries
from server.audit.filters import CrossingFilter
from server.enterprises.models import Enterprise
from tests.integration import checkpoint_devices
from tests.integration import test_audit_views as views
from tests.integration.test_audit_views import NO_PASS, at

device_factory, world = views.device_factory, views.world  # the fixtures, for this module

HOSTILE_NAMES = ['=HYPERLINK("http://evil.example/","点我")', "+SUM(1,2)", "-2+3", "@cmd", "张伟"]


def parse(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("张伟", "张伟"),
        ("a=b", "a=b"),
        (None, ""),
        (37, "37"),
    ],
)
def test_formula_like_cells_are_prefixed_with_an_apostrophe(value, cell):
    assert export.neutralise(value) == cell


def test_the_crossings_csv_has_a_bom_chinese_and_no_live_formulas(app, portal, world):
    ours = world["ours"]
    occupants = [
        {"role": "driver", "name": name, "temperature_c": 36.5, "origin": None, "travel_history": []}
        for name in HOSTILE_NAMES
    ]
    record = ours.record(decided_at=at(6), occupants=occupants)
    assert ours.upload(record).json()["accepted"] == 1
    # An enterprise name from outside the bureau, starting with a tab.
    with db.session_scope(app.state.engine) as session:
        enterprise = session.get(Enterprise, checkpoint_devices.DEMO_USCC)
        enterprise.name = "\t=cmd|' /C calc'!A0"
    response = portal("auditor").get("/audit/crossings.csv", params={"from": "2026-02-10T13:00"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="crossings-')
    rows = parse(response.content)
    header, body = rows[0], rows[1:]
    assert header[:5] == ["时间", "卡口", "车牌", "结果代码", "处置结果"]
    assert [row[-1] for row in body] == [world["ids"]["next_day"], record["id"]]  # newest first, filtered
    hostile = dict(zip(header, body[1], strict=True))
    assert hostile["时间"] == "2026-02-10T14:00:00+08:00" and hostile["卡口"] == "G312 昆山东卡口"
    assert hostile["车牌"] == "苏E·A1234" and hostile["处置结果"] == "放行"
    assert hostile["企业名称"] == "'\t=cmd|' /C calc'!A0"
    assert hostile["驾驶员姓名"] == "'" + HOSTILE_NAMES[0]
    # the other drivers share one cell, where a formula-like name is inside it, not at its start
    assert hostile["其他随车人员"].startswith("驾驶员 +SUM(1,2) 36.5; 驾驶员 -2+3 36.5")
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    english = parse(portal("auditor").get("/audit/crossings.csv", params={"lang": "en"}).content)
    assert english[0][:3] == ["Time", "Checkpoint", "Plate"] and len(english) == 1 + 6


def test_the_api_export_streams_the_filtered_crossings(api, world):
    response = api("auditor").get(
        "/api/v1/audit/crossings.csv", params={"outcome": "MEDICAL_HOLD", "lang": "zh"}
    )
    assert response.status_code == 200
    rows = parse(response.content)
    assert len(rows) == 2 and rows[1][3] == "MEDICAL_HOLD" and rows[1][-1] == world["ids"]["fever"]
    fever = dict(zip(rows[0], rows[1], strict=True))
    assert (fever["驾驶员姓名"], fever["驾驶员体温（℃）"], fever["押运员1姓名"]) == ("王芳", "38.2", "赵强")
    bad = api("auditor").get("/api/v1/audit/crossings.csv", params={"plate": "nonsense"})
    assert bad.status_code == 422 and bad.json()["errors"] == {"plate": "audit_plate_invalid"}


def test_the_export_is_produced_chunk_by_chunk_without_losing_rows(app, world):
    ours = world["ours"]
    same = at(8)
    batch = [ours.record(decided_at=same, plate="苏EC0002", **NO_PASS) for _ in range(120)]
    assert ours.upload(*batch).json()["accepted"] == 120
    f = CrossingFilter(plate="苏EC0002")
    with Session(app.state.engine) as session:
        # keyset chunks smaller than one run of equal times: nothing twice, nothing lost
        walked = [row.crossing.id for row in queries.iterate(session, f, chunk=7)]
    assert len(walked) == len(set(walked)) == 120
    chunks = list(export.crossings_csv(app.state.engine, f, zone="Asia/Shanghai", lang="zh"))
    assert len(chunks) >= 2  # header, then rows in bounded pieces
    rows = parse(b"".join(chunks))
    assert sorted(row[-1] for row in rows[1:]) == sorted(record["id"] for record in batch)


def test_an_enterprise_exports_only_its_own_crossings_without_temperatures(portal, world):
    rows = parse(portal("clerk").get("/enterprise/crossings.csv").content)
    ids = {row[-1] for row in rows[1:]}
    assert ids == {world["ids"][name] for name in ("release", "escort")}
    header = rows[0]
    people = [dict(zip(header, row, strict=True)) for row in rows[1:]]
    assert all(not value for row in people for key, value in row.items() if "体温" in key)
    assert all(not person["执勤民警"] and not person["设备名称"] for person in people)
    assert {person["驾驶员姓名"] for person in people} == {"张伟"}
    rival = parse(portal("rival").get("/enterprise/crossings.csv").content)
    assert {row[-1] for row in rival[1:]} == {world["ids"]["forged"], world["ids"]["fever"]}


def test_the_daily_summary_per_checkpoint_as_page_and_csv(api, portal, world):
    params = {"from": "2026-02-10", "to": "2026-02-11"}
    page = portal("auditor").get("/audit/daily", params=params)
    assert page.status_code == 200 and "G50 武汉卡口" in page.text and "2026-02-11" in page.text
    response = portal("auditor").get("/audit/daily.csv", params=params)
    rows = parse(response.content)
    assert rows[0] == [
        "日期",
        "卡口",
        "通行总数",
        "放行",
        "企业接车",
        "劝返",
        "医学留观",
        "接车次数",
        "接车超时",
    ]
    assert rows[1:] == [
        ["2026-02-10", "G312 昆山东卡口", "2", "1", "1", "0", "0", "1", "1"],
        ["2026-02-10", "G50 武汉卡口", "2", "0", "0", "1", "1", "0", "0"],
        ["2026-02-11", "G312 昆山东卡口", "1", "1", "0", "0", "0", "0", "0"],
    ]
    daily = api("auditor").get("/api/v1/audit/daily", params=params).json()
    assert [(d["day"], d["checkpoint"], d["total"]) for d in daily] == [
        ("2026-02-10", "G312 昆山东卡口", 2),
        ("2026-02-10", "G50 武汉卡口", 2),
        ("2026-02-11", "G312 昆山东卡口", 1),
    ]
    assert api("auditor").get("/api/v1/audit/daily.csv", params=params).content == response.content
    future = api("auditor").get("/api/v1/audit/daily", params={"from": "2100-01-01", "to": "2100-01-02"})
    assert future.status_code == 200 and future.json() == []
