"""Access matrix of every checkpoint, device and escort route with an id: each role, another enterprise,
anonymous, and devices of this and of another checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.crossings.models import EscortRequest
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import make_checkpoint

device_factory = checkpoint_devices.device_factory  # the fixture, for this module

USERS = ("clerk", "rival", "reviewer", "auditor", "admin")


@pytest.fixture
def world(app, device_factory):
    """Two checkpoints with a device each, and one escort request for the clerk's enterprise at the first."""
    here, there = make_checkpoint(app, "卡口 A"), make_checkpoint(app, "卡口 B", region="420100")
    ours, theirs = device_factory(here, "ours"), device_factory(there, "theirs")
    record = ours.escort_record()
    assert ours.upload(record).json()["accepted"] == 1
    with Session(app.state.engine) as session:
        escort = session.exec(select(EscortRequest)).one()
    return {"here": here, "there": there, "ours": ours, "theirs": theirs, "escort": escort.id}


def web_client(portal, username):
    """A portal client (signed in, or anonymous with the pre-login CSRF cookie) whose forms carry the token."""
    if username is None:
        client = portal()
        client.get("/login")
        client.csrf = client.cookies.get("cp_csrf")
        return client
    return portal(username)


def check(results: dict, expected: dict) -> None:
    assert results == expected, {k: (results[k], expected[k]) for k in expected if results[k] != expected[k]}


def test_checkpoint_page(portal, world):
    path = f"/admin/checkpoints/{world['here']}"
    results = {u: web_client(portal, u).get(path, follow_redirects=False).status_code for u in (*USERS, None)}
    results["device"] = world["ours"].get(path).status_code
    results["missing"] = portal("admin").get("/admin/checkpoints/999999").status_code
    check(
        results,
        {
            "clerk": 403,
            "rival": 403,
            "reviewer": 200,
            "auditor": 200,
            "admin": 200,
            None: 303,
            "device": 401,
            "missing": 404,
        },
    )


def test_create_enrolment_code_page(portal, world):
    path = f"/admin/checkpoints/{world['here']}/codes"
    results = {u: web_client(portal, u).form(path, {}).status_code for u in (*USERS, None)}
    results["missing"] = portal("admin").form("/admin/checkpoints/999999/codes", {}).status_code
    check(
        results,
        {
            "clerk": 403,
            "rival": 403,
            "reviewer": 403,
            "auditor": 403,
            "admin": 200,
            None: 401,
            "missing": 404,
        },
    )


def test_revoke_device_page(portal, world):
    ours = world["ours"]
    path = f"/admin/checkpoints/{world['here']}/devices/{ours.device_id}/revoke"
    results = {
        u: web_client(portal, u).form(path, {}, follow_redirects=False).status_code
        for u in (*USERS[:4], None)
    }
    # The other checkpoint's device is not found under this checkpoint.
    results["other"] = (
        portal("admin")
        .form(f"/admin/checkpoints/{world['here']}/devices/{world['theirs'].device_id}/revoke", {})
        .status_code
    )
    assert world["theirs"].get("/api/v1/escorts").status_code == 200
    assert ours.get("/api/v1/escorts").status_code == 200  # nobody above could revoke it
    results["admin"] = portal("admin").form(path, {}, follow_redirects=False).status_code
    check(
        results,
        {"clerk": 403, "rival": 403, "reviewer": 403, "auditor": 403, None: 401, "other": 404, "admin": 303},
    )
    assert ours.get("/api/v1/escorts").status_code == 403


def test_api_enrolment_codes(api, world):
    path = f"/api/v1/checkpoints/{world['here']}/enrolment-codes"
    results = {u: api(u).post(path, json={}).status_code for u in (*USERS, None)}
    results["device"] = world["ours"].post(path, json={}).status_code
    results["missing"] = api("admin").post("/api/v1/checkpoints/999999/enrolment-codes").status_code
    check(
        results,
        {
            "clerk": 403,
            "rival": 403,
            "reviewer": 403,
            "auditor": 403,
            "admin": 201,
            None: 401,
            "device": 401,
            "missing": 404,
        },
    )


