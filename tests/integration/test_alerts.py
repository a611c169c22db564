"""Alerts raised on ingest, on hand-over and by the periodic sweep, and worked on the portal and the API."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from server.alerts import rules
from server.alerts import service as alerts
from server.alerts.models import AlertEvent
from server.checkpoints.models import Device as DeviceRow
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import (
    CREW,
    ago,
    alerts_of,
    decided,
    detail,
    issue_pass,
    publish,
    revoke,
    scenario,
)
from tests.integration.checkpoint_devices import HOSTILE, make_checkpoint

device_factory = checkpoint_devices.device_factory

KUNSHAN = {"latitude": 31.3856, "longitude": 120.9807}
SUZHOU_WEST = {"latitude": 31.3201, "longitude": 120.4528}
FORGED = {
    "outcome": "REFUSE",
    "reasons": ["PASS_SIGNATURE_INVALID"],
    "verification": "PASS_SIGNATURE_INVALID",
    "pass_id": None,
}


@pytest.fixture
def device(app, device_factory):
    return device_factory(make_checkpoint(app, **KUNSHAN))


def kinds(app) -> list[str]:
    return sorted(a.kind for a in alerts_of(app) if a.kind != rules.DECISION_DIFFERS)


def sweep(app, now: datetime) -> int:
    with Session(app.state.engine, expire_on_commit=False) as session:
        return alerts.sweep(session=session, now=now, limits=alerts.Limits.of(app.state.settings))


def test_misuse_and_fever_each_raise_one_alert(app, device):
    _, qr = issue_pass(app)
    other_id, other_qr = issue_pass(app, vehicle={"plate": "苏E·B7777", "plate_colour": "blue"})
    bundle = publish(app)
    revoke(app, other_id, ago(minutes=10))  # after the device's bundle was signed
    records = [
        decided(device, scenario(qr), bundle, ago(minutes=50)),
        decided(device, scenario(qr, plate="苏E·C1111"), bundle, ago(minutes=40)),  # plate does not match
        decided(
            device,
            scenario(qr, occupants=[CREW[0], CREW[1] | {"temperature_c": 38.4}]),
            bundle,
            ago(minutes=30),
        ),
        decided(
            device, scenario(other_qr, plate="苏E·B7777"), bundle, ago(minutes=1)
        ),  # stale bundle: released
        device.record(**FORGED, decided_at=ago(minutes=20).isoformat()),
    ]
    assert device.upload(*records).json()["accepted"] == 5
    assert records[3]["outcome"] == "RELEASE"
    assert kinds(app) == sorted([rules.FEVER, rules.PASS_FORGED, rules.PASS_MISMATCH, rules.PASS_REVOKED])
    by_kind = {a.kind: a for a in alerts_of(app)}
    assert (
        by_kind[rules.FEVER].crossing_id == records[2]["id"]
        and detail(by_kind[rules.FEVER])["occupants"] == 1
    )
    assert detail(by_kind[rules.PASS_MISMATCH]) == {"codes": ["PLATE_MISMATCH"]}
    assert detail(by_kind[rules.PASS_REVOKED]) == {"known_to_device": False, "outcome": "RELEASE"}
    assert by_kind[rules.PASS_REVOKED].pass_id == other_id
    assert all(a.status == "open" and a.checkpoint_id == device.checkpoint_id for a in alerts_of(app))
    # Uploading again and sweeping find the same facts: nothing is raised twice.
    device.upload(*records)
    sweep(app, datetime.now(UTC))
    assert kinds(app) == sorted([rules.FEVER, rules.PASS_FORGED, rules.PASS_MISMATCH, rules.PASS_REVOKED])
    assert records[0]["id"] not in {a.crossing_id for a in alerts_of(app)}  # a plain release: nothing


def test_escort_waits_over_the_limit_are_found_on_ingest_on_hand_over_and_by_the_sweep(app, device):
    late = device.escort_record(decided_at=ago(hours=2).isoformat())  # an offline checkpoint syncing late
    waiting = device.escort_record(decided_at=ago(minutes=30).isoformat())
    quick = device.escort_record(decided_at=ago(minutes=50).isoformat())
    assert device.upload(late, waiting, quick).json()["accepted"] == 3
    (found,) = alerts_of(app, rules.ESCORT_WAIT)
    assert found.crossing_id == late["id"] and detail(found)["waited_minutes"] >= 120
    assert detail(found)["limit_minutes"] == 60 and detail(found)["handed_over"] is False

    escorts = device.get("/api/v1/escorts").json()["escorts"]
    quick_id = next(e["id"] for e in escorts if e["crossing_id"] == quick["id"])
    handed = datetime.fromisoformat(quick["decided_at"]) + timedelta(minutes=61)
    assert (
        device.post(f"/api/v1/escorts/{quick_id}/handover", json={"at": handed.isoformat()}).status_code
        == 200
    )
    late_handover = [a for a in alerts_of(app, rules.ESCORT_WAIT) if a.crossing_id == quick["id"]]
    assert len(late_handover) == 1 and detail(late_handover[0])["handed_over"] is True

    assert sweep(app, datetime.now(UTC)) == 0  # the one still waiting is within the limit
    assert sweep(app, datetime.now(UTC) + timedelta(minutes=31)) == 1
    assert {a.crossing_id for a in alerts_of(app, rules.ESCORT_WAIT)} == {
        late["id"],
        quick["id"],
        waiting["id"],
    }
    assert sweep(app, datetime.now(UTC) + timedelta(minutes=45)) == 0  # raised once


def test_a_pass_seen_at_two_checkpoints_too_fast_is_a_clone(app, device, device_factory, portal):
    west = device_factory(make_checkpoint(app, "G2 苏州西卡口", "320505", **SUZHOU_WEST))
    seen = ago(minutes=30)
    first = device.record(decided_at=seen.isoformat())
    assert device.upload(first).json()["accepted"] == 1
    assert alerts_of(app, rules.CLONED_PASS) == []
    fast = west.record(decided_at=(seen + timedelta(minutes=4)).isoformat())
    slow = west.record(decided_at=(seen + timedelta(minutes=29)).isoformat())  # ~50 km in 29 min: possible
    assert west.upload(fast, slow).json()["accepted"] == 2
    (clone,) = alerts_of(app, rules.CLONED_PASS)
    assert clone.crossing_id == fast["id"] and clone.checkpoint_id == west.checkpoint_id
    assert clone.pass_id == first["pass_id"] and clone.device_id == west.device_id
    found = detail(clone)
    assert found["other_crossing_id"] == first["id"] and found["other_checkpoint_id"] == device.checkpoint_id
    # 50.7 km less 2 of slack in 4 minutes plus 5 for the clocks: still 324 km/h, where 150 is believable.
    assert 50 < found["distance_km"] < 51.5 and found["minutes"] == 4.0
    assert 320 < found["speed_kmh"] < 330 and found["max_speed_kmh"] == 150
    assert found["skew_minutes"] == 5 and found["slack_km"] == 2
    # The alert says what it accuses, allowances included, in both languages.
    page = portal("auditor").get(f"/audit/alerts/{clone.id}")
    speed = int(found["speed_kmh"] + 0.5)  # as the page rounds it
    assert f"即使计入 5 分钟时钟误差和 2 公里位置误差，也需时速 {speed} 公里（上限 150 公里）" in page.text
    english = portal("auditor").get(f"/audit/alerts/{clone.id}", params={"lang": "en"})
    assert (
        f"even allowing 5 minutes for the clocks and 2 km for the locations, that needs {speed} km/h"
        in english.text
    )


def test_the_clone_speed_and_allowances_are_settings(app, device, device_factory):
    west = device_factory(make_checkpoint(app, "G2 苏州西卡口", "320505", **SUZHOU_WEST))
    seen = ago(minutes=90)

    def at(client, minutes: float, pass_id: str) -> None:
        record = client.record(decided_at=(seen + timedelta(minutes=minutes)).isoformat(), pass_id=pass_id)
        assert client.upload(record).json()["accepted"] == 1

    def settings(**changes: float) -> None:
        app.state.settings = app.state.settings.model_copy(update=changes)

    settings(audit_max_speed_kmh=1000.0)
    at(device, 0, "a" * 24)
    at(west, 4, "a" * 24)  # 50.7 km in 4 minutes is believable at 1000 km/h
    assert alerts_of(app, rules.CLONED_PASS) == []
    # 50.7 km in 23 minutes is 132 km/h: too fast for 120 without allowances ...
    settings(audit_max_speed_kmh=120.0, audit_clock_skew_minutes=0, audit_distance_slack_km=0.0)
    at(device, 10, "b" * 24)
    at(west, 33, "b" * 24)
    (clone,) = alerts_of(app, rules.CLONED_PASS)
    assert detail(clone)["max_speed_kmh"] == 120 and detail(clone)["skew_minutes"] == 0
    # ... and believable once the clocks may be 5 minutes apart, or the checkpoints 5 km nearer than marked.
    for pass_id, changes in (
        ("c" * 24, {"audit_clock_skew_minutes": 5}),
        ("d" * 24, {"audit_clock_skew_minutes": 0, "audit_distance_slack_km": 5.0}),
    ):
        settings(**changes)
        at(device, 40, pass_id)
        at(west, 63, pass_id)
    assert len(alerts_of(app, rules.CLONED_PASS)) == 1


def test_repeats_at_one_checkpoint_are_never_a_clone(app, device, device_factory):
    """Issue 12: one officer's session raised 8 cloned-pass alerts; repeats at one checkpoint are not clones."""
    other_lane = device_factory(device.checkpoint_id, name="laptop 2")
    seen = ago(minutes=60)
    for k, client in enumerate(
        [device, device, other_lane, device, other_lane, device, device, device, device]
    ):
        record = client.record(decided_at=(seen + timedelta(seconds=40 * k)).isoformat())
        assert client.upload(record).json()["accepted"] == 1
    returned = device.record(decided_at=(seen + timedelta(minutes=50)).isoformat())  # came back later
    assert device.upload(returned).json()["accepted"] == 1
    assert sweep(app, datetime.now(UTC)) == 0
    assert alerts_of(app, rules.CLONED_PASS) == []


