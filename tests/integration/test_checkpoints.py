"""Checkpoints: registration by the administrator, enrolment codes, device enrolment and revocation."""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from passcore import enrolment
from server.checkpoints.models import Checkpoint, Device, EnrolmentCode
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import HOSTILE, enrolment_code, make_checkpoint

device_factory = checkpoint_devices.device_factory  # the fixture, for this module

CODE_RE = re.compile(r'id="enrolment-code">([A-Z2-7-]+)<')


def form(**changes):
    return {
        "name": "G312 昆山东卡口",
        "region": "320583",
        "location": "G312 国道 K1520 东向",
        "latitude": "31.3856",
        "longitude": "120.9807",
    } | changes


def test_admin_registers_a_checkpoint_with_its_region_name(portal, app):
    admin = portal("admin")
    response = admin.form("/admin/checkpoints", form(), follow_redirects=False)
    assert response.status_code == 303
    detail = admin.get(response.headers["location"])
    assert detail.status_code == 200 and "江苏省 苏州市 昆山市" in detail.text
    with Session(app.state.engine) as session:
        stored = session.exec(select(Checkpoint)).one()
    assert (stored.name, stored.region, stored.latitude, stored.longitude) == (
        "G312 昆山东卡口",
        "320583",
        31.3856,
        120.9807,
    )
    assert "G312 昆山东卡口" in admin.get("/admin/checkpoints").text


def test_checkpoint_form_errors_are_shown_next_to_the_fields(portal, app):
    admin = portal("admin")
    response = admin.form(
        "/admin/checkpoints?lang=en", form(name="x", region="12", latitude="91", longitude="abc")
    )
    assert response.status_code == 422
    for name in ("name", "region", "latitude", "longitude"):
        assert f'id="e-{name}"' in response.text
    assert "Latitude must be a number from -90 to 90" in response.text
    half = admin.form("/admin/checkpoints", form(longitude=""))
    assert half.status_code == 422 and 'id="e-longitude"' in half.text
    for bad in ("nan", "inf"):
        assert admin.form("/admin/checkpoints", form(latitude=bad)).status_code == 422
    with Session(app.state.engine) as session:
        assert session.exec(select(Checkpoint)).first() is None


def test_checkpoint_without_coordinates_is_fine(portal, api):
    assert (
        portal("admin")
        .form("/admin/checkpoints", form(latitude="", longitude=""), follow_redirects=False)
        .status_code
        == 303
    )
    listed = api("auditor").get("/api/v1/checkpoints").json()
    assert listed[0]["latitude"] is None and listed[0]["region_name"] == "江苏省 苏州市 昆山市"


def test_hostile_checkpoint_and_device_names_are_stored_verbatim_and_escaped(portal, app, device_factory):
    admin = portal("admin")
    response = admin.form("/admin/checkpoints", form(name=HOSTILE, location=HOSTILE), follow_redirects=False)
    assert response.status_code == 303
    checkpoint_id = int(response.headers["location"].rsplit("/", 1)[1])
    device_factory(checkpoint_id, name=HOSTILE)
    for path in ("/admin/checkpoints", f"/admin/checkpoints/{checkpoint_id}"):
        text = admin.get(path).text
        assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    with Session(app.state.engine) as session:
        assert session.get(Checkpoint, checkpoint_id).name == HOSTILE
        assert session.exec(select(Device)).one().name == HOSTILE
    assert admin.form("/admin/checkpoints", form(name="卡口\x00")).status_code == 422


def test_registration_needs_csrf_token_and_the_admin_role(portal, app):
    admin = portal("admin")
    assert admin.post("/admin/checkpoints", data=form()).status_code == 403
    for username in ("reviewer", "auditor", "clerk"):
        assert portal(username).form("/admin/checkpoints", form()).status_code == 403
    with Session(app.state.engine) as session:
        assert session.exec(select(Checkpoint)).first() is None


