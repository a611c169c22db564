"""The driver's link (issue 13): made and withdrawn by the pass's enterprise, opened by the driver's phone without
signing in, showing the pass's live state and never a QR for a pass that is no longer valid; SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from server.driver_links.models import DriverLink
from server.driver_links.service import hash_token
from server.passes.models import IssuedPass
from tests.integration.test_applications import application, body, submitted

QR_IMAGE = "data:image/png;base64,"


def issued_pass(api, app) -> str:
    """A pass valid now (from an hour ago)."""
    application_id = submitted(api("clerk"), body(start=datetime.now(UTC) - timedelta(hours=2)))
    assert api("reviewer").post(f"/api/v1/applications/{application_id}/approve").status_code == 200
    return application(app, application_id).pass_id


def make_link(clerk, pass_id: str) -> str:
    """The link's path (/d/<token>) as the page that made it shows it."""
    clerk.csrf = clerk.page_csrf(f"/enterprise/passes/{pass_id}")
    response = clerk.form(f"/enterprise/passes/{pass_id}/driver-links", {})
    assert response.status_code == 200, response.text
    found = re.search(r'value="https?://[^/"]+(/d/[A-Za-z0-9_-]{43})"', response.text)
    assert found, response.text
    assert "data:image/svg+xml;base64," in response.text  # the link as a QR, to scan from the screen
    return found[1]


def test_a_link_opens_the_pass_without_signing_in_and_reports_its_state(portal, api, app):
    pass_id = issued_pass(api, app)
    clerk = portal("clerk")
    assert "生成驾驶员链接" in clerk.get(f"/enterprise/passes/{pass_id}").text
    path = make_link(clerk, pass_id)
    token = path.rsplit("/", 1)[1]
    with Session(app.state.engine) as session:
        (link,) = session.exec(select(DriverLink)).all()
        serial = session.get(IssuedPass, pass_id).serial
    assert link.token_hash == hash_token(token) and token not in link.model_dump_json()
    phone = portal()  # no sign-in
    page = phone.get(path)
    assert page.status_code == 200 and QR_IMAGE in page.text and serial in page.text
    assert "有效" in page.text and "/static/driver_phone.js" in page.text
    assert "Valid" in phone.get(path + "?lang=en").text
    status = phone.get(path + "/status", headers={"accept": "application/json"})
    assert status.status_code == 200 and status.json()["status"] == "valid"
    # The clerk's pass page lists the link, not its token.
    listing = clerk.get(f"/enterprise/passes/{pass_id}").text
    assert "可用" in listing and token not in listing


def test_a_withdrawn_link_is_refused_and_shows_no_qr(portal, api, app):
    pass_id = issued_pass(api, app)
    clerk = portal("clerk")
    path = make_link(clerk, pass_id)
    with Session(app.state.engine) as session:
        (link,) = session.exec(select(DriverLink)).all()
    clerk.csrf = clerk.page_csrf(f"/enterprise/passes/{pass_id}")
    response = clerk.form(
        f"/enterprise/passes/{pass_id}/driver-links/{link.id}/revoke", {}, follow_redirects=False
    )
    assert response.status_code == 303
    phone = portal()
    page = phone.get(path)
    assert QR_IMAGE not in page.text and "企业已收回此链接" in page.text
    assert "Your company has withdrawn this link" in phone.get(path + "?lang=en").text
    assert (
        phone.get(path + "/status", headers={"accept": "application/json"}).json()["status"] == "link_revoked"
    )
    # The pass itself is untouched, and a new link works.
    assert "/static/" in phone.get(make_link(clerk, pass_id)).text
    assert QR_IMAGE in phone.get(make_link(clerk, pass_id)).text


def test_a_revoked_or_expired_pass_is_shown_as_such(portal, api, app):
    pass_id = issued_pass(api, app)
    clerk = portal("clerk")
    path = make_link(clerk, pass_id)
    assert (
        api("clerk").post(f"/api/v1/passes/{pass_id}/revoke", json={"reason": "车辆故障"}).status_code == 200
    )
    phone = portal()
    page = phone.get(path)
    assert QR_IMAGE not in page.text and "此通行证已被撤销" in page.text
    assert phone.get(path + "/status", headers={"accept": "application/json"}).json()["status"] == "revoked"
    # No new link for a revoked pass.
    clerk.csrf = clerk.page_csrf(f"/enterprise/passes/{pass_id}")
    assert clerk.form(f"/enterprise/passes/{pass_id}/driver-links", {}).status_code == 409

    other = issued_pass(api, app)
    path = make_link(clerk, other)
    past = datetime.now(UTC) - timedelta(minutes=1)
    with Session(app.state.engine) as session:
        record = session.get(IssuedPass, other)
        record.valid_from, record.valid_until = past - timedelta(days=1), past
        session.add(record)
        session.commit()
    page = phone.get(path)
    assert QR_IMAGE not in page.text and "此通行证已过期" in page.text
    assert phone.get(path + "/status", headers={"accept": "application/json"}).json()["status"] == "expired"


def test_links_are_the_enterprises_own(portal, api, app):
    pass_id = issued_pass(api, app)
    rival = portal("rival")
    rival.csrf = rival.page_csrf("/enterprise/passes")
    assert rival.form(f"/enterprise/passes/{pass_id}/driver-links", {}).status_code == 404
    reviewer = portal("reviewer")
    reviewer.csrf = reviewer.page_csrf("/review/queue")
    assert reviewer.form(f"/enterprise/passes/{pass_id}/driver-links", {}).status_code == 403
    clerk = portal("clerk")
    make_link(clerk, pass_id)
    with Session(app.state.engine) as session:
        (link,) = session.exec(select(DriverLink)).all()
    response = rival.form(f"/enterprise/passes/{pass_id}/driver-links/{link.id}/revoke", {})
    assert response.status_code == 404
    with Session(app.state.engine) as session:
        assert session.get(DriverLink, link.id).revoked_at is None


def test_unknown_and_malformed_tokens_are_not_found(portal):
    phone = portal()
    for token in ("x" * 43, "short", "%00" * 10, "a" * 64):
        assert phone.get(f"/d/{token}").status_code == 404, token
        assert phone.get(f"/d/{token}/status", headers={"accept": "application/json"}).status_code == 404