def test_a_re_measure_is_never_paired_with_the_record_it_re_decides(app, device):
    # A laptop moved to a checkpoint 50 km away between a fever hold and its re-measure ten minutes later (a case
    # the same-checkpoint rule does not cover): the re-measure's own link says it is the same vehicle.
    seen = ago(minutes=30)
    held = device.record(
        decided_at=seen.isoformat(), outcome="MEDICAL_HOLD", reasons=["PASS_VALID", "FEVER"], pass_id="a" * 24
    )
    other = device.record(decided_at=seen.isoformat(), pass_id="b" * 24)
    assert device.upload(held, other).json()["accepted"] == 2
    west = make_checkpoint(app, "G2 苏州西卡口", "320505", **SUZHOU_WEST)
    with Session(app.state.engine) as session:
        session.get(DeviceRow, device.device_id).checkpoint_id = west
        session.commit()
    later = (seen + timedelta(minutes=10)).isoformat()
    again = device.record(decided_at=later, pass_id="a" * 24, repeat_of=held["id"])
    unlinked = device.record(decided_at=later, pass_id="b" * 24)  # the same drive without the link
    assert device.upload(again, unlinked).json()["accepted"] == 2
    (clone,) = alerts_of(app, rules.CLONED_PASS)
    assert clone.crossing_id == unlinked["id"]


