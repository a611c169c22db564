"""Issued passes in the portal and the API: lists, details, downloads, the phone page and revocation."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image
from sqlmodel import Session, select

from server import db
from server.accounts.models import User
from server.applications.models import ISSUED, Application, ApplicationEvent
from server.applications.schemas import parse_application
from server.keyring import service as keyring
from server.passes import service as passes
from server.passes.models import IssuedPass, Revocation
from server.policy import service as policy_service
from tests.factories import DRIVER_ID, ESCORT_IDS
from tests.integration.conftest import DEMO_USCC, OTHER_USCC

NAMES = {DEMO_USCC: "昆山精密机械有限公司", OTHER_USCC: "武汉长江物流有限公司"}


def issue_pass(app, *, uscc: str = DEMO_USCC, plate: str = "苏E·A1234", **changes) -> IssuedPass:
    """A pass signed straight through the service, as an approval would (valid from an hour ago for a week)."""
    now = datetime.now(UTC)
    body = {
        "enterprise": {"name": NAMES[uscc], "uscc": uscc},
        # GA 36: an 8-character (new-energy) plate is green; the others here are a lorry's yellow.
        "vehicle": {"plate": plate, "plate_colour": "绿" if len(plate.replace("·", "")) == 8 else "黄"},
        "driver": {"name": "张伟", "id_number": DRIVER_ID, "licence_number": DRIVER_ID},
        "escorts": [{"name": "李娜", "id_number": ESCORT_IDS[0]}],
        "origin": "320583",
        "destination": "310000",
        "cargo": "精密轴承",
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=7)).isoformat(),
    } | changes
    settings = app.state.settings
    with db.session_scope(app.state.engine) as session:
        return passes.issue(
            session=session,
            application=parse_application(body),
            signer=keyring.active_issuer(session=session, settings=settings),
            policy=policy_service.current(session),
            issuer_region=settings.issuer_region,
            now=now,
        ).record


def revocation_of(app, pass_id: str) -> Revocation | None:
    with Session(app.state.engine) as session:
        return session.get(Revocation, pass_id)


def decode_png(content: bytes) -> list[str]:
    # QR only, as the checkpoint reads: with every format on, a QR's modules now and then also read as a short
    # 1D barcode (a landing run found '0486' beside the pass).
    image = Image.open(io.BytesIO(content))
    return [b.text for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def pdf_text(content: bytes, tmp_path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.fail("pdftotext not found: install Debian's poppler-utils")
    (tmp_path / "pass.pdf").write_bytes(content)
    return subprocess.run(
        [tool, str(tmp_path / "pass.pdf"), "-"], check=True, capture_output=True, text=True
    ).stdout


# Lists ----------------------------------------------------------------------------------------------------


def test_an_enterprise_lists_only_its_own_passes_with_their_status(app, portal, api):
    own, expired = issue_pass(app), issue_pass(app, plate="苏E·B5678")
    other = issue_pass(app, uscc=OTHER_USCC, plate="鄂A·D12345")
    with db.session_scope(app.state.engine) as session:  # an expired pass, without waiting a week
        row = session.get(IssuedPass, expired.pass_id)
        row.valid_until = datetime.now(UTC) - timedelta(minutes=1)
    page = portal("clerk").get("/enterprise/passes")
    assert page.status_code == 200
    assert own.serial in page.text and expired.serial in page.text and other.serial not in page.text
    assert "苏E·A1234" in page.text and "已过期" in page.text and "有效" in page.text

    listed = api("clerk").get("/api/v1/passes").json()
    assert {p["pass_id"] for p in listed} == {own.pass_id, expired.pass_id}
    assert {p["pass_id"]: p["status"] for p in listed}[expired.pass_id] == "expired"
    everything = api("auditor").get("/api/v1/passes").json()
    assert {p["pass_id"] for p in everything} == {own.pass_id, expired.pass_id, other.pass_id}


def test_passes_are_found_by_number_plate_and_status(app, api, portal):
    first, second = issue_pass(app), issue_pass(app, plate="苏E·B5678")
    reviewer = api("reviewer")
    assert [p["serial"] for p in reviewer.get("/api/v1/passes", params={"q": "苏eb5678"}).json()] == [
        second.serial
    ]
    assert [p["serial"] for p in reviewer.get("/api/v1/passes", params={"q": first.serial}).json()] == [
        first.serial
    ]
    assert reviewer.get("/api/v1/passes", params={"q": "%"}).json() == []
    assert reviewer.get("/api/v1/passes", params={"status": "revoked"}).json() == []
    assert reviewer.get("/api/v1/passes", params={"status": "bogus"}).status_code == 422
    page = portal("reviewer").get("/enterprise/passes", params={"q": first.serial, "lang": "en"})
    assert first.serial in page.text and second.serial not in page.text and "Passes" in page.text


def test_the_list_needs_a_signed_in_user(api, portal):
    assert api().get("/api/v1/passes").status_code == 401
    response = portal().get("/enterprise/passes", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


# Detail, downloads, phone page ------------------------------------------------------------------------------


def test_detail_shows_masked_numbers_only_in_both_languages(app, portal, api):
    record = issue_pass(app)
    clerk = portal("clerk")
    page = clerk.get(f"/enterprise/passes/{record.pass_id}")
    assert page.status_code == 200
    assert record.serial in page.text and "320583********1234" in page.text and DRIVER_ID not in page.text
    assert "上海市" in page.text and "精密轴承" in page.text and "下载" in page.text
    assert "Download" in clerk.get(f"/enterprise/passes/{record.pass_id}?lang=en").text
    body = api("clerk").get(f"/api/v1/passes/{record.pass_id}").json()
    assert body["serial"] == record.serial and body["status"] == "valid"
    assert body["driver"]["id_number"] == "320583********1234" and DRIVER_ID not in str(body)
    assert body["qr_text"] == record.qr_text and body["revocation"] is None


def test_downloads_have_their_content_type_and_a_file_name(app, api, portal, tmp_path):
    record = issue_pass(app)
    clients = ((api("clerk"), "/api/v1/passes"), (portal("clerk"), "/enterprise/passes"))
    for kind, media_type, disposition in (
        ("png", "image/png", "inline"),
        ("svg", "image/svg+xml", "inline"),
        ("pdf", "application/pdf", "attachment"),
    ):
        for client, base in clients:
            response = client.get(f"{base}/{record.pass_id}/{kind}")
            assert response.status_code == 200, (base, kind)
            assert response.headers["content-type"].startswith(media_type)
            expected = f'{disposition}; filename="pass-{record.serial}.{kind}"'
            assert response.headers["content-disposition"] == expected
            assert "private" in response.headers["cache-control"]
            if kind == "png":
                assert decode_png(response.content) == [record.qr_text]
            elif kind == "svg":
                assert response.content.startswith(b"<?xml") and b"<svg" in response.content
            else:
                text = pdf_text(response.content, tmp_path)
                assert record.serial in text and "苏E·A1234" in text and "昆山精密机械有限公司" in text


def test_the_pdf_comes_in_a4_too_and_other_formats_are_refused(app, api):
    record = issue_pass(app)
    clerk = api("clerk")
    a4 = clerk.get(f"/api/v1/passes/{record.pass_id}/pdf", params={"page": "A4"})
    a5 = clerk.get(f"/api/v1/passes/{record.pass_id}/pdf")
    assert a4.status_code == a5.status_code == 200 and a4.content != a5.content
    assert clerk.get(f"/api/v1/passes/{record.pass_id}/pdf", params={"page": "A3"}).status_code == 422
    assert clerk.get(f"/api/v1/passes/{record.pass_id}/gif").status_code == 422


def test_the_phone_page_shows_the_qr_big_with_serial_and_plate(app, portal):
    record = issue_pass(app)
    clerk = portal("clerk")
    page = clerk.get(f"/enterprise/passes/{record.pass_id}/phone")
    assert page.status_code == 200
    assert f'<img src="/enterprise/passes/{record.pass_id}/png"' in page.text
    assert 'class="phone-serial"' in page.text and record.serial in page.text and "苏E·A1234" in page.text
    assert 'name="viewport"' in page.text
    assert decode_png(clerk.get(f"/enterprise/passes/{record.pass_id}/png").content) == [record.qr_text]


# Revocation -----------------------------------------------------------------------------------------------


def test_an_enterprise_revokes_its_own_pass_with_a_reason(app, portal):
    record = issue_pass(app)
    clerk = portal("clerk")
    path = f"/enterprise/passes/{record.pass_id}/revoke"
    # Asked first (issue 13): the page repeats the reason and asks; nothing is revoked yet.
    asked = clerk.form(path, {"reason": "车辆故障，停运"})
    assert asked.status_code == 200 and 'id="confirm-revoke"' in asked.text and "车辆故障，停运" in asked.text
    assert revocation_of(app, record.pass_id) is None
    response = clerk.form(path, {"reason": "车辆故障，停运", "confirm": "yes"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/enterprise/passes/{record.pass_id}?done=revoked"
    stored = revocation_of(app, record.pass_id)
    assert stored.reason == "车辆故障，停运" and stored.revoked_by == "clerk"
    page = clerk.get(response.headers["location"])
    assert (
        "已撤销" in page.text
        and "车辆故障，停运" in page.text
        and 'action="/enterprise/passes' not in page.text
    )
    assert 'class="phone-serial"' in clerk.get(f"/enterprise/passes/{record.pass_id}/phone").text
    assert "<img" not in clerk.get(f"/enterprise/passes/{record.pass_id}/phone").text
    assert clerk.get(f"/enterprise/passes/{record.pass_id}/pdf").status_code == 409


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_revoking_without_a_reason_shows_the_error_next_to_the_field(app, portal, lang):
    record = issue_pass(app)
    clerk = portal("clerk")
    clerk.get(f"/enterprise/passes?lang={lang}")
    response = clerk.form(f"/enterprise/passes/{record.pass_id}/revoke", {"reason": "   "})
    assert response.status_code == 422
    assert 'id="e-reason"' in response.text
    assert ("请填写撤销原因" if lang == "zh" else "Give the reason") in response.text
    assert revocation_of(app, record.pass_id) is None


def test_the_bureau_revokes_any_pass_through_the_api_and_the_application_records_it(app, api):
    record = issue_pass(app, uscc=OTHER_USCC, plate="鄂A·D12345")
    with db.session_scope(app.state.engine) as session:  # as an approval would have linked them
        rival = session.exec(select(User).where(User.username == "rival")).one()
        application = Application(
            enterprise_uscc=OTHER_USCC,
            created_by=rival.id,
            status=ISSUED,
            body_json=record.application_json,
            plate=record.plate,
            created_at=record.issued_at,
            updated_at=record.issued_at,
            pass_id=record.pass_id,
        )
        session.add(application)
        session.flush()
        session.get(IssuedPass, record.pass_id).application_id = application.id
    reviewer = api("reviewer")
    missing = reviewer.post(f"/api/v1/passes/{record.pass_id}/revoke", json={"reason": ""})
    assert missing.status_code == 422 and missing.json()["errors"] == {"reason": "passes_reason_required"}
    response = reviewer.post(f"/api/v1/passes/{record.pass_id}/revoke", json={"reason": "驾驶员核酸阳性"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "revoked" and body["revocation"]["revoked_by"] == "reviewer"
    again = reviewer.post(f"/api/v1/passes/{record.pass_id}/revoke", json={"reason": "再次"})
    assert again.status_code == 409 and again.json()["code"] == "PASS_ALREADY_REVOKED"
    with Session(app.state.engine) as session:
        application = session.exec(select(Application).where(Application.pass_id == record.pass_id)).one()
        event = session.exec(select(ApplicationEvent)).one()
    assert application.status == "revoked"
    assert (event.from_status, event.to_status, event.reason) == ("issued", "revoked", "驾驶员核酸阳性")
