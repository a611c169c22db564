"""The crossing record's issue-12 keys on the server, on SQLite and PostgreSQL: a record as an older device writes it
still goes in; the officer is stored, filtered on and shown with the device in the audit's list, detail and CSV; a
pass that did not verify shows what it claimed; the referral, absent and unlisted people and the repeated record
are shown; a misused pass judged as no pass (pass_misuse = as_no_pass) replays and still raises its alert; the
retention purge blanks the claimed names and the absent people."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col

from passcore import crossing, trust
from passcore.chain import record_hash
from passcore.evidence import claimed
from server.alerts.replay import replay_crossing
from server.crossings.models import Crossing
from server.retention import service as retention
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import (
    CREW,
    alerts_of,
    change_policy,
    decided,
    issue_pass,
    publish,
    scenario,
)
from tests.integration.checkpoint_devices import make_checkpoint

device_factory = checkpoint_devices.device_factory  # the fixture, for this module

CLAIMED = {
    "reason": "PASS_SIGNATURE_INVALID",
    "serial": "320583-009999",
    "plate": "苏EF0001",
    "names": ["钱伪", "孙假"],
    "kid": "ab" * 8,
    "pass_id": "0123456789abcdef0123aaaa",
}
FORGED = {
    "pass_id": None,
    "enterprise": None,
    "outcome": "REFUSE",
    "reasons": ["PASS_SIGNATURE_INVALID"],
    "verification": "PASS_SIGNATURE_INVALID",
    "checks": dict.fromkeys(crossing.CHECK_KEYS),
}


def stored(app, crossing_id: str) -> Crossing:
    with Session(app.state.engine) as session:
        found = session.get(Crossing, crossing_id)
        assert found is not None
        return found


def test_a_record_as_an_older_device_writes_it_goes_in_and_its_hash_checks(app, device_factory):
    device = device_factory(make_checkpoint(app))
    older = device.record()  # the keys of a record before issue 12, nothing else
    assert not set(crossing.LATER_KEYS) & set(older)
    answer = device.upload(older).json()
    assert answer["accepted"] == 1, answer
    row = stored(app, older["id"])
    assert row.officer is None
    assert json.loads(row.body_json) == {k: v for k, v in older.items() if k != "hash"}
    assert record_hash(json.loads(row.body_json)) == row.record_hash

    newer = device.record(officer="KS-0042", absent=["王强"], repeat_of=older["id"])
    assert device.upload(newer).json()["accepted"] == 1
    assert stored(app, newer["id"]).officer == "KS-0042"


def test_bad_later_keys_are_refused_as_schema_invalid(app, device_factory):
    device = device_factory(make_checkpoint(app))
    for bad in ({"officer": "警员 42"}, {"repeat_of": "x"}, {"claimed": CLAIMED | {"names": ["x" * 51]}}):
        record = device.record(**bad)
        result = device.upload(record).json()["results"][0]
        assert (result["status"], result["code"]) == ("invalid", "SCHEMA_INVALID"), (bad, result)
        device.seq, device.last_hash = device.seq - 1, record["prev_hash"]


def test_the_audit_lists_filters_and_exports_the_officer_and_the_device(app, api, portal, device_factory):
    device = device_factory(make_checkpoint(app), name="东卡口 1 号机")
    first, second, old = (
        device.record(officer="KS-0042"),
        device.record(officer="KS-0043", plate="苏EB2222"),
        device.record(plate="苏EC3333"),
    )
    assert device.upload(first, second, old).json()["accepted"] == 3
    auditor = api("auditor")

    items = auditor.get("/api/v1/audit/crossings").json()["items"]
    by_id = {item["id"]: item for item in items}
    assert by_id[first["id"]]["officer"] == "KS-0042"
    assert by_id[old["id"]]["officer"] is None
    assert by_id[first["id"]]["device_name"] == "东卡口 1 号机"
    assert by_id[first["id"]]["device_id"] == device.device_id

    only = auditor.get("/api/v1/audit/crossings", params={"officer": "KS-0042"}).json()["items"]
    assert [item["id"] for item in only] == [first["id"]]
    refused = auditor.get("/api/v1/audit/crossings", params={"officer": "KS 42"})
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"officer": "audit_officer_invalid"}

    page = portal("auditor").get("/audit/crossings", params={"officer": "KS-0043"}).text
    assert "KS-0043" in page and "东卡口 1 号机" in page and device.device_id in page
    assert f"/audit/crossings/{first['id']}" not in page

    csv = portal("auditor").get("/audit/crossings.csv", params={"lang": "en"}).content.decode("utf-8-sig")
    header, *lines = csv.splitlines()
    assert "Officer,Device name,Device," in header
    assert any(f"KS-0042,东卡口 1 号机,{device.device_id}," in line and first["id"] in line for line in lines)
    assert any(f",东卡口 1 号机,{device.device_id}," in line and old["id"] in line for line in lines)


def test_the_detail_shows_what_a_forged_pass_claimed(app, api, portal, device_factory):
    device = device_factory(make_checkpoint(app))
    evidence = device.record(**FORGED, claimed=CLAIMED, officer="KS-0042")
    older = device.record(**FORGED)  # a device before issue 12 kept nothing of the forged pass
    assert device.upload(evidence, older).json()["accepted"] == 2

    page = portal("auditor").get(f"/audit/crossings/{evidence['id']}").text
    for shown in (
        "320583-009999",
        "苏E·F0001",
        "钱伪",
        "孙假",
        "ab" * 8,
        "0123456789abcdef0123aaaa",
        "KS-0042",
    ):
        assert shown in page, shown
    assert "未出示通行证" not in page
    detail = api("auditor").get(f"/api/v1/audit/crossings/{evidence['id']}").json()
    assert detail["claimed"] == CLAIMED
    assert detail["officer"] == "KS-0042"

    page = portal("auditor").get(f"/audit/crossings/{older['id']}").text
    assert "未出示通行证" not in page and "通行证未通过验证" in page


def test_the_detail_names_the_absent_and_the_unlisted(app, api, portal, device_factory):
    pass_id, qr = issue_pass(app)
    bundle = publish(app)
    device = device_factory(make_checkpoint(app))
    at = datetime.now(UTC) - timedelta(minutes=20)
    stranger = {
        "role": "passenger",
        "name": "赵六",
        "temperature_c": 36.6,
        "origin": "320583",
        "travel_history": [],
    }
    fever = [CREW[0] | {"temperature_c": 38.4}, stranger]  # 李娜 is on the pass, not aboard
    first = decided(device, scenario(qr, occupants=fever), bundle, at)
    assert first["absent"] == ["李娜"]
    assert first["outcome"] == "MEDICAL_HOLD" and "OCCUPANT_NOT_ON_PASS" in first["reasons"]
    answer = device.upload(first).json()
    assert answer["accepted"] == 1, answer

    detail = api("auditor").get(f"/api/v1/audit/crossings/{first['id']}").json()
    assert (detail["absent"], detail["unlisted"]) == (["李娜"], ["赵六"])
    page = portal("auditor").get(f"/audit/crossings/{first['id']}").text
    assert 'id="absent"' in page and 'id="unlisted"' in page and "赵六" in page
    assert pass_id == first["pass_id"]


def test_a_repeat_links_to_the_record_it_re_decides(app, api, portal, device_factory):
    device = device_factory(make_checkpoint(app))
    fever = [CREW[0] | {"temperature_c": 38.4}]
    hold = {
        "pass_id": None,
        "enterprise": None,
        "verification": None,
        "occupants": fever,
        "checks": dict.fromkeys(crossing.CHECK_KEYS),
        "outcome": "MEDICAL_HOLD",
        "reasons": ["NO_PASS", "FEVER"],
    }
    first = device.record(**hold, referral="昆山市第一人民医院发热门诊")
    unknown = str(uuid.uuid4())
    again = device.record(**hold, repeat_of=first["id"])
    orphan = device.record(**hold, repeat_of=unknown)
    assert device.upload(first, again, orphan).json()["accepted"] == 3

    page = portal("auditor").get(f"/audit/crossings/{first['id']}").text
    assert 'id="referral"' in page and "昆山市第一人民医院发热门诊" in page
    page = portal("auditor").get(f"/audit/crossings/{again['id']}").text
    assert f'href="/audit/crossings/{first["id"]}"' in page
    assert api("auditor").get(f"/api/v1/audit/crossings/{again['id']}").json()["repeat_of"] == first["id"]
    page = portal("auditor").get(f"/audit/crossings/{orphan['id']}").text
    assert unknown in page and f'href="/audit/crossings/{unknown}"' not in page


def test_a_misused_pass_judged_as_no_pass_replays_and_still_raises_its_alert(app, device_factory):
    _, qr = issue_pass(app)
    bundle = change_policy(app, pass_misuse="as_no_pass")
    assert bundle.policy.pass_misuse == "as_no_pass"
    device = device_factory(make_checkpoint(app))
    at = datetime.now(UTC) - timedelta(minutes=10)
    forged_text = qr[:-8] + ("A" if qr[-8] != "A" else "B") + qr[-7:]  # tampered: does not verify
    verification = trust.verify_pass(forged_text, bundle, now=at)
    assert not verification.valid
    mismatch = decided(device, scenario(qr, plate="苏EB9999"), bundle, at)
    tampered = decided(device, scenario(forged_text), bundle, at + timedelta(minutes=1))
    assert mismatch["outcome"] == "RELEASE" and {"PLATE_MISMATCH", "NO_PASS"} <= set(mismatch["reasons"])
    assert tampered["outcome"] == "RELEASE" and "NO_PASS" in tampered["reasons"]
    assert device.upload(mismatch, tampered).json()["accepted"] == 2

    assert {a.crossing_id for a in alerts_of(app, "pass_mismatch")} == {mismatch["id"]}
    assert tampered["id"] in {a.crossing_id for a in alerts_of(app, "pass_forged")}
    assert not alerts_of(app, "decision_differs")
    with Session(app.state.engine) as session:
        for record in (mismatch, tampered):
            result = replay_crossing(session, session.get(Crossing, record["id"]))
            assert result.matches, result
    # The checkpoint keeps what the tampered pass claimed (server.demo.crossings.decide_record, as the screen does).
    assert tampered["claimed"] == claimed(forged_text, verification)
    assert tampered["claimed"]["reason"] == verification.code


def test_retention_blanks_the_claimed_names_and_the_absent(app, device_factory):
    device = device_factory(make_checkpoint(app))
    record = device.record(**FORGED, claimed=CLAIMED, absent=["王强"], officer="KS-0042")
    assert device.upload(record).json()["accepted"] == 1
    old = datetime.now(UTC) - timedelta(days=60)
    with Session(app.state.engine) as session:
        session.exec(
            update(Crossing).where(col(Crossing.id) == record["id"]).values(decided_at=old, received_at=old)
        )
        session.commit()
    with Session(app.state.engine, expire_on_commit=False) as session:
        retention.purge(session=session, now=datetime.now(UTC))
    body = json.loads(stored(app, record["id"]).body_json)
    assert body["claimed"] == CLAIMED | {"names": []}
    assert body["absent"] == []
    assert body["officer"] == "KS-0042"
    assert "钱伪" not in stored(app, record["id"]).body_json
