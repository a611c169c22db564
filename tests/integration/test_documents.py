"""Documents through the portal and the API, on SQLite and PostgreSQL: uploads with an application and on its
page, who may open them, how they are stored (0600 under <home>/documents, random names), refusals that change
nothing, and deletion with the application (draft deletion, retention purge)."""

from __future__ import annotations

import io
import os
import re
import stat
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlmodel import Session, select

from server.applications.models import Application
from server.documents import service as documents
from server.documents.models import Document
from server.retention import service as retention
from tests.integration.conftest import DEMO_USCC
from tests.integration.test_applications import body, form
from tests.unit.test_document_sniff import image, pdf


def noisy_png(side: int) -> bytes:
    """A PNG that does not compress: random pixels."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG")
    return out.getvalue()


HTML_AS_JPG = ("licence.jpg", b"<!doctype html><html><script>alert(1)</script></html>", "image/jpeg")


def draft(api) -> int:
    response = api("clerk").post("/api/v1/applications", json=body())
    assert response.status_code == 201, response.text
    return response.json()["id"]


def rows(app, application_id: int | None = None) -> list[Document]:
    with Session(app.state.engine) as session:
        query = select(Document)
        if application_id is not None:
            query = query.where(Document.application_id == application_id)
        return list(session.exec(query))


def stored(app_settings) -> list:
    folder = app_settings.home / "documents"
    return sorted(folder.iterdir()) if folder.exists() else []


def upload(page, application_id: int, kind: str, file: tuple, **kwargs):
    return page.form(
        f"/enterprise/applications/{application_id}/documents",
        {"kind": kind},
        files={"file": file},
        **kwargs,
    )


def test_a_licence_uploaded_on_the_application_page_is_stored_owner_only(portal, api, app, app_settings):
    application_id = draft(api)
    clerk = portal("clerk")
    response = upload(
        clerk, application_id, "vehicle_licence", ("行驶证 正面.JPG", image("JPEG")), follow_redirects=False
    )
    assert response.status_code == 303, response.text
    (document,) = rows(app, application_id)
    assert (document.kind, document.media_type, document.display_name) == (
        "vehicle_licence",
        "image/jpeg",
        "行驶证 正面.jpg",
    )
    (path,) = stored(app_settings)
    assert path.name == document.stored_name and re.fullmatch(r"[0-9a-f]{40}", path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes() == image("JPEG")
    page = clerk.get(f"/enterprise/applications/{application_id}")
    assert f'href="/documents/{document.id}"' in page.text and "行驶证 正面.jpg" in page.text
    review = portal("reviewer").get(f"/review/applications/{application_id}")
    assert f'href="/documents/{document.id}"' in review.text


@pytest.mark.parametrize(
    ("who", "status"),
    [("clerk", 200), ("reviewer", 200), ("admin", 200), ("rival", 404), ("auditor", 403)],
)
def test_only_the_bureau_and_the_uploading_enterprise_open_a_document(portal, api, app, who, status):
    application_id = draft(api)
    upload(portal("clerk"), application_id, "driving_licence", ("dl.pdf", pdf()))
    (document,) = rows(app, application_id)
    page = portal(who).get(f"/documents/{document.id}", follow_redirects=False)
    assert page.status_code == status
    assert api(who).get(f"/api/v1/documents/{document.id}").status_code == status
    listed = api(who).get(f"/api/v1/applications/{application_id}/documents")
    assert listed.status_code == (status if who != "rival" else 404)
    if status == 200:
        assert page.content == pdf()
        assert page.headers["content-type"] == "application/pdf"
        assert page.headers["content-disposition"].startswith(
            "attachment;"
        )  # a PDF never opens in our origin
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "no-store" in page.headers["cache-control"]


def test_anonymous_callers_are_sent_to_sign_in_or_refused(portal, api, app):
    application_id = draft(api)
    upload(portal("clerk"), application_id, "vehicle_licence", ("v.png", image("PNG")))
    (document,) = rows(app, application_id)
    response = portal().get(f"/documents/{document.id}", follow_redirects=False)
    assert response.status_code == 303 and "/login" in response.headers["location"]
    assert api().get(f"/api/v1/documents/{document.id}").status_code == 401


def test_an_image_opens_inline_and_can_be_downloaded(portal, api, app):
    application_id = draft(api)
    upload(portal("clerk"), application_id, "vehicle_licence", ("v.png", image("PNG")))
    (document,) = rows(app, application_id)
    reviewer = portal("reviewer")
    shown = reviewer.get(f"/documents/{document.id}")
    assert shown.headers["content-type"] == "image/png" and shown.headers["content-disposition"].startswith(
        "inline;"
    )
    saved = reviewer.get(f"/documents/{document.id}?download=1")
    assert saved.headers["content-disposition"].startswith("attachment;")


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (HTML_AS_JPG, "只接受 JPEG、PNG 或 PDF"),
        (("scan.pdf", b"", "application/pdf"), "文件是空的"),
        (("big.png", noisy_png(200), "image/png"), "文件太大"),
    ],
    ids=["html-named-jpg", "empty", "oversized"],
)
def test_a_refused_file_is_told_and_nothing_is_stored(portal, api, app, app_settings, file, message):
    app.state.settings.max_document_bytes = 64 * 1024
    assert len(noisy_png(200)) > 64 * 1024
    application_id = draft(api)
    response = upload(portal("clerk"), application_id, "vehicle_licence", file)
    assert response.status_code in (413, 422), response.text[:3000]
    assert message in response.text
    assert rows(app) == [] and stored(app_settings) == []


def test_a_body_past_the_upload_limit_is_refused_before_it_is_read(portal, api, app, app_settings):
    application_id = draft(api)
    limit = app_settings.max_body_bytes + app_settings.max_document_bytes  # one document on this route
    response = upload(
        portal("clerk"), application_id, "vehicle_licence", ("x.pdf", b"%PDF-1.4" + b"0" * limit)
    )
    assert response.status_code == 413
    assert rows(app) == [] and stored(app_settings) == []


def test_documents_come_with_the_application_form_and_a_bad_one_saves_nothing(portal, app, app_settings):
    clerk = portal("clerk")
    files = {"vehicle_licence": ("v.jpg", image("JPEG")), "driving_licence": ("d.pdf", pdf())}
    response = clerk.form("/enterprise/applications/new", form("draft"), files=files, follow_redirects=False)
    assert response.status_code == 303, response.text
    application_id = int(re.search(r"/enterprise/applications/(\d+)", response.headers["location"])[1])
    assert sorted(d.kind for d in rows(app, application_id)) == ["driving_licence", "vehicle_licence"]
    with Session(app.state.engine) as session:
        count = len(session.exec(select(Application)).all())
    bad = {"vehicle_licence": HTML_AS_JPG}
    refused = clerk.form("/enterprise/applications/new", form("draft", cargo="钢卷"), files=bad)
    assert refused.status_code == 422
    assert 'value="钢卷"' in refused.text  # the form comes back as typed
    with Session(app.state.engine) as session:
        assert len(session.exec(select(Application)).all()) == count
    assert len(rows(app)) == 2 and len(stored(app_settings)) == 2


def test_a_decided_application_takes_no_more_documents_and_keeps_its_own(portal, api, app):
    application_id = draft(api)
    clerk = portal("clerk")
    upload(clerk, application_id, "vehicle_licence", ("v.png", image("PNG")))
    assert api("clerk").post(f"/api/v1/applications/{application_id}/submit").status_code == 200
    (document,) = rows(app, application_id)
    # Submitted: more may come, but nothing the reviewer may be reading goes away.
    assert clerk.form(f"/enterprise/documents/{document.id}/delete", {}).status_code == 409
    reject = api("reviewer").post(
        f"/api/v1/applications/{application_id}/reject", json={"reason": "证件不清晰"}
    )
    assert reject.status_code == 200, reject.text
    response = upload(clerk, application_id, "driving_licence", ("d.pdf", pdf()))
    assert response.status_code == 409
    assert len(rows(app, application_id)) == 1
    other = api("rival").post(
        f"/api/v1/applications/{application_id}/documents",
        data={"kind": "driving_licence"},
        files={"file": ("d.pdf", pdf())},
    )
    assert other.status_code == 404


def test_the_api_upload_checks_content_and_kind(api, app):
    application_id = draft(api)
    clerk = api("clerk")
    made = clerk.post(
        f"/api/v1/applications/{application_id}/documents",
        data={"kind": "driving_licence"},
        files={"file": ("d.pdf", pdf(), "application/pdf")},
    )
    assert made.status_code == 201 and made.json()["media_type"] == "application/pdf"
    wrong_kind = clerk.post(
        f"/api/v1/applications/{application_id}/documents",
        data={"kind": "business_licence"},
        files={"file": ("d.pdf", pdf())},
    )
    assert wrong_kind.status_code == 422 and wrong_kind.json()["code"] == "DOCUMENT_KIND"
    html = clerk.post(
        f"/api/v1/applications/{application_id}/documents",
        data={"kind": "vehicle_licence"},
        files={"file": HTML_AS_JPG},
    )
    assert html.status_code == 422 and html.json()["code"] == "DOCUMENT_TYPE"
    assert [d["kind"] for d in clerk.get(f"/api/v1/applications/{application_id}/documents").json()] == [
        "driving_licence"
    ]


def test_a_draft_removes_its_document_and_the_file_goes_at_the_commit(portal, api, app, app_settings):
    application_id = draft(api)
    clerk = portal("clerk")
    upload(clerk, application_id, "vehicle_licence", ("v.png", image("PNG")))
    upload(clerk, application_id, "driving_licence", ("d.png", image("PNG")))
    first, second = rows(app, application_id)
    assert (
        clerk.form(f"/enterprise/documents/{first.id}/delete", {}, follow_redirects=False).status_code == 303
    )
    assert [p.name for p in stored(app_settings)] == [second.stored_name]
    with Session(app.state.engine) as session:
        assert documents.delete_for_application(session, application_id) == 1
        session.rollback()  # a rollback keeps the file and the row
    assert len(stored(app_settings)) == 1 and len(rows(app, application_id)) == 1
    with Session(app.state.engine) as session:
        documents.delete_for_application(session, application_id)
        session.commit()
    assert stored(app_settings) == [] and rows(app) == []


def test_a_document_added_in_a_transaction_that_rolls_back_leaves_no_file(app, app_settings):
    with Session(app.state.engine) as session:
        documents.add(
            session=session,
            kind="business_licence",
            data=pdf(),
            filename="x.pdf",
            enterprise_uscc=DEMO_USCC,
            user=None,
            now=datetime.now(UTC),
            max_bytes=app_settings.max_document_bytes,
        )
        assert len(stored(app_settings)) == 1
        session.rollback()
    assert stored(app_settings) == [] and rows(app) == []


def test_the_retention_purge_deletes_an_applications_documents(portal, api, app, app_settings):
    application_id = draft(api)
    upload(portal("clerk"), application_id, "vehicle_licence", ("v.png", image("PNG")))
    assert api("clerk").post(f"/api/v1/applications/{application_id}/submit").status_code == 200
    assert (
        api("reviewer")
        .post(f"/api/v1/applications/{application_id}/reject", json={"reason": "不符合要求"})
        .status_code
        == 200
    )
    assert len(stored(app_settings)) == 1
    later = datetime.now(UTC) + timedelta(days=400)
    with Session(app.state.engine) as session:
        report = retention.purge(session=session, now=later)
    assert report.applications == 1
    assert stored(app_settings) == [] and rows(app) == []
