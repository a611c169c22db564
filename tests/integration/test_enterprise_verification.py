"""An administrator verifies an enterprise by its business licence, or rejects it with a reason the enterprise
sees; the enterprise sends a new licence and asks again. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import Session, select

from server.accounts.models import User
from server.documents.models import BUSINESS_LICENCE, Document
from server.enterprises.models import Enterprise
from server.notices.models import Notice
from tests.integration.conftest import PASSWORD
from tests.unit.test_document_sniff import image, pdf

NEW_USCC = "91320583MA1MQ3K8DC"
NAME = "昆山新材料科技有限公司"


def register(portal, licence: tuple | None = None, username: str = "newclerk"):
    page = portal()
    page.csrf = page.get("/register").cookies.get("cp_csrf") or page.cookies.get("cp_csrf")
    data = {
        "name": NAME,
        "uscc": NEW_USCC,
        "contact": "周敏",
        "phone": "0512-5550",
        "region": "320583",
        "username": username,
        "password": PASSWORD,
    }
    return page.form("/register", data, files={"licence": licence} if licence else None)


def licences(app) -> list[Document]:
    with Session(app.state.engine) as session:
        return list(session.exec(select(Document).where(Document.enterprise_uscc == NEW_USCC)))


def notices(app, kind: str) -> list[Notice]:
    with Session(app.state.engine) as session:
        clerk = session.exec(select(User).where(User.username == "newclerk")).one()
        return list(session.exec(select(Notice).where(Notice.user_id == clerk.id, Notice.kind == kind)))


def enterprise(app) -> Enterprise:
    with Session(app.state.engine) as session:
        return session.get(Enterprise, NEW_USCC)


def test_the_licence_sent_at_registration_is_what_the_administrator_verifies_by(portal, app):
    assert register(portal, ("营业执照.pdf", pdf(), "application/pdf")).status_code == 200
    (licence,) = licences(app)
    assert licence.kind == BUSINESS_LICENCE and licence.application_id is None
    admin = portal("admin")
    listing = admin.get("/admin/enterprises").text
    assert f'href="/admin/enterprises/{NEW_USCC}"' in listing
    detail = admin.get(f"/admin/enterprises/{NEW_USCC}")
    assert f'href="/documents/{licence.id}"' in detail.text and "营业执照.pdf" in detail.text
    assert admin.get(f"/documents/{licence.id}").content == pdf()
    verified = admin.form(f"/admin/enterprises/{NEW_USCC}/verify", {}, follow_redirects=False)
    assert verified.status_code == 303
    assert enterprise(app).verified
    assert len(notices(app, "enterprise.verified")) == 1


def test_a_refused_licence_at_registration_registers_nothing(portal, app):
    response = register(portal, ("licence.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"))
    assert response.status_code == 422
    assert "只接受 JPEG、PNG 或 PDF" in response.text
    assert enterprise(app) is None and licences(app) == []


def test_rejected_with_a_reason_the_enterprise_sees_and_asks_again(portal, api, app):
    assert register(portal, ("licence.png", image("PNG"), "image/png")).status_code == 200
    admin = portal("admin")
    empty = admin.form(f"/admin/enterprises/{NEW_USCC}/reject", {"reason": " "})
    assert empty.status_code == 422 and "请填写理由" in empty.text
    assert enterprise(app).rejected_at is None
    response = admin.form(
        f"/admin/enterprises/{NEW_USCC}/reject",
        {"reason": "执照照片模糊，无法辨认信用代码"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    rejected = enterprise(app)
    assert rejected.rejected_reason == "执照照片模糊，无法辨认信用代码" and not rejected.verified
    (notice,) = notices(app, "enterprise.rejected")
    assert "执照照片模糊" in notice.params
    assert "核验未通过" in admin.get("/admin/enterprises").text

    clerk = portal("newclerk")
    page = clerk.get("/enterprise/licence")
    assert "执照照片模糊，无法辨认信用代码" in page.text and 'action="/enterprise/licence"' in page.text
    bad = clerk.form("/enterprise/licence", {}, files={"licence": ("x.pdf", b"", "application/pdf")})
    assert bad.status_code == 422 and "文件是空的" in bad.text
    assert enterprise(app).rejected_at is not None  # a refused file does not ask again
    again = clerk.form(
        "/enterprise/licence",
        {},
        files={"licence": ("new.jpg", image("JPEG"), "image/jpeg")},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert enterprise(app).rejected_at is None and enterprise(app).rejected_reason == ""
    assert len(licences(app)) == 2
    # The administrator sees the newest licence first and verifies; a verified enterprise cannot be rejected.
    detail = admin.get(f"/admin/enterprises/{NEW_USCC}").text
    assert detail.index("new.jpg") < detail.index("licence.png")
    assert api("admin").post(f"/api/v1/enterprises/{NEW_USCC}/verify").json()["verified"] is True
    refused = api("admin").post(f"/api/v1/enterprises/{NEW_USCC}/reject", json={"reason": "晚了"})
    assert refused.status_code == 409
    assert 'action="/enterprise/licence"' not in clerk.get("/enterprise/licence").text


def test_only_administrators_reject_and_only_the_enterprise_sees_its_licence(portal, api, app):
    register(portal, ("licence.png", image("PNG"), "image/png"))
    (licence,) = licences(app)
    for who in ("reviewer", "auditor", "clerk"):
        assert (
            api(who).post(f"/api/v1/enterprises/{NEW_USCC}/reject", json={"reason": "不行"}).status_code
            == 403
        )
        assert portal(who).get(f"/admin/enterprises/{NEW_USCC}").status_code == 403
    assert portal("clerk").get(f"/documents/{licence.id}").status_code == 404  # another enterprise's
    assert portal("newclerk").get(f"/documents/{licence.id}").status_code == 200
    assert portal("reviewer").get(f"/documents/{licence.id}").status_code == 200
    assert portal("admin").get("/admin/enterprises/91110000000000000X").status_code == 404
    assert (
        api("admin").post("/api/v1/enterprises/91110000000000000X/reject", json={"reason": "无"}).status_code
        == 404
    )


def test_the_pages_speak_english_too(portal, app):
    register(portal, ("licence.png", image("PNG"), "image/png"))
    admin = portal("admin")
    page = admin.get(f"/admin/enterprises/{NEW_USCC}?lang=en").text
    assert "Reason for rejecting" in page and "Check the licence" not in page
    assert "Check the licence" in admin.get("/admin/enterprises?lang=en").text
    assert "Business licence" in portal("newclerk").get("/enterprise/licence?lang=en").text


def test_the_api_lists_and_uploads_business_licences(portal, api, app):
    register(portal, ("licence.png", image("PNG"), "image/png"))
    assert (
        api("admin").post(f"/api/v1/enterprises/{NEW_USCC}/reject", json={"reason": "模糊"}).status_code
        == 200
    )
    clerk = api("newclerk")
    sent = clerk.post("/api/v1/enterprise/licence", files={"file": ("new.pdf", pdf(), "application/pdf")})
    assert sent.status_code == 201 and sent.json()["kind"] == BUSINESS_LICENCE
    assert enterprise(app).rejected_at is None
    listed = api("reviewer").get(f"/api/v1/enterprises/{NEW_USCC}/licences").json()
    assert [d["display_name"] for d in listed] == ["new.pdf", "licence.png"]
    assert clerk.get(f"/api/v1/enterprises/{NEW_USCC}/licences").status_code == 200
    assert api("clerk").get(f"/api/v1/enterprises/{NEW_USCC}/licences").status_code == 404
    assert api("auditor").get(f"/api/v1/enterprises/{NEW_USCC}/licences").status_code == 403
    bad = clerk.post("/api/v1/enterprise/licence", files={"file": ("x.jpg", b"<svg/>", "image/jpeg")})
    assert bad.status_code == 422 and bad.json()["code"] == "DOCUMENT_TYPE"
    assert (
        api("reviewer").post("/api/v1/enterprise/licence", files={"file": ("n.pdf", pdf())}).status_code
        == 403
    )
