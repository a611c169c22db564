"""Escort requests: the enterprise answers on the portal, the checkpoint fetches the answer and hands over."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from server.checkpoints.models import Device as DeviceRow
from server.crossings import api as crossings_api
from server.crossings.models import EscortRequest
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import HOSTILE, Device, make_checkpoint

device_factory = checkpoint_devices.device_factory  # the fixture, for this module

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_input(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def answer(**changes) -> dict[str, str]:
    return {
        "staff_name": "周敏",
        "staff_phone": "138 1234 5678",
        "eta": local_input(datetime.now(UTC) + timedelta(minutes=40)),
    } | changes


def escort_of(app, crossing_id: str) -> EscortRequest:
    with Session(app.state.engine) as session:
        return session.exec(select(EscortRequest).where(EscortRequest.crossing_id == crossing_id)).one()


@pytest.fixture
def device(app, device_factory) -> Device:
    return device_factory(make_checkpoint(app))


@pytest.fixture
def escort(app, device) -> EscortRequest:
    record = device.escort_record()
    assert device.upload(record).json()["accepted"] == 1
    return escort_of(app, record["id"])


def test_the_enterprise_sees_its_request_and_the_rival_does_not(portal, escort):
    clerk = portal("clerk")
    page = clerk.get("/enterprise/escorts")
    assert page.status_code == 200 and "鄂A·12345" in page.text and "G312 昆山东卡口" in page.text
    assert f"/enterprise/escorts/{escort.id}" in page.text
    detail = clerk.get(f"/enterprise/escorts/{escort.id}")
    assert detail.status_code == 200 and "张伟" in detail.text and 'type="datetime-local"' in detail.text
    rival = portal("rival")
    assert "鄂A·12345" not in rival.get("/enterprise/escorts").text
    assert rival.get(f"/enterprise/escorts/{escort.id}").status_code == 404
    rival.csrf = rival.page_csrf("/enterprise/escorts")
    assert rival.form(f"/enterprise/escorts/{escort.id}", answer()).status_code == 404


def test_answer_through_the_portal_reaches_the_device_and_the_hand_over_closes_it(
    portal, app, device, escort
):
    clerk = portal("clerk")
    clerk.csrf = clerk.page_csrf(f"/enterprise/escorts/{escort.id}")
    arrival = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    response = clerk.form(
        f"/enterprise/escorts/{escort.id}", answer(eta=local_input(arrival)), follow_redirects=False
    )
    assert response.status_code == 303
    assert "答复已提交" in clerk.get(response.headers["location"]).text
    stored = escort_of(app, escort.crossing_id)
    assert (stored.status, stored.staff_name, stored.staff_phone) == ("answered", "周敏", "138 1234 5678")
    assert stored.eta == arrival  # typed as Beijing time, stored in UTC
    assert stored.answered_at is not None and stored.answered_by is not None

    fetched = device.get("/api/v1/escorts").json()
    (item,) = fetched["escorts"]
    assert (
        item["id"] == escort.id and item["crossing_id"] == escort.crossing_id and item["status"] == "answered"
    )
    assert item["staff_name"] == "周敏" and datetime.fromisoformat(item["eta"]) == arrival
    assert item["enterprise"]["uscc"] == "91320583MA1XY71231"

    handed = device.post(f"/api/v1/escorts/{escort.id}/handover", json={"at": datetime.now(UTC).isoformat()})
    assert handed.status_code == 200 and handed.json()["status"] == "handed_over"
    again = device.post(f"/api/v1/escorts/{escort.id}/handover", json={"at": datetime.now(UTC).isoformat()})
    assert again.status_code == 200 and again.json()["handed_over_at"] == handed.json()["handed_over_at"]
    assert escort_of(app, escort.crossing_id).status == "handed_over"
    assert device.get("/api/v1/escorts").json()["escorts"] == []  # nothing pending any more

    late = clerk.form(f"/enterprise/escorts/{escort.id}", answer(staff_name="别人"))
    assert late.status_code in (200, 409)
    assert escort_of(app, escort.crossing_id).staff_name == "周敏"


def test_answer_needs_the_csrf_token(portal, app, escort):
    clerk = portal("clerk")
    assert clerk.post(f"/enterprise/escorts/{escort.id}", data=answer()).status_code == 403
    assert escort_of(app, escort.crossing_id).status == "open"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"staff_name": ""}, "staff_name"),
        ({"staff_name": "x" * 51}, "staff_name"),
        ({"staff_name": "周\x00敏"}, "staff_name"),
        ({"staff_phone": "call me"}, "staff_phone"),
        ({"eta": "tomorrow"}, "eta"),
        ({"eta": local_input(datetime.now(UTC) - timedelta(hours=1))}, "eta"),
        ({"eta": local_input(datetime.now(UTC) + timedelta(days=5))}, "eta"),
    ],
)
def test_answer_errors_are_shown_next_to_the_field(portal, app, escort, changes, field):
    clerk = portal("clerk")
    clerk.csrf = clerk.page_csrf(f"/enterprise/escorts/{escort.id}")
    response = clerk.form(f"/enterprise/escorts/{escort.id}?lang=en", answer(**changes))
    assert response.status_code == 422 and f'id="e-{field}"' in response.text
    assert escort_of(app, escort.crossing_id).status == "open"


def test_hostile_staff_names_are_stored_verbatim_and_rendered_escaped(portal, app, escort):
    clerk = portal("clerk")
    clerk.csrf = clerk.page_csrf(f"/enterprise/escorts/{escort.id}")
    assert (
        clerk.form(
            f"/enterprise/escorts/{escort.id}", answer(staff_name=HOSTILE), follow_redirects=False
        ).status_code
        == 303
    )
    assert escort_of(app, escort.crossing_id).staff_name == HOSTILE
    for page in (clerk.get("/enterprise/escorts"), portal("auditor").get("/review/escorts")):
        assert (
            "<script>alert(1)</script>" not in page.text
            and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        )


def test_requests_without_a_known_enterprise_are_for_the_bureau_only(portal, app, device):
    record = device.escort_record(enterprise=None)
    device.upload(record)
    escort = escort_of(app, record["id"])
    assert escort.enterprise_uscc is None
    assert portal("clerk").get(f"/enterprise/escorts/{escort.id}").status_code == 404
    bureau = portal("reviewer").get("/review/escorts")
    assert bureau.status_code == 200 and "无已登记的接收企业" in bureau.text
    assert "鄂A·12345" in portal("admin").get("/review/escorts?status=open").text
    assert "鄂A·12345" not in portal("admin").get("/review/escorts?status=handed_over").text


def test_device_fetches_changes_since_its_last_fetch(portal, app, device):
    first = device.get("/api/v1/escorts").json()
    assert first["escorts"] == []
    record = device.escort_record()
    device.upload(record)
    changed = device.get("/api/v1/escorts", params={"since": first["server_time"]}).json()
    assert [e["crossing_id"] for e in changed["escorts"]] == [record["id"]]
    quiet = device.get("/api/v1/escorts", params={"since": changed["server_time"]}).json()
    assert quiet["escorts"] == []
    escort = escort_of(app, record["id"])
    clerk = portal("clerk")
    clerk.csrf = clerk.page_csrf(f"/enterprise/escorts/{escort.id}")
    clerk.form(f"/enterprise/escorts/{escort.id}", answer())
    answered = device.get("/api/v1/escorts", params={"since": quiet["server_time"]}).json()
    assert [e["status"] for e in answered["escorts"]] == ["answered"]
    assert device.get("/api/v1/escorts", params={"since": "2026-02-10T08:00:00"}).status_code == 422


def test_a_device_pages_through_more_requests_than_one_answer_holds(app, device, monkeypatch):
    monkeypatch.setattr(crossings_api, "ESCORT_PAGE", 2)
    records = [device.escort_record() for _ in range(5)]
    assert device.upload(*records).json()["accepted"] == 5
    pages, after = [], 0
    while True:
        page = device.get("/api/v1/escorts", params={"after": after}).json()
        pages.append([e["crossing_id"] for e in page["escorts"]])
        if not page["more"]:
            break
        after = page["escorts"][-1]["id"]
    assert pages == [[r["id"] for r in records[i : i + 2]] for i in (0, 2, 4)]
    for bad in (-1, "x", 2**63):
        assert device.get("/api/v1/escorts", params={"after": bad}).status_code == 422, bad


def test_handover_time_is_checked(device, escort):
    path = f"/api/v1/escorts/{escort.id}/handover"
    before = (escort.requested_at - timedelta(hours=1)).isoformat()
    assert device.post(path, json={"at": before}).json()["code"] == "HANDOVER_BEFORE_REQUEST"
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    assert device.post(path, json={"at": future}).json()["code"] == "HANDOVER_IN_FUTURE"
    assert device.post(path, json={"at": "2026-02-10T08:00:00"}).status_code == 422
    assert device.post(path, json={"at": datetime.now(UTC).isoformat(), "by": "x"}).status_code == 422


def test_escorts_of_another_checkpoint_are_not_visible_to_a_device(app, device_factory, escort):
    other = device_factory(make_checkpoint(app, "卡口 B", region="420100"))
    assert other.get("/api/v1/escorts").json()["escorts"] == []
    response = other.post(f"/api/v1/escorts/{escort.id}/handover", json={"at": datetime.now(UTC).isoformat()})
    assert response.status_code == 404
    same_checkpoint = device_factory(escort.checkpoint_id, name="laptop 2")
    assert [e["id"] for e in same_checkpoint.get("/api/v1/escorts").json()["escorts"]] == [escort.id]


def test_pages_have_every_word_in_both_languages(portal, app, device, escort):
    raw_key = re.compile(r"\b(?:escorts|checkpoints|invalid|nav)\.[a-z_.]+\b")
    pages = {
        "clerk": ["/enterprise/escorts", f"/enterprise/escorts/{escort.id}"],
        "admin": ["/review/escorts", "/admin/checkpoints", f"/admin/checkpoints/{device.checkpoint_id}"],
    }
    for username, paths in pages.items():
        client = portal(username)
        for lang in ("zh", "en"):
            for path in paths:
                text = client.get(f"{path}?lang={lang}").text
                assert raw_key.findall(text) == [], (path, lang)
    clerk = portal("clerk")
    clerk.csrf = clerk.page_csrf(f"/enterprise/escorts/{escort.id}")
    for lang in ("zh", "en"):
        errors = clerk.form(
            f"/enterprise/escorts/{escort.id}?lang={lang}", answer(staff_name="", staff_phone="x", eta="y")
        )
        assert errors.status_code == 422 and raw_key.findall(errors.text) == []
    assert "Send staff" in clerk.get(f"/enterprise/escorts/{escort.id}?lang=en").text


def test_fetching_escorts_counts_as_contact(app, device):
    with Session(app.state.engine) as session:
        assert session.get(DeviceRow, device.device_id).last_seen_at is None
    assert device.get("/api/v1/escorts").status_code == 200
    with Session(app.state.engine) as session:
        assert session.get(DeviceRow, device.device_id).last_seen_at is not None


def test_hostile_occupant_names_are_rendered_escaped(portal, app, device):
    occupant = {
        "role": "driver",
        "name": HOSTILE,
        "temperature_c": 36.5,
        "origin": "420100",
        "travel_history": [],
    }
    record = device.escort_record(occupants=[occupant])
    assert device.upload(record).json()["accepted"] == 1
    page = portal("clerk").get(f"/enterprise/escorts/{escort_of(app, record['id']).id}")
    assert page.status_code == 200
    assert (
        "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    )
    assert "\u200fabc\u200b" in page.text  # kept verbatim, only HTML-escaped
