"""The enterprise's own work on its applications (issue 13): copy, renew, amend, withdraw, delete a draft; on
SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

from PIL import Image
from sqlmodel import Session, col, select

from server.accounts.models import User
from server.applications.models import Application, ApplicationEvent, PersonHash
from server.documents import service as documents
from server.documents import storage
from server.documents.models import Document
from server.passes.models import IssuedPass, Revocation
from tests.factories import DRIVER_ID
from tests.integration.test_applications import application, body, form, history, stored_body, submitted

OTHER_DRIVER = "110101199003074514"


def issued_id(api, app, data: dict | None = None) -> int:
    application_id = submitted(api("clerk"), data)
    assert api("reviewer").post(f"/api/v1/applications/{application_id}/approve").status_code == 200
    assert application(app, application_id).status == "issued"
    return application_id


def new_draft(response) -> int:
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/enterprise/applications/(\d+)/edit", response.headers["location"])
    assert found, response.headers["location"]
    return int(found[1])


def post(clerk, path: str, data: dict | None = None):
    return clerk.form(path, data or {}, follow_redirects=False)


def test_a_rejected_application_is_copied_into_a_draft_opened_for_editing(portal, api, app):
    rejected = submitted(api("clerk"), body(start=datetime.now(UTC) - timedelta(days=1), days=3))
    assert (
        api("reviewer")
        .post(f"/api/v1/applications/{rejected}/reject", json={"reason": "证件不全"})
        .is_success
    )
    clerk = portal("clerk")
    assert "复制为新申请" in clerk.get(f"/enterprise/applications/{rejected}").text
    copy_id = new_draft(post(clerk, f"/enterprise/applications/{rejected}/copy"))
    copy = application(app, copy_id)
    assert copy.status == "draft" and copy.derived_from == rejected and copy.derivation == "copy"
    assert copy.replaces_pass_id is None
    source, copied = stored_body(app, rejected), stored_body(app, copy_id)
    assert (
        copied.driver == source.driver and copied.escorts == source.escorts and copied.cargo == source.cargo
    )
    # The old window had started: the copy's starts in the next hour, as long as the old one.
    assert copied.valid_from > datetime.now(UTC) and copied.valid_until - copied.valid_from == timedelta(
        days=3
    )
    edit = clerk.get(f"/enterprise/applications/{copy_id}/edit")
    assert edit.status_code == 200 and DRIVER_ID in edit.text
    assert history(app, copy_id) == [("", "draft")]
    assert (
        f'href="/enterprise/applications/{rejected}"' in clerk.get(f"/enterprise/applications/{copy_id}").text
    )


def test_a_copy_of_another_enterprises_application_is_not_found(portal, api, app):
    theirs = submitted(api("rival"))
    clerk = portal("clerk")
    for action in ("copy", "renew", "amend", "withdraw", "delete"):
        response = post(clerk, f"/enterprise/applications/{theirs}/{action}")
        assert response.status_code == 404, action
    with Session(app.state.engine) as session:
        assert len(session.exec(select(Application)).all()) == 1
        assert application(app, theirs).status == "submitted"


def test_bureau_staff_cannot_do_the_enterprises_work(portal, api):
    application_id = submitted(api("clerk"))
    reviewer = portal("reviewer")
    for action in ("copy", "withdraw", "delete"):
        response = post(reviewer, f"/enterprise/applications/{application_id}/{action}")
        assert response.status_code == 403, action


def test_a_submitted_application_is_withdrawn_with_its_reason(portal, api, app):
    application_id = submitted(api("clerk"))
    clerk = portal("clerk")
    page = clerk.get(f"/enterprise/applications/{application_id}").text
    assert "撤回申请" in page and "删除草稿" not in page
    response = post(clerk, f"/enterprise/applications/{application_id}/withdraw", {"reason": "车辆改派"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/enterprise/applications/{application_id}?notice=withdrawn"
    assert application(app, application_id).status == "withdrawn"
    assert history(app, application_id)[-1] == ("submitted", "withdrawn")
    shown = clerk.get(response.headers["location"] + "&lang=en").text
    assert "The application was withdrawn." in shown and "Withdrawn" in shown
    # The bureau can no longer decide it.
    approve = api("reviewer").post(f"/api/v1/applications/{application_id}/approve")
    assert approve.status_code == 409 and approve.json()["code"] == "STATUS_CONFLICT"


def test_withdrawing_what_is_not_waiting_for_a_decision_is_a_conflict(portal, api, app):
    clerk = portal("clerk")
    approved = issued_id(api, app)
    draft = api("clerk").post("/api/v1/applications", json=body()).json()["id"]
    for application_id in (approved, draft):
        before = history(app, application_id)
        response = post(clerk, f"/enterprise/applications/{application_id}/withdraw")
        assert response.status_code == 409
        assert (
            "cannot become withdrawn" in response.text or "不能" in response.text or "状态" in response.text
        )
        assert history(app, application_id) == before
    other_vehicle = body(vehicle={"plate": "苏E·B5678", "plate_colour": "yellow"})  # one vehicle, one pass
    withdrawn = submitted(api("clerk"), other_vehicle)
    assert post(clerk, f"/enterprise/applications/{withdrawn}/withdraw").status_code == 303
    assert post(clerk, f"/enterprise/applications/{withdrawn}/withdraw").status_code == 409


def test_withdrawal_reason_with_control_characters_changes_nothing(portal, api, app):
    application_id = submitted(api("clerk"))
    response = post(
        portal("clerk"), f"/enterprise/applications/{application_id}/withdraw", {"reason": "a\x00b"}
    )
    assert response.status_code in (409, 422)
    assert application(app, application_id).status == "submitted"


def test_a_draft_is_deleted_with_its_history_and_person_hashes(portal, api, app):
    clerk = portal("clerk")
    draft = api("clerk").post("/api/v1/applications", json=body()).json()["id"]
    with Session(app.state.engine) as session:
        assert session.exec(select(PersonHash).where(PersonHash.application_id == draft)).all()
    page = clerk.get(f"/enterprise/applications/{draft}").text
    assert "删除草稿" in page
    response = post(clerk, f"/enterprise/applications/{draft}/delete")
    assert (
        response.status_code == 303
        and response.headers["location"] == "/enterprise/applications?notice=deleted"
    )
    assert "草稿已删除" in clerk.get(response.headers["location"]).text
    with Session(app.state.engine) as session:
        assert session.get(Application, draft) is None
        assert not session.exec(
            select(ApplicationEvent).where(ApplicationEvent.application_id == draft)
        ).all()
        assert not session.exec(select(PersonHash).where(PersonHash.application_id == draft)).all()
    assert clerk.get(f"/enterprise/applications/{draft}").status_code == 404
    assert post(clerk, f"/enterprise/applications/{draft}/delete").status_code == 404


def test_only_a_draft_is_deleted(portal, api, app):
    clerk = portal("clerk")
    application_id = submitted(api("clerk"))
    response = post(clerk, f"/enterprise/applications/{application_id}/delete")
    assert response.status_code == 409
    assert application(app, application_id).status == "submitted"
    assert history(app, application_id) == [("", "draft"), ("draft", "submitted")]


def test_a_renewal_follows_the_pass_and_leaves_it_running(portal, api, app):
    source = issued_id(api, app, body(days=3))
    clerk = portal("clerk")
    old = application(app, source)
    with Session(app.state.engine) as session:
        old_pass = session.get(IssuedPass, old.pass_id)
    renewal = new_draft(post(clerk, f"/enterprise/applications/{source}/renew"))
    row = application(app, renewal)
    assert row.derivation == "renew" and row.derived_from == source and row.replaces_pass_id == old.pass_id
    renewed = stored_body(app, renewal)
    assert renewed.valid_from == old_pass.valid_until
    assert renewed.valid_until - renewed.valid_from == timedelta(days=3)
    # Submitted and approved: no overlap, so the old pass runs out by itself.
    assert api("clerk").post(f"/api/v1/applications/{renewal}/submit").status_code == 200
    assert api("reviewer").post(f"/api/v1/applications/{renewal}/approve").status_code == 200
    with Session(app.state.engine) as session:
        assert session.get(Revocation, old.pass_id) is None
    assert application(app, source).status == "issued"


def test_an_amendment_goes_to_review_and_its_pass_revokes_the_old_one(portal, api, app):
    source = issued_id(api, app)
    old = application(app, source)
    clerk = portal("clerk")
    amendment = new_draft(post(clerk, f"/enterprise/applications/{source}/amend"))
    assert application(app, amendment).replaces_pass_id == old.pass_id
    assert stored_body(app, amendment).valid_until == stored_body(app, source).valid_until
    # The driver changes; the draft is submitted for review from the form.
    data = form(
        "submit", driver_name="王刚", driver_id_number=OTHER_DRIVER, driver_licence_number=OTHER_DRIVER
    )
    amended = stored_body(app, amendment)
    response = clerk.form(f"/enterprise/applications/{amendment}/edit", data, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert application(app, amendment).status == "submitted"
    with Session(app.state.engine) as session:
        assert session.get(Revocation, old.pass_id) is None  # valid until the new one is issued
    approve = api("reviewer").post(f"/api/v1/applications/{amendment}/approve")
    assert approve.status_code == 200, approve.text
    new = application(app, amendment)
    with Session(app.state.engine) as session:
        revocation = session.get(Revocation, old.pass_id)
        serial = session.get(IssuedPass, new.pass_id).serial
    assert revocation is not None and serial in revocation.reason
    assert application(app, source).status == "revoked"
    assert amended.driver.name == "张伟"  # what the amendment started from


def test_only_a_live_pass_is_amended_and_only_an_issued_or_expired_one_renewed(portal, api, app):
    clerk = portal("clerk")
    waiting = submitted(api("clerk"))
    for action in ("renew", "amend"):
        assert post(clerk, f"/enterprise/applications/{waiting}/{action}").status_code == 409
    source = issued_id(api, app)
    pass_id = application(app, source).pass_id
    assert api("clerk").post(f"/api/v1/passes/{pass_id}/revoke", json={"reason": "车辆故障"}).status_code in (
        200,
        201,
    )
    assert application(app, source).status == "revoked"
    assert post(clerk, f"/enterprise/applications/{source}/amend").status_code == 409
    assert post(clerk, f"/enterprise/applications/{source}/renew").status_code == 409
    # A revoked pass's application can still be copied.
    copy = new_draft(post(clerk, f"/enterprise/applications/{source}/copy"))
    assert application(app, copy).replaces_pass_id is None
    with Session(app.state.engine) as session:
        drafts = session.exec(select(Application).where(col(Application.status) == "draft")).all()
    assert [d.id for d in drafts] == [copy]


def test_the_api_copies_withdraws_and_deletes(api, app):
    clerk = api("clerk")
    waiting = submitted(clerk)
    copy = clerk.post(f"/api/v1/applications/{waiting}/copy")
    assert copy.status_code == 201 and copy.json()["status"] == "draft"
    assert application(app, copy.json()["id"]).derived_from == waiting
    withdrawn = clerk.post(f"/api/v1/applications/{waiting}/withdraw", json={"reason": "不再需要"})
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    again = clerk.post(f"/api/v1/applications/{waiting}/withdraw")
    assert again.status_code == 409 and again.json()["code"] == "STATUS_CONFLICT"
    assert clerk.delete(f"/api/v1/applications/{waiting}").status_code == 409
    assert api("rival").delete(f"/api/v1/applications/{copy.json()['id']}").status_code == 404
    assert api("reviewer").delete(f"/api/v1/applications/{copy.json()['id']}").status_code == 403
    renew = clerk.post(f"/api/v1/applications/{waiting}/renew")
    assert renew.status_code == 409 and renew.json()["code"] == "STATUS_CONFLICT"
    assert clerk.delete(f"/api/v1/applications/{copy.json()['id']}").status_code == 204
    assert application(app, copy.json()["id"]) is None


def test_a_deleted_drafts_documents_go_with_it_files_included(portal, api, app):
    draft = api("clerk").post("/api/v1/applications", json=body()).json()["id"]
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(picture, format="PNG")
    with Session(app.state.engine) as session:
        clerk_user = session.exec(select(User).where(User.username == "clerk")).one()
        document = documents.add(
            session=session,
            kind="vehicle_licence",
            data=picture.getvalue(),
            filename="行驶证.png",
            enterprise_uscc=clerk_user.enterprise_uscc,
            user=clerk_user,
            now=datetime.now(UTC),
            max_bytes=5 * 2**20,
            application_id=draft,
        )
        session.commit()
        (stored,) = storage.root_of(session).rglob(document.stored_name)
    assert stored.exists()
    assert post(portal("clerk"), f"/enterprise/applications/{draft}/delete").status_code == 303
    with Session(app.state.engine) as session:
        assert session.exec(select(Document).where(Document.application_id == draft)).all() == []
    assert not stored.exists()