def test_a_checkpoint_without_coordinates_is_left_out_and_hides_nothing(app, device, device_factory):
    unlocated = device_factory(make_checkpoint(app, "无坐标卡口", latitude=None, longitude=None))
    west = device_factory(make_checkpoint(app, "G2 苏州西卡口", "320505", **SUZHOU_WEST))
    seen = ago(minutes=30)
    first = device.record(decided_at=seen.isoformat())
    assert device.upload(first).json()["accepted"] == 1
    between = unlocated.record(decided_at=(seen + timedelta(minutes=1)).isoformat())
    assert unlocated.upload(between).json()["accepted"] == 1
    assert alerts_of(app, rules.CLONED_PASS) == []  # two checkpoints, one unlocated: nothing to judge by
    fast = west.record(decided_at=(seen + timedelta(minutes=2)).isoformat())
    assert west.upload(fast).json()["accepted"] == 1
    (clone,) = alerts_of(app, rules.CLONED_PASS)  # the step around the unlocated sighting
    assert clone.crossing_id == fast["id"] and detail(clone)["other_crossing_id"] == first["id"]


def test_a_much_copied_pass_raises_one_alert_per_impossible_step_not_per_pair(app, device, device_factory):
    west = device_factory(make_checkpoint(app, "G2 苏州西卡口", "320505", **SUZHOU_WEST))
    seen = ago(minutes=90)
    # 40 sightings, alternating between checkpoints 50 km apart, 2 minutes apart: every step is impossible.
    for k in range(40):
        client = device if k % 2 == 0 else west
        record = client.record(decided_at=(seen + timedelta(minutes=2 * k)).isoformat())
        assert client.upload(record).json()["accepted"] == 1
    clones = alerts_of(app, rules.CLONED_PASS)
    assert len(clones) == 39  # each consecutive step once; the 780 pairs are implied by them


