"""One vehicle, one pass; the same people on other live passes; risk flags (issue 13) — SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from server import db
from server.applications.models import Application
from server.notices.models import Notice
from server.passes.models import IssuedPass, Revocation
from server.policy import service as policy_service
from tests.factories import DRIVER_ID
from tests.integration.test_applications import body, form, submitted

PLATE = "苏E·A1234"


def approve(api, application_id: int, **params):
    return api.post(f"/api/v1/applications/{application_id}/approve", params=params)


def issued(api, reviewer, data: dict | None = None) -> dict:
    response = approve(reviewer, submitted(api, data))
    assert response.status_code == 200, response.text
    return response.json()


def count(app, model) -> int:
    with Session(app.state.engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_a_second_overlapping_application_is_refused_at_submission_and_nothing_changes(api, app):
    clerk, reviewer = api("clerk"), api("reviewer")
    first = issued(clerk, reviewer)
    before = count(app, Application)
    start = datetime.now(UTC) + timedelta(days=2)  # inside the first pass's week
    response = clerk.post("/api/v1/applications?submit=true", json=body(start))
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "PLATE_HAS_PASS"
    assert problem["errors"] == {"vehicle.plate": "plate_has_pass", "valid_from": "plate_has_pass_window"}
    assert count(app, Application) == before  # not even a draft stays
    # A draft is kept, and submitting it is refused the same way.
    draft = clerk.post("/api/v1/applications", json=body(start)).json()["id"]
    refused = clerk.post(f"/api/v1/applications/{draft}/submit")
    assert refused.status_code == 409 and refused.json()["code"] == "PLATE_HAS_PASS"
    assert clerk.get(f"/api/v1/applications/{draft}").json()["status"] == "draft"
    # Another vehicle, or the same one after the pass ends, is fine.
    assert submitted(clerk, body(start, vehicle={"plate": "苏E·B5678", "plate_colour": "blue"}))
    after = datetime.fromisoformat(first["valid_until"]) + timedelta(minutes=1)
    assert submitted(clerk, body(after))


def test_the_portal_form_shows_the_refusal_by_the_plate_and_keeps_what_was_typed(api, portal):
    issued(api("clerk"), api("reviewer"))
    clerk = portal("clerk")
    for lang, words in (("zh", "一车一证"), ("en", "one vehicle, one pass")):
        page = clerk.form(f"/enterprise/applications/new?lang={lang}", form("submit", driver_name="王五"))
        assert page.status_code == 409
        assert 'id="e-plate"' in page.text and words in page.text
        assert 'value="王五"' in page.text


def test_an_open_overlapping_application_is_submitted_but_its_approval_is_refused_unless_replacing(
    api, app, portal
):
    clerk, rival, reviewer = api("clerk"), api("rival"), api("reviewer")
    mine = submitted(clerk)
    theirs = submitted(rival)  # the same lorry, the same week, another enterprise: not refused
    page = portal("reviewer").get(f"/review/applications/{theirs}").text
    assert "plate-conflicts" in page and f"/review/applications/{mine}" in page
    first = approve(reviewer, mine).json()
    refused = approve(reviewer, theirs)
    assert refused.status_code == 409 and refused.json()["code"] == "PLATE_CONFLICT"
    assert first["serial"] in refused.json()["detail"]
    assert rival.get(f"/api/v1/applications/{theirs}").json()["status"] == "submitted"
    page = portal("reviewer").get(f"/review/applications/{theirs}").text
    assert first["serial"] in page and 'name="replace"' in page

    replaced = approve(reviewer, theirs, replace="true")
    assert replaced.status_code == 200, replaced.text
    new = replaced.json()
    with Session(app.state.engine) as session:
        revocation = session.get(Revocation, first["pass_id"])
        assert revocation.reason == f"replaced by {new['serial']}" and revocation.revoked_by == "reviewer"
        assert session.get(Application, mine).status == "revoked"
        notices = session.exec(select(Notice).where(Notice.kind == "pass.replaced")).all()
        assert notices and {json.loads(n.params)["new_serial"] for n in notices} == {new["serial"]}
        live = session.exec(
            select(IssuedPass)
            .outerjoin(Revocation, col(Revocation.pass_id) == col(IssuedPass.pass_id))
            .where(col(Revocation.pass_id).is_(None))
        ).all()
    assert [p.pass_id for p in live] == [new["pass_id"]]


def test_replacing_through_the_review_page(api, app, portal):
    clerk, reviewer = api("clerk"), api("reviewer")
    mine, again = submitted(clerk), submitted(clerk)
    first = approve(reviewer, mine).json()
    desk = portal("reviewer")
    data = {"confirm": "yes"}
    refused = desk.form(f"/review/applications/{again}/approve", data)
    assert refused.status_code == 409 and first["serial"] in refused.text
    done = desk.form(f"/review/applications/{again}/approve", data | {"replace": "1"}, follow_redirects=False)
    assert done.status_code == 303, done.text
    with Session(app.state.engine) as session:
        assert session.get(Revocation, first["pass_id"]) is not None
        assert session.get(Application, again).status == "issued"


def test_concurrent_approvals_for_one_plate_issue_one_pass(api, app):
    clerk = api("clerk")
    ids = [submitted(clerk) for _ in range(6)]
    headers = {"authorization": api("reviewer").headers["authorization"]}
    start = threading.Barrier(len(ids))
    outcomes: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def run(application_id: int) -> None:
        with TestClient(app, headers=headers) as client:
            start.wait()
            response = client.post(f"/api/v1/applications/{application_id}/approve")
        with lock:
            outcomes.append((response.status_code, response.json().get("code")))

    threads = [threading.Thread(target=run, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes) == {(200, None): 1, (409, "PLATE_CONFLICT"): len(ids) - 1}
    assert count(app, IssuedPass) == 1


def test_the_pass_an_application_replaces_does_not_block_it(api, app, portal):
    clerk, reviewer = api("clerk"), api("reviewer")
    first = issued(clerk, reviewer)
    draft = clerk.post("/api/v1/applications", json=body()).json()["id"]
    with db.session_scope(app.state.engine) as session:
        session.get(Application, draft).replaces_pass_id = first["pass_id"]
    assert clerk.post(f"/api/v1/applications/{draft}/submit").status_code == 200
    page = portal("reviewer").get(f"/review/applications/{draft}").text
    # Neither a conflict nor "the same people elsewhere": that pass ends when this one is issued.
    assert "plate-conflicts" not in page and "people-elsewhere" not in page
    # Another enterprise's pass cannot be named to get round the rule.
    rival = api("rival")
    theirs = rival.post("/api/v1/applications", json=body()).json()["id"]
    with db.session_scope(app.state.engine) as session:
        session.get(Application, theirs).replaces_pass_id = first["pass_id"]
    assert rival.post(f"/api/v1/applications/{theirs}/submit").json()["code"] == "PLATE_HAS_PASS"


def test_the_same_driver_on_another_live_pass_is_shown_with_its_serial_and_masked_id(api, portal):
    clerk, reviewer = api("clerk"), api("reviewer")
    other = issued(clerk, reviewer, body(vehicle={"plate": "苏E·B5678", "plate_colour": "blue"}))
    application_id = submitted(clerk)
    desk = portal("auditor")  # auditors see masked numbers only, also here
    page = desk.get(f"/review/applications/{application_id}").text
    assert "people-elsewhere" in page and other["serial"] in page
    assert DRIVER_ID[:6] + "********" + DRIVER_ID[-4:] in page and DRIVER_ID not in page


def set_hard_hit(app, codes: list[str]) -> None:
    with db.session_scope(app.state.engine) as session:
        policy_service.set_policy(
            session=session, changes={"hard_hit": codes}, now=datetime.now(UTC), by="test"
        )


def stored(app, application_id: int) -> tuple[int, list[dict]]:
    with Session(app.state.engine) as session:
        application = session.get(Application, application_id)
        return application.risk, json.loads(application.risk_reasons)


def test_a_hard_hit_application_is_flagged_with_why_and_follows_the_policy(api, app, portal):
    clerk = api("clerk")
    set_hard_hit(app, ["310000"])  # the destination
    flagged = submitted(clerk)
    plain = submitted(
        clerk, body(vehicle={"plate": "苏E·B5678", "plate_colour": "blue"}, destination="320500")
    )
    assert stored(app, flagged) == (1, [{"code": "destination", "detail": "310000"}])
    assert stored(app, plain) == (0, [])
    # The API answers the flags to bureau staff, never to the enterprise.
    for viewer in ("reviewer", "auditor"):
        shown = api(viewer).get(f"/api/v1/applications/{flagged}").json()
        assert shown["risk"] == 1 and shown["risk_reasons"] == [{"code": "destination", "detail": "310000"}]
    listed = {a["id"]: a["risk"] for a in api("reviewer").get("/api/v1/applications").json()["items"]}
    assert listed == {flagged: 1, plain: 0}
    own = clerk.get(f"/api/v1/applications/{flagged}").json()
    assert own["risk"] is None and own["risk_reasons"] is None
    assert all(a["risk"] is None for a in clerk.get("/api/v1/applications").json()["items"])
    desk = portal("reviewer")
    for lang, words in (
        ("zh", "目的地 上海市（310000）在重点疫区"),
        ("en", "Destination 上海市 (310000) is in the hard-hit area"),
    ):
        assert words in desk.get(f"/review/applications/{flagged}?lang={lang}").text
    # The list changes: submitted applications are flagged again, decided ones are left as they were.
    set_hard_hit(app, ["320500"])
    suzhou = ["origin", "travel_history", "driver_birthplace", "escort_birthplace"]  # 320583, 320500, 320583…
    assert [r["code"] for r in stored(app, flagged)[1]] == suzhou
    assert [r["code"] for r in stored(app, plain)[1]] == [*suzhou[:1], "destination", *suzhou[1:]]
    set_hard_hit(app, [])
    assert stored(app, flagged) == (0, []) and stored(app, plain) == (0, [])


def test_earlier_refusals_and_revocations_flag_the_enterprise(api, app):
    clerk, reviewer = api("clerk"), api("reviewer")
    refused = submitted(clerk)
    reviewer.post(f"/api/v1/applications/{refused}/reject", json={"reason": "证件不清"})
    revoked = issued(clerk, reviewer, body(vehicle={"plate": "苏E·B5678", "plate_colour": "blue"}))
    reviewer.post(f"/api/v1/passes/{revoked['pass_id']}/revoke", json={"reason": "违规"})
    # The enterprise's own revocation says nothing against it.
    own = issued(clerk, reviewer, body(vehicle={"plate": "苏E·C5678", "plate_colour": "blue"}))
    assert (
        clerk.post(f"/api/v1/passes/{own['pass_id']}/revoke", json={"reason": "司机生病"}).status_code == 200
    )
    application_id = submitted(clerk, body(vehicle={"plate": "苏E·D5678", "plate_colour": "blue"}))
    assert stored(app, application_id) == (
        2,
        [{"code": "refusals", "detail": "1"}, {"code": "revocations", "detail": "1"}],
    )
