"""The bureau's audit of crossings on both databases: each filter, keyset paging, a crossing's detail (pass,
occupants, reasons, versions, escort timeline, conflicts, replay), the dashboard's aggregates and charts."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from passcore.chain import record_hash
from server.crossings.models import EscortRequest
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.conftest import DEMO_USCC, OTHER_USCC
from tests.integration.test_passes import issue_pass

device_factory = checkpoint_devices.device_factory  # the fixture, for this module

T0 = datetime(2026, 2, 10, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
FORGED_PASS = "feedfacefeedfacefeedface"
# Vehicles without a pass: the views are about counts and outcomes, not about any one pass.
NO_PASS = {
    "pass_id": None,
    "verification": None,
    "reasons": ["NO_PASS"],
    "checks": {"identity_confirmed": None, "licence_confirmed": None, "id_last4_matched": None},
}


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def fever_crew(name: str = "王芳") -> list[dict]:
    return [
        {"role": "driver", "name": name, "temperature_c": 38.2, "origin": "420100", "travel_history": []},
        {"role": "escort", "name": "赵强", "temperature_c": 36.6, "origin": "420100", "travel_history": []},
    ]


@pytest.fixture
def world(app, device_factory):
    """Two checkpoints, a device each, and five crossings over two local days (times in UTC; Shanghai is +8)."""
    here, there = (
        make_checkpoint(app, "G312 昆山东卡口"),
        make_checkpoint(app, "G50 武汉卡口", region="420100"),
    )
    ours, theirs = device_factory(here, "ours"), device_factory(there, "theirs")
    records = {
        "release": ours.record(decided_at=at(1), pass_id="0123456789abcdef01234567"),
        "escort": ours.escort_record(decided_at=at(2)),
        "forged": theirs.record(
            decided_at=at(3),
            plate="鄂A54321",
            pass_id=FORGED_PASS,
            enterprise=OTHER_USCC,
            outcome="REFUSE",
            reasons=["PASS_SIGNATURE_INVALID"],
            verification="PASS_SIGNATURE_INVALID",
        ),
        "fever": theirs.record(
            decided_at=at(4),
            plate="鄂A54321",
            pass_id=None,
            enterprise=OTHER_USCC,
            outcome="MEDICAL_HOLD",
            reasons=["NO_PASS", "FEVER"],
            verification=None,
            occupants=fever_crew(),
            checks={"identity_confirmed": None, "licence_confirmed": None, "id_last4_matched": None},
        ),
        "next_day": ours.record(decided_at=at(26), pass_id=None, enterprise=None, verification=None),
    }
    for device, names in ((ours, ("release", "escort", "next_day")), (theirs, ("forged", "fever"))):
        answer = device.upload(*(records[name] for name in names)).json()
        assert answer["accepted"] == len(names), answer
    ids = {name: record["id"] for name, record in records.items()}
    return {"here": here, "there": there, "ours": ours, "theirs": theirs, "ids": ids, "records": records}


def listed(client, **params) -> list[str]:
    answer = client.get("/api/v1/audit/crossings", params=params)
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def test_each_filter_selects_exactly_its_crossings(api, world):
    auditor, ids = api("auditor"), world["ids"]
    everything = ["next_day", "fever", "forged", "escort", "release"]  # newest first
    cases = [
        ({}, everything),
        (
            {"from": "2026-02-10T10:00", "to": "2026-02-10T12:00"},
            ["forged", "escort"],
        ),  # local time, end exclusive
        ({"from": "2026-02-10T02:00:00+00:00"}, ["next_day", "fever", "forged", "escort"]),  # ISO with zone
        ({"to": "2026-02-10"}, ["fever", "forged", "escort", "release"]),  # a bare date ends with its day
        ({"from": "2026-02-11"}, ["next_day"]),
        ({"checkpoint": str(world["there"])}, ["fever", "forged"]),
        ({"enterprise": DEMO_USCC}, ["escort", "release"]),
        ({"enterprise": "武汉长江"}, ["fever", "forged"]),  # part of a registered name
        ({"pass": FORGED_PASS}, ["forged"]),
        ({"plate": "苏e·a1234"}, ["next_day", "release"]),  # any usual spelling of the plate
        ({"plate": "鄂A12345"}, ["escort"]),
        ({"outcome": "MEDICAL_HOLD"}, ["fever"]),
        ({"outcome": "refuse"}, ["forged"]),
        ({"checkpoint": str(world["here"]), "outcome": "RELEASE"}, ["next_day", "release"]),
        ({"checkpoint": str(world["there"]), "enterprise": DEMO_USCC}, []),
    ]
    for params, expected in cases:
        assert listed(auditor, **params) == [ids[name] for name in expected], params


def test_the_list_page_shows_local_times_words_and_the_filter(portal, world):
    page = portal("auditor").get("/audit/crossings", params={"outcome": "REFUSE"})
    assert page.status_code == 200
    assert "2026-02-10 11:00:00" in page.text  # 03:00 UTC in Shanghai
    assert "通行证签名无效" in page.text and "劝返" in page.text
    assert 'value="REFUSE" selected' in page.text
    assert f"/audit/crossings/{world['ids']['forged']}" in page.text
    assert world["ids"]["release"] not in page.text
    english = portal("auditor").get("/audit/crossings", params={"lang": "en"})
    assert "The pass signature does not verify" in english.text and "Checkpoint crossings" in english.text


def test_unusable_filters_name_each_field_and_show_nothing(api, portal, world):
    bad = {
        "from": "yesterday",
        "checkpoint": "abc",
        "enterprise": "91320583MA1XY7123X",
        "pass": "not-a-pass",
        "plate": "<b>苏A</b>",
        "outcome": "MAYBE",
    }
    answer = api("auditor").get("/api/v1/audit/crossings", params=bad)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert set(answer.json()["errors"]) == set(bad)
    reversed_range = api("auditor").get(
        "/api/v1/audit/crossings", params={"from": "2026-02-11", "to": "2026-02-10"}
    )
    assert reversed_range.json()["errors"] == {"to": "audit_range_reversed"}
    for params in ({"pass": "320583-999999"}, {"enterprise": "没有这家公司"}):
        assert api("auditor").get("/api/v1/audit/crossings", params=params).status_code == 422
    assert api("auditor").get("/api/v1/audit/crossings", params={"after": "garbage!"}).json()["code"] == (
        "CURSOR_INVALID"
    )
    assert api("auditor").get("/api/v1/audit/crossings", params={"plate": "x" * 21}).status_code == 422
    page = portal("auditor").get("/audit/crossings", params=bad)
    assert page.status_code == 422
    assert "不是有效的车牌号" in page.text and "请选择一个处置结果" in page.text
    assert "<b>苏A</b>" not in page.text and "&lt;b&gt;苏A" in page.text
    assert world["ids"]["release"] not in page.text


def test_keyset_pages_have_no_duplicates_or_gaps_among_equal_times(api, portal, world):
    ours = world["ours"]
    same = at(5)
    batch = [ours.record(decided_at=same, plate="苏EC0001", **NO_PASS) for _ in range(57)]
    assert ours.upload(*batch).json()["accepted"] == 57
    auditor = api("auditor")
    seen, after, pages = [], "", 0
    while True:
        answer = auditor.get("/api/v1/audit/crossings", params={"limit": 4, "after": after}).json()
        seen += [(item["decided_at"], item["id"]) for item in answer["items"]]
        pages += 1
        if answer["next_cursor"] is None:
            break
        after = answer["next_cursor"]
    assert len(seen) == len(set(seen)) == 57 + 5
    assert pages == 16  # 62 rows, 4 a page
    assert seen == sorted(seen, key=lambda key: (datetime.fromisoformat(key[0]), key[1]), reverse=True)
    # The same through a filter, and through the portal's "next page" link (50 a page).
    plated = listed(auditor, plate="苏EC0001", limit=500)
    assert sorted(plated) == sorted(r["id"] for r in batch)
    client = portal("auditor")
    first = client.get("/audit/crossings", params={"plate": "苏EC0001"})
    next_url = re.search(r'id="next-page" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    second = client.get(next_url)
    shown = re.findall(r'href="/audit/crossings/([0-9a-f-]{36})"', first.text + second.text)
    assert sorted(shown) == sorted(r["id"] for r in batch)
    assert 'id="next-page"' not in second.text


def test_a_crossing_detail_shows_its_pass_people_reasons_versions_and_replay(app, api, portal, world):
    issued = issue_pass(app, plate="苏E·A1234")
    bundle_version = int(api().get("/api/v1/trust-bundle").headers["x-bundle-version"])
    ours = world["ours"]
    record = ours.record(
        decided_at=datetime.now(UTC).isoformat(), pass_id=issued.pass_id, bundle_version=bundle_version
    )
    assert ours.upload(record).json()["accepted"] == 1
    page = portal("auditor").get(f"/audit/crossings/{record['id']}")
    assert page.status_code == 200
    text = page.text
    assert f'href="/enterprise/passes/{issued.pass_id}">{issued.serial}</a>' in text
    assert "张伟" in text and "李娜" in text and "36.5 °C" in text
    assert "通行证有效" in text and "政策第 1 版" in text and f"信任包第 {bundle_version} 版" in text
    assert ours.device_id in text and "内容与哈希一致" in text
    assert "复核一致：放行" in text
    detail = api("auditor").get(f"/api/v1/audit/crossings/{record['id']}", params={"lang": "en"}).json()
    assert detail["replay"]["matches"] is True and detail["replay"]["outcome"] == "RELEASE"
    assert detail["reasons_in_words"] == [{"code": "PASS_VALID", "message": "The pass is valid"}]
    assert detail["pass_serial"] == issued.serial and detail["body_intact"] is True
    assert [o["name"] for o in detail["occupants"]] == ["张伟", "李娜"]
    # A pass this server never issued, and a fever.
    forged = portal("auditor").get(f"/audit/crossings/{world['ids']['forged']}").text
    assert "本系统未签发此通行证" in forged and "通行证签名无效" in forged
    fever = api("auditor").get(f"/api/v1/audit/crossings/{world['ids']['fever']}").json()
    assert [(o["temperature_c"], o["fever"]) for o in fever["occupants"]] == [(38.2, True), (36.6, False)]
    assert "发热" in portal("auditor").get(f"/audit/crossings/{world['ids']['fever']}").text
    assert (
        api("auditor").get("/api/v1/audit/crossings/00000000-0000-4000-8000-000000000000").status_code == 404
    )


def test_the_escort_timeline_and_conflicting_uploads_are_shown(app, api, portal, world):
    with Session(app.state.engine) as session:
        escort = session.exec(select(EscortRequest)).one()
    clerk = portal("clerk")
    eta = (
        (datetime.now(UTC) + timedelta(hours=1))
        .astimezone(ZoneInfo("Asia/Shanghai"))
        .strftime("%Y-%m-%dT%H:%M")
    )
    answered = clerk.form(
        f"/enterprise/escorts/{escort.id}",
        {"staff_name": "周敏", "staff_phone": "138 1234 5678", "eta": eta},
        follow_redirects=False,
    )
    assert answered.status_code == 303, answered.text
    handed = world["ours"].post(f"/api/v1/escorts/{escort.id}/handover", json={"at": at(2 + 95 / 60)})
    assert handed.status_code == 200, handed.text
    # The device sends the same id again with other content: kept as a conflict, shown on the detail.
    changed = dict(world["records"]["escort"], plate="鄂A99999")
    changed["hash"] = record_hash({k: v for k, v in changed.items() if k != "hash"})
    assert world["ours"].upload(changed).json()["conflict"] == 1
    crossing_id = world["ids"]["escort"]
    text = portal("auditor").get(f"/audit/crossings/{crossing_id}").text
    assert "周敏" in text and "车辆已交接" in text
    # Handed over: the total wait.
    assert "总等待 1 小时 35 分（申请至交接；限时 60 分钟）" in text and "超时" in text
    assert "plate" in text.split('id="conflicts"')[1]
    detail = api("auditor").get(f"/api/v1/audit/crossings/{crossing_id}").json()
    assert detail["escort"]["waited_minutes"] == 95 and detail["escort"]["over_limit"] is True
    assert detail["conflicts"][0]["differing"] == ["plate"]


def test_dashboard_numbers_are_aggregated_in_local_time(api, world):
    ours = world["ours"]
    # 16:30 UTC on the 10th is half past midnight on the 11th in Shanghai.
    assert ours.upload(ours.record(decided_at="2026-02-10T16:30:00+00:00")).json()["accepted"] == 1
    board = api("auditor").get("/api/v1/audit/dashboard", params={"from": "2026-02-10", "to": "2026-02-11"})
    assert board.status_code == 200, board.text
    data = board.json()
    here, there = str(world["here"]), str(world["there"])
    assert data["unit"] == "hour"
    assert data["totals"] | {"total": 0} == {
        "RELEASE": 3,
        "ESCORT_REQUIRED": 1,
        "REFUSE": 1,
        "MEDICAL_HOLD": 1,
        "total": 0,
        "escorts": 1,
        "escorts_over": 1,  # still open: it has waited since 10 February
        "conflicts": 0,
    }
    assert data["per_hour_by_checkpoint"][here] == {
        "2026-02-10 09": 1,
        "2026-02-10 10": 1,
        "2026-02-11 00": 1,
        "2026-02-11 10": 1,
    }
    assert data["per_hour_by_checkpoint"][there] == {"2026-02-10 11": 1, "2026-02-10 12": 1}
    assert data["outcomes"]["RELEASE"] == {"2026-02-10 09": 1, "2026-02-11 00": 1, "2026-02-11 10": 1}
    assert data["fever_by_day"] == {there: {"2026-02-10": 1}}
    assert sum(data["escort_waits"]) == 1 and data["escort_waits"][-1] == 1  # open for days: the last bin
    assert [(e["uscc"], sum(e["outcomes"].values())) for e in data["top_enterprises"]] == [
        (DEMO_USCC, 3),
        (OTHER_USCC, 2),
    ]
    assert data["top_enterprises"][0]["name"] == "昆山精密机械有限公司"
    narrow = api("auditor").get("/api/v1/audit/dashboard", params={"from": "2026-02-11"}).json()
    assert narrow["totals"]["total"] == 2
    too_long = api("auditor").get(
        "/api/v1/audit/dashboard", params={"from": "2025-01-01", "to": "2026-01-01"}
    )
    assert too_long.json()["errors"] == {"from": "audit_range_too_long"}


def charts_of(html: str) -> dict[str, str]:
    found = re.findall(r'id="chart-([a-z_]+)">\s*<img src="data:image/svg\+xml;base64,([^"]+)"', html)
    return {name: base64.b64decode(data).decode() for name, data in found}


@pytest.mark.parametrize(
    ("lang", "title", "checkpoint"),
    [
        ("zh", "各卡口每小时通行量", "G50 武汉卡口"),
        ("en", "Crossings per hour per checkpoint", "G50 武汉卡口"),
    ],
)
def test_the_dashboard_draws_six_self_contained_charts(portal, world, lang, title, checkpoint):
    page = portal("auditor").get(
        "/audit/dashboard", params={"from": "2026-02-10", "to": "2026-02-12", "lang": lang}
    )
    assert page.status_code == 200
    charts = charts_of(page.text)
    assert set(charts) == {"per_hour", "outcomes", "escort_waits", "fever", "top_enterprises", "bus_waits"}
    assert title in charts["per_hour"] and checkpoint in charts["fever"]
    assert "武汉长江物流有限公司" in charts["top_enterprises"]
    for svg in charts.values():
        assert svg.startswith("<svg") and "<script src" not in svg
        assert not re.search(r'(href|src)="(https?:)?//', svg)  # nothing fetched from outside: draws offline
    assert 'id="kpi-MEDICAL_HOLD"' in page.text and "outcome=MEDICAL_HOLD" in page.text
    bad = portal("auditor").get("/audit/dashboard", params={"from": "soon"})
    assert (bad.status_code == 422 and "请输入日期时间" in bad.text) or "Enter a date" in bad.text


def test_an_empty_dashboard_says_there_is_nothing_to_show(portal, world):
    page = portal("auditor").get("/audit/dashboard", params={"from": "2025-01-01", "to": "2025-01-02"})
    assert page.status_code == 200
    charts = charts_of(page.text)
    assert len(charts) == 6 and all(svg.startswith("<svg") for svg in charts.values())
    assert "期间无数据" in charts["per_hour"] and "期间无发热留观" in charts["fever"]