def test_a_late_upload_is_judged_against_the_sightings_on_both_sides_of_it(app, device, device_factory):
    west = device_factory(make_checkpoint(app, "G2 苏州西卡口", "320505", **SUZHOU_WEST))
    seen = ago(hours=5)
    history = [device.record(decided_at=(seen + timedelta(minutes=m)).isoformat()) for m in (0, 100, 200)]
    assert device.upload(*history).json()["accepted"] == 3  # one checkpoint, hours apart: nothing wrong
    assert alerts_of(app, rules.CLONED_PASS) == []
    # An offline checkpoint 50 km away syncs late: its sightings fall between those already stored, 3 minutes
    # after one and 3 minutes before the next (outside the batch's own span, the sightings it must be judged by).
    late = [west.record(decided_at=(seen + timedelta(minutes=m)).isoformat()) for m in (103, 197)]
    assert west.upload(*late).json()["accepted"] == 2
    # Each alert names the later sighting of its pair.
    found = {c.crossing_id: detail(c)["other_crossing_id"] for c in alerts_of(app, rules.CLONED_PASS)}
    assert found == {late[0]["id"]: history[1]["id"], history[2]["id"]: late[1]["id"]}


def test_a_conflicting_upload_is_an_alert_once(app, device):
    original = device.record()
    assert device.upload(original).json()["accepted"] == 1
    edited = original | {"plate": "苏EB9999"}
    from passcore.chain import record_hash

    edited["hash"] = record_hash(edited)
    for _ in range(3):
        assert device.upload(edited).json()["conflict"] == 1
    (conflict,) = alerts_of(app, rules.UPLOAD_CONFLICT)
    assert conflict.crossing_id == original["id"] and detail(conflict) == {"code": "CONTENT_DIFFERS"}


def forged_alert(app, device) -> int:
    assert device.upload(device.record(**FORGED)).json()["accepted"] == 1
    return alerts_of(app, rules.PASS_FORGED)[-1].id


