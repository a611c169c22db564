"""Bus crossings on the server (issue 14): ingest stores the bus's kind, wait and counts; the replay re-decides it
with the bus rules; each passenger released into the enterprise's quarantine becomes a task the enterprise
confirms (place, time) and the sweep raises once when it is late. Real bus passes and pages, both databases."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from server.alerts import service as alerts
from server.alerts.replay import replay_crossing
from server.alerts.rules import DECISION_DIFFERS, MANIFEST_MISMATCH, QUARANTINE_OVERDUE
from server.crossings.models import Crossing
from server.notices.models import Notice
from server.quarantine.models import QuarantineTask
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import alerts_of, change_policy, detail
from tests.integration.bus_helpers import FROM_WUHAN, PASSENGERS, bus_record, issue_bus, roll
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.conftest import DEMO_USCC

device_factory = checkpoint_devices.device_factory


@pytest.fixture
def bus(app, device_factory):
    """A checkpoint's device, the demo bus's pass and pages, and the bundle (Hubei hard-hit) the device holds."""
    pass_id, qr, pages = issue_bus(app)
    bundle = change_policy(app, hard_hit="420000")
    return {
        "device": device_factory(make_checkpoint(app)),
        "pass_id": pass_id,
        "qr": qr,
        "pages": pages,
        "bundle": bundle,
    }


def upload(device, contents, **changes):
    record = device.record(**(contents | changes))
    response = device.upload(record)
    assert response.json()["accepted"] == 1, response.text
    return record


def tasks(app) -> list[QuarantineTask]:
    with Session(app.state.engine) as session:
        return list(session.exec(select(QuarantineTask).order_by(QuarantineTask.passenger)))


def test_a_bus_record_is_stored_with_its_wait_and_counts_and_replays_to_the_same_decision(app, bus):
    at = datetime.now(UTC) - timedelta(minutes=30)
    contents = bus_record(bus["qr"], bus["pages"], bus["bundle"], at, entries=roll(fever={7: "38.2"}))
    assert contents["outcome"] == "MEDICAL_HOLD"  # the default policy holds the whole bus for a fever
    record = upload(bus["device"], contents)
    with Session(app.state.engine) as session:
        row = session.get(Crossing, record["id"])
        assert (row.kind, row.bus_wait_seconds) == ("personnel", 7 * 60)
        assert (row.passengers_aboard, row.passengers_absent) == (PASSENGERS - 1, 1)
        assert (row.passengers_quarantined, row.passengers_held) == (0, PASSENGERS - 1)
        result = replay_crossing(session, row)
    assert result.matches, result
    assert result.passengers == tuple(p["disposition"] for p in record["bus"]["passengers"])
    assert tasks(app) == []  # held, not released into quarantine
    assert alerts_of(app, DECISION_DIFFERS) == [] and alerts_of(app, MANIFEST_MISMATCH) == []


def test_a_freight_record_stays_freight(app, bus):
    record = bus["device"].record()
    assert bus["device"].upload(record).json()["accepted"] == 1
    with Session(app.state.engine) as session:
        row = session.get(Crossing, record["id"])
    assert (row.kind, row.bus_wait_seconds, row.passengers_aboard) == ("freight", None, 0)


def test_the_hard_hit_passenger_becomes_one_quarantine_task_of_the_passs_enterprise(app, bus):
    at = datetime.now(UTC) - timedelta(minutes=30)
    contents = bus_record(bus["qr"], bus["pages"], bus["bundle"], at)
    assert contents["outcome"] == "RELEASE" and "QUARANTINE_BY_ENTERPRISE" in contents["reasons"]
    record = upload(bus["device"], contents)
    assert bus["device"].upload(record).json()["duplicate"] == 1  # a retried upload makes no second task
    (task,) = tasks(app)
    assert (task.passenger, task.name, task.enterprise_uscc, task.pass_id) == (
        FROM_WUHAN,
        "刘丽娟",
        DEMO_USCC,
        bus["pass_id"],
    )
    assert (task.status, task.crossing_id, task.checkpoint_id) == (
        "open",
        record["id"],
        bus["device"].checkpoint_id,
    )
    assert task.due_at == task.decided_at + timedelta(
        hours=24
    )  # the policy's default quarantine_confirm_hours
    with Session(app.state.engine) as session:
        row = session.get(Crossing, record["id"])
        assert (row.passengers_quarantined, row.passengers_absent) == (1, 1)
        notices = list(session.exec(select(Notice).where(Notice.kind == "quarantine.assigned")))
    assert notices and all(n.link == "/enterprise/quarantine" for n in notices)
    assert json.loads(notices[0].params)["n"] == "1"
    assert replay_crossing_matches(app, record["id"])


def replay_crossing_matches(app, crossing_id: str) -> bool:
    with Session(app.state.engine) as session:
        return replay_crossing(session, session.get(Crossing, crossing_id)).matches


def test_a_bus_whose_hard_hit_passenger_was_let_go_without_quarantine_raises_decision_differs(app, bus):
    at = datetime.now(UTC) - timedelta(minutes=30)
    contents = bus_record(bus["qr"], bus["pages"], bus["bundle"], at)
    # A tampered laptop: same outcome and reasons, but passenger 4 released instead of quarantined.
    contents["bus"]["passengers"][FROM_WUHAN - 1]["disposition"] = "RELEASE"
    record = upload(bus["device"], contents)
    assert tasks(app) == []
    (alert,) = alerts_of(app, DECISION_DIFFERS)
    assert alert.crossing_id == record["id"] and detail(alert)["problem"] == "PASSENGERS_DIFFER"


def test_a_record_with_another_manifest_digest_raises_manifest_mismatch(app, bus):
    at = datetime.now(UTC) - timedelta(minutes=30)
    contents = bus_record(bus["qr"], bus["pages"], bus["bundle"], at)
    contents["bus"]["manifest"] = "0" * 32
    record = upload(bus["device"], contents)
    (alert,) = alerts_of(app, MANIFEST_MISMATCH)
    assert alert.crossing_id == record["id"] and alert.pass_id == bus["pass_id"]
    assert detail(alert)["recorded"] == "0" * 32 and detail(alert)["issued"] != "0" * 32
    # The replay no longer counts the manifest as the pass's: the record's MANIFEST_VALID release differs too.
    assert alerts_of(app, DECISION_DIFFERS)


def test_a_bus_with_an_unread_manifest_is_refused_and_stored_without_passengers(app, bus):
    at = datetime.now(UTC) - timedelta(minutes=30)
    contents = bus_record(bus["qr"], bus["pages"][:-1], bus["bundle"], at)
    assert contents["outcome"] == "REFUSE" and "MANIFEST_INCOMPLETE" in contents["reasons"]
    record = upload(bus["device"], contents)
    with Session(app.state.engine) as session:
        row = session.get(Crossing, record["id"])
        assert (row.kind, row.passengers_aboard, row.passengers_quarantined) == ("personnel", 0, 0)
        assert replay_crossing(session, row).matches
    assert tasks(app) == []


def confirm(client, task_id: int, place: str, arrived_at: str):
    return client.post(
        f"/api/v1/quarantine/tasks/{task_id}/confirm", json={"place": place, "arrived_at": arrived_at}
    )


def test_the_enterprise_confirms_an_arrival_and_bad_input_changes_nothing(app, bus, api):
    at = datetime.now(UTC) - timedelta(hours=2)
    upload(bus["device"], bus_record(bus["qr"], bus["pages"], bus["bundle"], at))
    (task,) = tasks(app)
    clerk = api("clerk")
    before = (at - timedelta(minutes=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    answers = {
        "short place": confirm(clerk, task.id, "宿", (at + timedelta(hours=1)).isoformat()),
        "before the crossing": confirm(clerk, task.id, "公司宿舍3号楼201", before),
        "in the future": confirm(clerk, task.id, "公司宿舍3号楼201", future),
        "control characters": confirm(clerk, task.id, "宿舍\u0007201", (at + timedelta(hours=1)).isoformat()),
    }
    fields = {what: (r.status_code, r.json().get("errors")) for what, r in answers.items()}
    assert fields == {
        "short place": (422, {"place": "quarantine_place"}),
        "before the crossing": (422, {"arrived_at": "quarantine_time_before"}),
        "in the future": (422, {"arrived_at": "quarantine_time_future"}),
        "control characters": (422, {"place": "quarantine_place"}),
    }
    assert confirm(clerk, task.id, "宿舍", "yesterday").status_code == 422  # not a time at all (schema)
    assert confirm(clerk, task.id, "宿舍", "2026-03-01T10:00:00").status_code == 422  # no zone
    assert tasks(app)[0].status == "open" and tasks(app)[0].place == ""
    # Another enterprise does not see it; the bureau sees it but does not confirm it.
    assert confirm(api("rival"), task.id, "别处", (at + timedelta(hours=1)).isoformat()).status_code == 404
    assert confirm(api("reviewer"), task.id, "别处", (at + timedelta(hours=1)).isoformat()).status_code == 403

    arrived = at + timedelta(hours=1, minutes=10)
    done = confirm(clerk, task.id, "  昆山市 公司宿舍 3号楼201  ", arrived.isoformat())
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["place"], body["late"], body["overdue"]) == (
        "confirmed",
        "昆山市 公司宿舍 3号楼201",
        False,
        False,
    )
    assert datetime.fromisoformat(body["arrived_at"]) == arrived
    again = confirm(clerk, task.id, "另一处宿舍", arrived.isoformat())
    assert again.status_code == 409 and again.json()["code"] == "QUARANTINE_CONFIRMED"
    assert tasks(app)[0].place == "昆山市 公司宿舍 3号楼201"
    listed = api("auditor").get("/api/v1/quarantine/tasks?status=confirmed").json()
    assert [t["id"] for t in listed["tasks"]] == [task.id] and listed["counts"]["confirmed"] == 1
    assert api("rival").get("/api/v1/quarantine/tasks").json()["tasks"] == []


def released_at_second_40(app, bus) -> tuple[QuarantineTask, datetime]:
    """A task whose bus was released 40 s into a minute, two hours ago: the page shows that minute, not the 40 s."""
    at = (datetime.now(UTC) - timedelta(hours=2)).replace(second=40, microsecond=0)
    upload(bus["device"], bus_record(bus["qr"], bus["pages"], bus["bundle"], at))
    (task,) = tasks(app)
    assert task.decided_at == at
    return task, at


def test_an_arrival_in_the_minute_of_the_release_is_accepted_through_the_api(app, bus, api):
    task, at = released_at_second_40(app, bus)
    clerk = api("clerk")
    minute = at.replace(second=0)
    # The minute before the release's is before it; the release's own minute, even its 0th second, is not.
    early = confirm(clerk, task.id, "公司宿舍3号楼201", (minute - timedelta(seconds=1)).isoformat())
    assert (early.status_code, early.json()["errors"]) == (422, {"arrived_at": "quarantine_time_before"})
    assert tasks(app)[0].status == "open"
    done = confirm(clerk, task.id, "公司宿舍3号楼201", minute.isoformat())
    assert done.status_code == 200, done.text
    assert datetime.fromisoformat(done.json()["arrived_at"]) == minute
    assert tasks(app)[0].status == "confirmed"


def test_an_arrival_typed_as_the_release_minute_shown_is_accepted_on_the_page(app, bus, portal):
    task, at = released_at_second_40(app, bus)
    clerk = portal("clerk")
    path = f"/enterprise/quarantine/{task.id}"
    shown = re.search(r'id="quarantine-decided">([^<]+)<', clerk.get(path).text)
    local = at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert shown and shown.group(1) == local.strftime("%Y-%m-%d %H:%M")  # the release, to the minute
    typed = shown.group(1).replace(" ", "T")  # what the datetime-local field sends, no seconds
    earlier = (local - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    refused = clerk.form(path, {"place": "公司宿舍3号楼201", "arrived_at": earlier}, follow_redirects=False)
    assert refused.status_code == 422 and "到达时间不能早于在卡口放行的时间" in refused.text
    assert tasks(app)[0].status == "open"
    done = clerk.form(path, {"place": "公司宿舍3号楼201", "arrived_at": typed}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/enterprise/quarantine?confirmed={task.id}"
    (confirmed,) = tasks(app)
    assert (confirmed.status, confirmed.arrived_at) == ("confirmed", at.replace(second=0))


def test_an_arrival_in_the_future_is_still_refused_on_the_page(app, bus, portal):
    task, _ = released_at_second_40(app, bus)
    clerk = portal("clerk")
    path = f"/enterprise/quarantine/{task.id}"
    ahead = (datetime.now(UTC) + timedelta(minutes=2)).astimezone(ZoneInfo("Asia/Shanghai"))
    refused = clerk.form(
        path,
        {"place": "公司宿舍3号楼201", "arrived_at": ahead.strftime("%Y-%m-%dT%H:%M")},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "到达时间不能晚于现在" in refused.text
    assert tasks(app)[0].status == "open"


def test_a_task_not_confirmed_by_its_due_time_raises_one_alert_and_a_late_confirmation_keeps_it(
    app, bus, api
):
    at = datetime.now(UTC) - timedelta(hours=2)
    record = upload(bus["device"], bus_record(bus["qr"], bus["pages"], bus["bundle"], at))
    (task,) = tasks(app)
    limits = alerts.Limits.of(app.state.settings)
    with Session(app.state.engine, expire_on_commit=False) as session:
        alerts.sweep(session=session, now=task.due_at, limits=limits)  # due at that instant: not late yet
        assert alerts_of(app, QUARANTINE_OVERDUE) == []
        alerts.sweep(session=session, now=task.due_at + timedelta(minutes=1), limits=limits)
        alerts.sweep(session=session, now=task.due_at + timedelta(hours=5), limits=limits)  # once, not twice
    (alert,) = alerts_of(app, QUARANTINE_OVERDUE)
    assert (alert.crossing_id, alert.pass_id, alert.checkpoint_id) == (
        record["id"],
        bus["pass_id"],
        task.checkpoint_id,
    )
    assert detail(alert)["task"] == task.id and detail(alert)["enterprise"] == DEMO_USCC
    assert alert.occurred_at == task.due_at
    overdue = api("reviewer").get("/api/v1/quarantine/tasks?status=overdue")
    # The API's clock is the wall clock: due in ~22 hours, so not overdue through it yet.
    assert overdue.status_code == 200 and overdue.json()["tasks"] == []
    page = api("auditor").get(f"/api/v1/quarantine/tasks/{task.id}")
    assert page.status_code == 200 and page.json()["name"] == "刘丽娟"