def test_api_devices_and_revocation(api, world):
    listing = f"/api/v1/checkpoints/{world['here']}/devices"
    results = {u: api(u).get(listing).status_code for u in (*USERS, None)}
    check(results, {"clerk": 403, "rival": 403, "reviewer": 200, "auditor": 200, "admin": 200, None: 401})
    ours, theirs = world["ours"], world["theirs"]
    path = f"/api/v1/checkpoints/{world['here']}/devices/{ours.device_id}/revoke"
    results = {u: api(u).post(path, json={}).status_code for u in (*USERS[:4], None)}
    results["device"] = ours.post(path, json={}).status_code
    results["other"] = (
        api("admin")
        .post(f"/api/v1/checkpoints/{world['here']}/devices/{theirs.device_id}/revoke")
        .status_code
    )
    results["admin"] = api("admin").post(path).status_code
    check(
        results,
        {
            "clerk": 403,
            "rival": 403,
            "reviewer": 403,
            "auditor": 403,
            None: 401,
            "device": 401,
            "other": 404,
            "admin": 200,
        },
    )
    assert ours.get("/api/v1/escorts").json()["code"] == "DEVICE_REVOKED"
    assert theirs.get("/api/v1/escorts").status_code == 200


def test_enterprise_escort_page_and_answer(portal, world):
    path = f"/enterprise/escorts/{world['escort']}"
    results = {u: web_client(portal, u).get(path, follow_redirects=False).status_code for u in (*USERS, None)}
    results["device"] = world["ours"].get(path).status_code
    check(
        results,
        {"clerk": 200, "rival": 404, "reviewer": 403, "auditor": 403, "admin": 403, None: 303, "device": 401},
    )
    eta = (
        (datetime.now(UTC) + timedelta(hours=1))
        .astimezone(ZoneInfo("Asia/Shanghai"))
        .strftime("%Y-%m-%dT%H:%M")
    )
    data = {"staff_name": "周敏", "staff_phone": "13812345678", "eta": eta}
    results = {
        u: web_client(portal, u).form(path, data, follow_redirects=False).status_code for u in (*USERS, None)
    }
    check(results, {"clerk": 303, "rival": 404, "reviewer": 403, "auditor": 403, "admin": 403, None: 401})
    assert portal("clerk").get("/enterprise/escorts/999999").status_code == 404


def test_device_handover(api, world, app, device_factory):
    path = f"/api/v1/escorts/{world['escort']}/handover"
    body = {"at": datetime.now(UTC).isoformat()}
    results = {u: api(u).post(path, json=body).status_code for u in (*USERS, None)}
    results["other checkpoint"] = world["theirs"].post(path, json=body).status_code
    revoked = device_factory(world["here"], "revoked")
    api("admin").post(f"/api/v1/checkpoints/{world['here']}/devices/{revoked.device_id}/revoke")
    results["revoked"] = revoked.post(path, json=body).status_code
    results["missing"] = world["ours"].post("/api/v1/escorts/999999/handover", json=body).status_code
    results["own device"] = world["ours"].post(path, json=body).status_code
    check(
        results,
        {
            "clerk": 403,
            "rival": 403,
            "reviewer": 403,
            "auditor": 403,
            "admin": 403,
            None: 401,
            "other checkpoint": 404,
            "revoked": 403,
            "missing": 404,
            "own device": 200,
        },
    )


def test_lists_without_ids(portal, api, world):
    pages = {
        "/admin/checkpoints": ("reviewer", "auditor", "admin"),
        "/review/escorts": ("reviewer", "auditor", "admin"),
        "/enterprise/escorts": ("clerk", "rival"),
    }
    for path, allowed in pages.items():
        for username in USERS:
            expected = 200 if username in allowed else 403
            assert portal(username).get(path).status_code == expected, (path, username)
        assert portal().get(path, follow_redirects=False).status_code == 303
    for username in USERS:
        assert api(username).get("/api/v1/escorts").status_code == 403
    assert api().get("/api/v1/escorts").status_code == 401
    assert api("clerk").get("/api/v1/checkpoints").status_code == 403
    assert api("auditor").get("/api/v1/checkpoints").status_code == 200
    assert TestClient(api().app).get("/api/v1/checkpoints").status_code == 401