def test_an_auditor_acknowledges_then_closes_with_notes_kept(app, device, portal):
    alert_id = forged_alert(app, device)
    auditor = portal("auditor")
    listing = auditor.get("/audit/alerts?status=open")
    assert (
        listing.status_code == 200
        and "伪造或篡改的通行证" in listing.text
        and f"/audit/alerts/{alert_id}" in listing.text
    )
    page = auditor.get(f"/audit/alerts/{alert_id}")
    assert page.status_code == 200 and "通行证签名无效" in page.text and 'value="acknowledge"' in page.text
    auditor.csrf = auditor.page_csrf(f"/audit/alerts/{alert_id}")
    done = auditor.form(
        f"/audit/alerts/{alert_id}",
        {"action": "acknowledge", "note": "已联系卡口核实"},
        follow_redirects=False,
    )
    assert (
        done.status_code == 303 and done.headers["location"] == f"/audit/alerts/{alert_id}?done=acknowledge"
    )
    shown = auditor.get(done.headers["location"]).text
    assert "已确认此告警" in shown and "已联系卡口核实" in shown
    # Closing needs a note; a hostile one is kept as text.
    refused = auditor.form(f"/audit/alerts/{alert_id}", {"action": "close", "note": "  "})
    assert refused.status_code == 422 and "关闭告警时请写明结论" in refused.text
    closed = auditor.form(
        f"/audit/alerts/{alert_id}", {"action": "close", "note": HOSTILE}, follow_redirects=False
    )
    assert closed.status_code == 303
    text = auditor.get(f"/audit/alerts/{alert_id}").text
    assert (
        "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text and 'value="close"' not in text
    )
    again = auditor.form(f"/audit/alerts/{alert_id}", {"action": "close", "note": "再关一次"})
    assert again.status_code == 409
    (alert,) = [a for a in alerts_of(app) if a.id == alert_id]
    assert alert.status == "closed" and alert.note == HOSTILE.strip() and alert.acted_by is not None
    with Session(app.state.engine) as session:
        query = select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
        events = session.exec(query).all()
    assert [(e.action, e.note) for e in events] == [
        ("acknowledged", "已联系卡口核实"),
        ("closed", HOSTILE.strip()),
    ]
    assert "已关闭" in auditor.get("/audit/alerts?status=closed").text


@pytest.mark.parametrize(
    ("action", "note", "status", "code"),
    [
        ("close", "", 422, "ALERT_NOTE_REQUIRED"),
        ("close", "x" * 501, 422, "ALERT_NOTE_INVALID"),
        ("close", "bad\u0000note", 422, "ALERT_NOTE_INVALID"),
        ("delete", "why", 422, None),
    ],
)
def test_bad_actions_change_nothing(app, device, api, action, note, status, code):
    alert_id = forged_alert(app, device)
    response = api("auditor").post(f"/api/v1/audit/alerts/{alert_id}/{action}", json={"note": note})
    assert response.status_code == status
    if code:
        assert response.json()["code"] == code
    assert next(a for a in alerts_of(app) if a.id == alert_id).status == "open"


def test_the_api_lists_pages_filters_and_acts(app, device, api):
    for _ in range(3):
        forged_alert(app, device)
    client = api("admin")
    first = client.get("/api/v1/audit/alerts", params={"kind": "pass_forged", "limit": 2}).json()
    assert len(first["alerts"]) == 2 and first["next_before"] == first["alerts"][-1]["id"]
    rest = client.get(
        "/api/v1/audit/alerts", params={"kind": "pass_forged", "before": first["next_before"]}
    ).json()
    assert len(rest["alerts"]) == 1 and rest["next_before"] is None
    newest = first["alerts"][0]["id"]
    acted = client.post(f"/api/v1/audit/alerts/{newest}/acknowledge", json={"note": "checking"}).json()
    assert acted["status"] == "acknowledged" and acted["acted_by"] == "admin" and acted["note"] == "checking"
    listing = client.get("/api/v1/audit/alerts", params={"status": "acknowledged"}).json()
    assert [a["id"] for a in listing["alerts"]] == [newest] and listing["counts"]["acknowledged"] == 1
    assert client.post(f"/api/v1/audit/alerts/{newest}/acknowledge", json={}).status_code == 409
    assert client.get("/api/v1/audit/alerts/99999999").status_code == 404
    assert client.get("/api/v1/audit/alerts", params={"status": "<b>", "kind": "张"}).status_code == 200


def test_logs_carry_no_names_or_id_numbers(app, device, caplog):
    caplog.set_level(logging.DEBUG)
    device.upload(device.escort_record(decided_at=ago(hours=3).isoformat()), device.record(**FORGED))
    sweep(app, datetime.now(UTC) + timedelta(hours=1))
    from server.retention import schedule

    schedule.tick(app.state.engine, app.state.settings, datetime.now(UTC))
    text = caplog.text
    assert "张伟" not in text and "李娜" not in text and "320583198503121234" not in text
