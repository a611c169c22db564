"""The 24-hour service centre's hotline: set by an admin in the policy, printed on the pass PDF, shown on the public
checkpoint page and on the officer's screen (from the signed bundle, so offline too)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

from passcore.policy import Policy
from server import db, flows
from tests.integration.audit_helpers import issue_pass
from tests.integration.screen_helpers import make_screen

__all__ = ["make_screen"]  # the fixture, imported for pytest

HOTLINE = "0512-68125723"


def _set_hotline(app, value: str) -> None:
    with db.session_scope(app.state.engine) as session:
        flows.update_policy(
            session=session,
            settings=app.state.settings,
            changes={"service_hotline": value},
            now=datetime.now(UTC),
            by="admin",
        )


def _pdf_text(portal, pass_id: str, tmp_path) -> str:
    response = portal("clerk").get(f"/enterprise/passes/{pass_id}/pdf")
    assert response.status_code == 200, response.text
    pdf = tmp_path / "pass.pdf"
    pdf.write_bytes(response.content)
    return subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout


def test_the_hotline_is_printed_on_the_pass_once_set(app, portal, tmp_path):
    pass_id, _ = issue_pass(app)
    assert HOTLINE not in _pdf_text(portal, pass_id, tmp_path)
    _set_hotline(app, HOTLINE)
    text = _pdf_text(portal, pass_id, tmp_path)
    assert HOTLINE in text and "24-hour service hotline" in text


def test_an_admin_sets_the_hotline_on_the_policy_page(app, portal):
    admin = portal("admin")
    form = admin.get("/admin/policy").text
    assert 'name="service_hotline"' in form
    refused = admin.form("/admin/policy", {"service_hotline": "call the bureau", "later_knobs": "1"})
    assert refused.status_code == 422 and 'id="e-service_hotline"' in refused.text


def test_the_public_status_page_shows_the_hotline(app, portal):
    _set_hotline(app, HOTLINE)
    page = portal().get("/checkpoints/status")
    assert page.status_code == 200 and f'href="tel:{HOTLINE}"' in page.text


def test_the_officers_screen_shows_the_hotline_from_the_bundle(make_screen):
    screen = make_screen(policy=Policy(hard_hit=("420000",), service_hotline=HOTLINE))
    assert screen.client.get("/api/overview").json()["policy"]["service_hotline"] == HOTLINE
    page = screen.client.get("/").text
    assert 'id="hotline"' in page
    bare = make_screen(policy=Policy())
    assert bare.client.get("/api/overview").json()["policy"]["service_hotline"] == ""