def test_enrolment_code_is_shown_once_and_only_its_hash_is_kept(portal, app, api):
    checkpoint_id = make_checkpoint(app)
    admin = portal("admin")
    admin.csrf = admin.page_csrf(f"/admin/checkpoints/{checkpoint_id}")
    response = admin.form(f"/admin/checkpoints/{checkpoint_id}/codes", {})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    code = CODE_RE.search(response.text).group(1)
    secret = enrolment.parse_code(code).secret  # 80 bits in base32; the rest is the root's fingerprint
    with Session(app.state.engine) as session:
        row = session.exec(select(EnrolmentCode)).one()
    assert row.code_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.expires_at - row.created_at == timedelta(hours=app.state.settings.enrolment_code_hours)
    assert code not in admin.get(f"/admin/checkpoints/{checkpoint_id}").text

    enrolled = api().post(
        "/api/v1/devices/enroll", json={"code": code.lower().replace("-", " "), "name": "笔记本 1"}
    )
    assert enrolled.status_code == 201, enrolled.text
    body = enrolled.json()
    assert body["token"].startswith("cpt_") and len(body["device_id"]) == 32
    assert body["checkpoint"] == {
        "id": checkpoint_id,
        "name": "G312 昆山东卡口",
        "region": "320583",
        "region_name": "江苏省 苏州市 昆山市",
    }
    assert body["root_public_key"] == (app.state.settings.keys_dir / "root.pub.pem").read_text()
    assert body["bundle_url"].endswith("/api/v1/trust-bundle")
    again = api().post("/api/v1/devices/enroll", json={"code": code, "name": "笔记本 2"})
    assert again.status_code == 409 and again.json()["code"] == "CODE_USED"
    with Session(app.state.engine) as session:
        assert len(session.exec(select(Device)).all()) == 1
        assert session.exec(select(EnrolmentCode)).one().device_id == body["device_id"]


def test_unknown_expired_and_malformed_codes_are_refused(app, api):
    checkpoint_id = make_checkpoint(app)
    client = api()
    old = enrolment_code(app, checkpoint_id, now=datetime.now(UTC) - timedelta(days=2))
    never_issued = "AAAA-BBBB-CCCC-DDDD-" + old[20:]
    unknown = client.post("/api/v1/devices/enroll", json={"code": never_issued, "name": "x"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "CODE_UNKNOWN"
    malformed = client.post("/api/v1/devices/enroll", json={"code": "AAAA-BBBB", "name": "x"})
    assert malformed.status_code == 422 and malformed.json()["code"] == "CODE_MALFORMED"
    expired = client.post("/api/v1/devices/enroll", json={"code": old, "name": "x"})
    assert expired.status_code == 410 and expired.json()["code"] == "CODE_EXPIRED"
    assert expired.headers["content-type"] == "application/problem+json"
    fresh = enrolment_code(app, checkpoint_id)
    for body in (
        {"code": fresh},
        {"code": fresh, "name": ""},
        {"code": fresh, "name": "x", "extra": 1},
        {"code": fresh, "name": " \x00"},
    ):
        assert client.post("/api/v1/devices/enroll", json=body).status_code == 422
    assert client.post("/api/v1/devices/enroll", json={"code": fresh, "name": "ok"}).status_code == 201
    with Session(app.state.engine) as session:
        assert len(session.exec(select(Device)).all()) == 1


def test_two_devices_racing_with_one_code_one_wins(app):
    code = enrolment_code(app, make_checkpoint(app))

    def attempt(number: int) -> int:
        with TestClient(app) as client:
            return client.post(
                "/api/v1/devices/enroll", json={"code": code, "name": f"d{number}"}
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(attempt, range(8)))
    assert statuses == [201] + [409] * 7
    with Session(app.state.engine) as session:
        assert len(session.exec(select(Device)).all()) == 1


def test_revoked_device_is_refused_with_403(portal, app, device_factory):
    checkpoint_id = make_checkpoint(app)
    device = device_factory(checkpoint_id)
    assert device.get("/api/v1/escorts").status_code == 200
    admin = portal("admin")
    admin.csrf = admin.page_csrf(f"/admin/checkpoints/{checkpoint_id}")
    response = admin.form(
        f"/admin/checkpoints/{checkpoint_id}/devices/{device.device_id}/revoke", {}, follow_redirects=False
    )
    assert response.status_code == 303
    for answer in (device.get("/api/v1/escorts"), device.upload(device.record())):
        assert answer.status_code == 403 and answer.json()["code"] == "DEVICE_REVOKED"
    with Session(app.state.engine) as session:
        assert session.get(Device, device.device_id).revoked_at is not None
