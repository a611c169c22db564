"""Only bureau staff see alerts; only auditors and administrators act on them; devices and enterprises never."""

from __future__ import annotations

import pytest

from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import alerts_of
from tests.integration.checkpoint_devices import make_checkpoint

device_factory = checkpoint_devices.device_factory

FORGED = {
    "outcome": "REFUSE",
    "reasons": ["PASS_MALFORMED"],
    "verification": "PASS_MALFORMED",
    "pass_id": None,
}
READ_PATHS = ("/audit/alerts", "/audit/alerts/{id}")
API_READ = ("/api/v1/audit/alerts", "/api/v1/audit/alerts/{id}", "/api/v1/audit/devices/{device}/chain")


@pytest.fixture
def alert(app, device_factory):
    device = device_factory(make_checkpoint(app))
    assert device.upload(device.record(**FORGED)).json()["accepted"] == 1
    return {"id": alerts_of(app, "pass_forged")[0].id, "device": device.device_id, "client": device}


@pytest.mark.parametrize("username", ["reviewer", "auditor", "admin"])
def test_bureau_staff_read_alerts(portal, api, alert, username):
    page = portal(username)
    for path in READ_PATHS:
        assert page.get(path.format(**alert)).status_code == 200
    client = api(username)
    for path in API_READ:
        assert client.get(path.format(**alert)).status_code == 200
    assert "/audit/alerts" in page.get("/audit/alerts").text  # the nav entry


@pytest.mark.parametrize("username", ["clerk", "rival"])
def test_enterprises_are_refused(portal, api, alert, username):
    page = portal(username)
    for path in READ_PATHS:
        assert page.get(path.format(**alert)).status_code == 403
    assert 'href="/audit/alerts"' not in page.get("/enterprise/applications").text
    client = api(username)
    for path in API_READ:
        assert client.get(path.format(**alert)).json()["code"] == "ROLE_FORBIDDEN"
    assert client.post(f"/api/v1/audit/alerts/{alert['id']}/close", json={"note": "x"}).status_code == 403


def test_anonymous_visitors_sign_in_first(portal, api, alert):
    page = portal().get("/audit/alerts", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    for path in API_READ:
        assert api().get(path.format(**alert)).status_code == 401


def test_a_device_token_opens_no_alert(app, alert):
    device = alert["client"]  # a device is no person: like every person-only route, 401
    assert device.get("/api/v1/audit/alerts").status_code == 401
    assert device.post(f"/api/v1/audit/alerts/{alert['id']}/acknowledge", json={}).status_code == 401
    assert alerts_of(app, "pass_forged")[0].status == "open"


def test_reviewers_read_but_do_not_act(app, portal, api, alert):
    reviewer = portal("reviewer")
    page = reviewer.get(f"/audit/alerts/{alert['id']}")
    assert 'value="acknowledge"' not in page.text and "确认和关闭由审计员或管理员操作" in page.text
    reviewer.csrf = reviewer.page_csrf(f"/audit/alerts/{alert['id']}")
    refused = reviewer.form(f"/audit/alerts/{alert['id']}", {"action": "acknowledge", "note": ""})
    assert refused.status_code == 403
    assert api("reviewer").post(f"/api/v1/audit/alerts/{alert['id']}/acknowledge", json={}).status_code == 403
    assert alerts_of(app, "pass_forged")[0].status == "open"


def test_a_form_without_the_csrf_token_is_refused(app, portal, alert):
    auditor = portal("auditor")
    response = auditor.post(f"/audit/alerts/{alert['id']}", data={"action": "acknowledge"})
    assert response.status_code == 403
    assert alerts_of(app, "pass_forged")[0].status == "open"


@pytest.mark.parametrize("username", ["auditor", "admin"])
def test_auditors_and_administrators_act(app, api, alert, username):
    answer = api(username).post(f"/api/v1/audit/alerts/{alert['id']}/acknowledge", json={"note": "查看中"})
    assert answer.status_code == 200 and answer.json()["acted_by"] == username
