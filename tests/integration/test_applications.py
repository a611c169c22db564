"""The application workflow through the portal and the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from passcore import trust
from server.applications.models import Application, ApplicationEvent
from server.applications.service import body_of
from server.bundles import service as bundles
from server.deps import get_now
from server.enterprises.models import Enterprise
from server.keyring import service as keyring
from server.passes.models import IssuedPass
from tests.factories import DRIVER_ID, ESCORT_IDS
from tests.integration.conftest import DEMO_USCC, OTHER_USCC

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOSTILE_NAME = "<script>alert(1)</script>"
SQL_NAME = "'; DROP TABLE application; --"
HOSTILE_CARGO = "钢材<script>x</script>'; DROP TABLE\u200fevil\u200b"


def window(start: datetime | None = None, days: int = 7) -> tuple[datetime, datetime]:
    begin = (start or datetime.now(UTC)).replace(microsecond=0) + timedelta(hours=1)
    return begin, begin + timedelta(days=days)


def body(start: datetime | None = None, days: int = 7, **changes) -> dict:
    """An API body (no enterprise part: it is the clerk's own)."""
    valid_from, valid_until = window(start, days)
    return {
        "vehicle": {"plate": "苏E·A1234", "plate_colour": "yellow"},
        "driver": {
            "name": "张伟",
            "id_number": DRIVER_ID,
            "licence_number": DRIVER_ID,
            "phone": "13800000000",
        },
        "escorts": [{"name": "李娜", "id_number": ESCORT_IDS[0]}],
        "origin": "320583",
        "destination": "310000",
        "travel_history": ["320500"],
        "cargo": "精密零部件",
        "valid_from": valid_from.isoformat(),
        "valid_until": valid_until.isoformat(),
    } | changes


def form(action: str = "submit", **changes) -> dict:
    """What the apply form posts; times as a datetime-local input sends them (Shanghai, no zone)."""
    valid_from, valid_until = window()
    local = lambda moment: moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")  # noqa: E731
    return {
        "plate": "苏E·A1234",
        "plate_colour": "yellow",
        "driver_name": "张伟",
        "driver_id_number": DRIVER_ID,
        "driver_licence_number": DRIVER_ID,
        "driver_phone": "13800000000",
        "escort_name": ["李娜", "王强", ""],
        "escort_id_number": [ESCORT_IDS[0], ESCORT_IDS[1], ""],
        "escort_rows": "3",
        "origin": "320583",
        "destination": "310000",
        "travel_history": "320500， 310000",
        "cargo": "精密零部件",
        "valid_from": local(valid_from),
        "valid_until": local(valid_until),
        "action": action,
    } | changes


def created_id(response) -> int:
    assert response.status_code == 303, response.text
    return int(re.search(r"/enterprise/applications/(\d+)", response.headers["location"])[1])


def submitted(api, data: dict | None = None) -> int:
    response = api.post("/api/v1/applications?submit=true", json=data or body())
    assert response.status_code == 201, response.text
    return response.json()["id"]


def application(app, application_id: int) -> Application:
    with Session(app.state.engine) as session:
        return session.get(Application, application_id)


def stored_body(app, application_id: int):
    """The application as entered; its ID numbers are sealed, so they are opened within a session."""
    with Session(app.state.engine) as session:
        return body_of(session.get(Application, application_id))


def history(app, application_id: int) -> list[tuple[str, str]]:
    with Session(app.state.engine) as session:
        events = session.exec(
            select(ApplicationEvent)
            .where(ApplicationEvent.application_id == application_id)
            .order_by(col(ApplicationEvent.id))
        )
        return [(e.from_status, e.to_status) for e in events]


def test_clerk_applies_reviewer_approves_and_the_pass_verifies(portal, app):
    clerk = portal("clerk")
    assert clerk.get("/enterprise/applications/new").status_code == 200
    draft_id = created_id(clerk.form("/enterprise/applications/new", form("draft"), follow_redirects=False))
    page = clerk.get(f"/enterprise/applications/{draft_id}?notice=saved")
    assert "草稿已保存" in page.text and "320583********1234" in page.text and DRIVER_ID not in page.text
    response = clerk.form(f"/enterprise/applications/{draft_id}/submit", {}, follow_redirects=False)
    assert response.status_code == 303

    reviewer = portal("reviewer")
    queue = reviewer.get("/review/queue").text
    assert queue.index(f"/review/applications/{draft_id}") > 0
    assert re.findall(r'href="/review/applications/(\d+)"', queue)[0] == str(draft_id)
    detail = reviewer.get(f"/review/applications/{draft_id}").text
    assert DRIVER_ID in detail and ESCORT_IDS[1] in detail  # the full numbers are the point of this screen
    reviewer.csrf = reviewer.page_csrf(f"/review/applications/{draft_id}")
    approved = reviewer.form(
        f"/review/applications/{draft_id}/approve", {"confirm": "yes"}, follow_redirects=False
    )
    assert approved.status_code == 303

    stored = application(app, draft_id)
    assert stored.status == "issued" and stored.pass_id
    assert history(app, draft_id) == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "approved"),
        ("approved", "issued"),
    ]
    settings = app.state.settings
    with Session(app.state.engine) as session:
        record = session.get(IssuedPass, stored.pass_id)
        assert record.application_id == draft_id
        now = datetime.now(UTC)
        root = keyring.load_root(settings)
        signed = bundles.current(session=session, root=root, validity=timedelta(days=7), now=now).signed
    bundle = trust.load_bundle(signed, root=root.public, now=now)
    result = trust.verify_pass(record.qr_text, bundle, now=record.valid_from + timedelta(hours=1))
    assert result.valid, result.message
    assert result.claims.plate == "苏EA1234" and result.claims.enterprise == DEMO_USCC
    assert [e.name for e in result.claims.escorts] == ["李娜", "王强"]
    assert result.claims.travel_history == ("320500", "310000")

    listing = clerk.get("/enterprise/applications").text
    assert f'href="/enterprise/passes/{stored.pass_id}"' in listing and record.serial in listing
    assert "已发证" in clerk.get(f"/enterprise/applications/{draft_id}").text


def test_times_from_the_form_are_read_in_shanghai_time(portal, app):
    clerk = portal("clerk")
    # Dates from today, not the calendar: a validity that has ended is rightly refused.
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    last = day + timedelta(days=4)
    data = form(valid_from=f"{day.isoformat()}T08:00", valid_until=f"{last.isoformat()}T18:30")
    application_id = created_id(clerk.form("/enterprise/applications/new", data, follow_redirects=False))
    stored = stored_body(app, application_id)
    assert stored.valid_from == datetime(day.year, day.month, day.day, 0, 0, tzinfo=UTC)
    assert stored.valid_until == datetime(last.year, last.month, last.day, 10, 30, tzinfo=UTC)


def test_illegal_transitions_are_conflicts_and_leave_no_trace(api, app):
    clerk, reviewer = api("clerk"), api("reviewer")
    draft = clerk.post("/api/v1/applications", json=body()).json()["id"]
    for action in ("approve", "reject"):
        response = reviewer.post(f"/api/v1/applications/{draft}/{action}", json={"reason": "no"})
        assert response.status_code == 409 and response.json()["code"] == "STATUS_CONFLICT", action
    assert clerk.post(f"/api/v1/applications/{draft}/submit").status_code == 200
    again = clerk.post(f"/api/v1/applications/{draft}/submit")
    assert again.status_code == 409 and again.json()["code"] == "STATUS_CONFLICT"
    assert reviewer.post(f"/api/v1/applications/{draft}/approve").status_code == 200
    for action in ("approve", "reject"):
        response = reviewer.post(f"/api/v1/applications/{draft}/{action}", json={"reason": "late"})
        assert response.status_code == 409 and response.json()["code"] == "STATUS_CONFLICT"
    # Another lorry: this one holds a live pass now (one vehicle, one pass).
    rejected = submitted(clerk, body(vehicle={"plate": "苏E·B5678", "plate_colour": "blue"}))
    assert (
        reviewer.post(f"/api/v1/applications/{rejected}/reject", json={"reason": "证件不全"}).status_code
        == 200
    )
    assert reviewer.post(f"/api/v1/applications/{rejected}/approve").status_code == 409
    assert clerk.post(f"/api/v1/applications/{rejected}/submit").status_code == 409
    assert history(app, draft) == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "approved"),
        ("approved", "issued"),
    ]
    assert history(app, rejected) == [("", "draft"), ("draft", "submitted"), ("submitted", "rejected")]
    with Session(app.state.engine) as session:
        assert len(session.exec(select(IssuedPass)).all()) == 1


def test_only_a_draft_can_be_edited(portal, api, app):
    clerk = portal("clerk")
    application_id = created_id(
        clerk.form("/enterprise/applications/new", form("submit"), follow_redirects=False)
    )
    assert clerk.get(f"/enterprise/applications/{application_id}/edit").status_code == 409
    response = clerk.form(f"/enterprise/applications/{application_id}/edit", form("draft", plate="苏E·B5678"))
    assert response.status_code == 409
    assert application(app, application_id).plate == "苏EA1234"


def test_a_draft_is_edited_then_submitted_and_each_change_is_recorded(portal, app):
    clerk = portal("clerk")
    application_id = created_id(
        clerk.form("/enterprise/applications/new", form("draft"), follow_redirects=False)
    )
    edit = clerk.get(f"/enterprise/applications/{application_id}/edit")
    assert edit.status_code == 200 and f'value="{DRIVER_ID}"' in edit.text  # the clerk's own entry, in full
    changed = form("draft", plate="苏E·B5678")
    created_id(clerk.form(f"/enterprise/applications/{application_id}/edit", changed, follow_redirects=False))
    assert application(app, application_id).plate == "苏EB5678"
    created_id(
        clerk.form(f"/enterprise/applications/{application_id}/edit", form("submit"), follow_redirects=False)
    )
    assert application(app, application_id).status == "submitted"
    assert history(app, application_id) == [
        ("", "draft"),
        ("draft", "draft"),
        ("draft", "draft"),
        ("draft", "submitted"),
    ]
    assert "修改草稿" in clerk.get(f"/enterprise/applications/{application_id}").text


def test_rejection_needs_a_reason_which_the_enterprise_then_sees(portal, api, app):
    clerk_api, reviewer_api = api("clerk"), api("reviewer")
    application_id = submitted(clerk_api)
    for payload in ({}, {"reason": "   "}):
        response = reviewer_api.post(f"/api/v1/applications/{application_id}/reject", json=payload)
        assert response.status_code == 422 and response.json()["errors"] == {"reason": "reason_required"}
    assert reviewer_api.post(f"/api/v1/applications/{application_id}/reject").status_code == 422
    control = reviewer_api.post(f"/api/v1/applications/{application_id}/reject", json={"reason": "a\x00b"})
    assert control.status_code == 422 and control.json()["errors"] == {"reason": "reason_invalid"}
    reviewer = portal("reviewer")
    reviewer.csrf = reviewer.page_csrf(f"/review/applications/{application_id}")
    page = reviewer.form(f"/review/applications/{application_id}/reject", {"reason": ""})
    assert page.status_code == 422 and 'id="e-reason"' in page.text and "请填写驳回理由" in page.text
    assert application(app, application_id).status == "submitted"
    done = reviewer.form(
        f"/review/applications/{application_id}/reject", {"reason": "驾驶证已过期"}, follow_redirects=False
    )
    assert done.status_code == 303
    stored = application(app, application_id)
    assert stored.status == "rejected" and stored.reason == "驾驶证已过期"
    assert "驾驶证已过期" in portal("clerk").get(f"/enterprise/applications/{application_id}").text


def _unverify(app, uscc: str = DEMO_USCC) -> None:
    with Session(app.state.engine) as session:
        enterprise = session.get(Enterprise, uscc)
        enterprise.verified = False
        session.add(enterprise)
        session.commit()


def test_an_unverified_enterprise_cannot_apply_and_is_told_why(portal, api, app):
    clerk_api = api("clerk")
    draft = clerk_api.post("/api/v1/applications", json=body()).json()["id"]
    waiting = submitted(clerk_api)
    _unverify(app)
    response = clerk_api.post("/api/v1/applications", json=body())
    assert response.status_code == 403 and response.json()["code"] == "ENTERPRISE_NOT_VERIFIED"
    assert clerk_api.post(f"/api/v1/applications/{draft}/submit").json()["code"] == "ENTERPRISE_NOT_VERIFIED"
    clerk = portal("clerk")
    page = clerk.get("/enterprise/applications/new")
    assert "尚未通过交通运输局核验" in page.text and 'name="driver_name"' not in page.text
    refused = clerk.form("/enterprise/applications/new", form())
    assert refused.status_code == 403 and "尚未通过交通运输局核验" in refused.text
    assert "尚未通过交通运输局核验" in clerk.get("/enterprise/applications").text
    approve = api("reviewer").post(f"/api/v1/applications/{waiting}/approve")
    assert approve.status_code == 409 and approve.json()["code"] == "ENTERPRISE_NOT_VERIFIED"
    assert application(app, waiting).status == "submitted"
    with Session(app.state.engine) as session:
        assert session.get(Enterprise, DEMO_USCC).verified is False  # issuing did not re-verify it
        assert len(session.exec(select(Application)).all()) == 2


def test_the_enterprise_is_always_the_clerks_own(api, app):
    clerk = api("clerk")
    foreign = clerk.post("/api/v1/applications", json=body(enterprise={"name": "武汉", "uscc": OTHER_USCC}))
    assert foreign.status_code == 403 and foreign.json()["code"] == "ENTERPRISE_MISMATCH"
    renamed = clerk.post(
        "/api/v1/applications", json=body(enterprise={"name": "别的名字", "uscc": DEMO_USCC})
    )
    assert renamed.status_code == 201
    assert renamed.json()["application"]["enterprise"] == {"name": "昆山精密机械有限公司", "uscc": DEMO_USCC}
    with Session(app.state.engine) as session:
        assert {a.enterprise_uscc for a in session.exec(select(Application))} == {DEMO_USCC}
    assert api("reviewer").post("/api/v1/applications", json=body()).status_code == 403


def test_field_errors_are_shown_beside_the_field_in_the_users_language(portal, api):
    clerk = portal("clerk")
    bad = form(driver_id_number="320583198503121235", plate="苏E·I1234", origin="12", valid_until="")
    page = clerk.form("/enterprise/applications/new", bad)
    assert page.status_code == 422
    assert 'id="e-driver_id_number"' in page.text and "身份证号码有误" in page.text
    assert 'id="e-plate"' in page.text and 'id="e-origin"' in page.text and 'id="e-valid_until"' in page.text
    assert 'value="320583198503121235"' in page.text  # what was typed is kept
    clerk.get("/enterprise/applications/new?lang=en")
    english = clerk.form("/enterprise/applications/new", bad)
    assert "Not a valid resident ID number" in english.text
    bad_escort = form(escort_name=["", "王强", ""], escort_id_number=["", "123", ""])
    escort_page = clerk.form("/enterprise/applications/new", bad_escort)
    assert 'id="e-escort_id_number_0"' in escort_page.text  # the filled row moved up to the first
    too_long = clerk.form(
        "/enterprise/applications/new",
        form(valid_until=(datetime.now(SHANGHAI) + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M")),
    )
    assert too_long.status_code == 422 and "at most 30 days" in too_long.text
    response = api("clerk").post(
        "/api/v1/applications", json=body(origin="99", escorts=[{"name": "a\u200b", "id_number": "1"}])
    )
    assert response.status_code == 422 and response.json()["code"] == "APPLICATION_INVALID"
    assert response.json()["errors"] == {
        "escorts.0.name": "name_invisible",
        "escorts.0.id_number": "id_number_invalid",
        "origin": "region_invalid",
    }


def test_add_escort_rerenders_with_one_more_row_and_saves_nothing(portal, app):
    clerk = portal("clerk")
    page = clerk.form("/enterprise/applications/new", form("add_escort", driver_name="赵六"))
    assert page.status_code == 200
    assert page.text.count('name="escort_name"') == 4 and 'value="赵六"' in page.text
    full = clerk.form("/enterprise/applications/new", form("add_escort", escort_rows="6"))
    assert full.text.count('name="escort_name"') == 6 and 'value="add_escort"' not in full.text
    with Session(app.state.engine) as session:
        assert session.exec(select(Application)).all() == []


def test_hostile_content_is_stored_verbatim_and_rendered_escaped(portal, api, app):
    zero_width = api("clerk").post(
        "/api/v1/applications",
        json=body(driver={"name": "张\u200b伟", "id_number": DRIVER_ID, "licence_number": DRIVER_ID}),
    )
    assert zero_width.status_code == 422 and zero_width.json()["errors"] == {"driver.name": "name_invisible"}
    clerk = portal("clerk")
    data = form(
        driver_name=HOSTILE_NAME,
        escort_name=[SQL_NAME, "", ""],
        escort_id_number=[ESCORT_IDS[0], "", ""],
        cargo=HOSTILE_CARGO,
    )
    application_id = created_id(clerk.form("/enterprise/applications/new", data, follow_redirects=False))
    stored = stored_body(app, application_id)
    assert stored.driver.name == HOSTILE_NAME and stored.escorts[0].name == SQL_NAME
    assert stored.cargo == HOSTILE_CARGO
    reviewer = portal("reviewer")
    for page in (
        clerk.get(f"/enterprise/applications/{application_id}").text,
        reviewer.get(f"/review/applications/{application_id}").text,
        reviewer.get("/review/queue").text,
    ):
        assert "<script>alert(1)</script>" not in page and "<script>x</script>" not in page
    detail = reviewer.get(f"/review/applications/{application_id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
    assert "&#39;; DROP TABLE application; --" in detail
    assert "<bdi>钢材&lt;script&gt;x&lt;/script&gt;&#39;; DROP TABLE\u200fevil\u200b</bdi>" in detail
    with Session(app.state.engine) as session:
        assert len(session.exec(select(Application)).all()) == 1  # and the table is still there


WEB_GET = {
    "/enterprise/applications/{draft}": {
        "clerk": 200,
        "rival": 404,
        "reviewer": 403,
        "auditor": 403,
        "admin": 403,
        None: 303,
    },
    "/enterprise/applications/{draft}/edit": {
        "clerk": 200,
        "rival": 404,
        "reviewer": 403,
        "auditor": 403,
        "admin": 403,
        None: 303,
    },
    "/review/applications/{draft}": {
        "clerk": 403,
        "rival": 403,
        "reviewer": 200,
        "auditor": 200,
        "admin": 200,
        None: 303,
    },
}
WEB_POST = {  # anonymous posts fail the CSRF check first
    "/enterprise/applications/{draft}/edit": {
        "rival": 404,
        "reviewer": 403,
        "auditor": 403,
        "admin": 403,
        None: 403,
    },
    "/enterprise/applications/{draft}/submit": {
        "rival": 404,
        "reviewer": 403,
        "auditor": 403,
        "admin": 403,
        None: 403,
    },
    "/review/applications/{waiting}/approve": {"clerk": 403, "rival": 403, "auditor": 403, None: 403},
    "/review/applications/{waiting}/reject": {"clerk": 403, "rival": 403, "auditor": 403, None: 403},
}
API = {
    ("get", "/api/v1/applications/{draft}"): {
        "clerk": 200,
        "rival": 404,
        "reviewer": 200,
        "auditor": 200,
        "admin": 200,
        None: 401,
    },
    ("get", "/api/v1/applications/{draft}/events"): {
        "clerk": 200,
        "rival": 404,
        "reviewer": 200,
        "auditor": 200,
        "admin": 200,
        None: 401,
    },
    ("post", "/api/v1/applications/{draft}/submit"): {
        "rival": 404,
        "reviewer": 403,
        "auditor": 403,
        "admin": 403,
        None: 401,
    },
    ("post", "/api/v1/applications/{waiting}/approve"): {
        "clerk": 403,
        "rival": 403,
        "auditor": 403,
        None: 401,
    },
    ("post", "/api/v1/applications/{waiting}/reject"): {
        "clerk": 403,
        "rival": 403,
        "auditor": 403,
        None: 401,
    },
}


def test_access_matrix_for_every_route_with_an_id(portal, api, app):
    clerk_api = api("clerk")
    ids = {
        "draft": clerk_api.post("/api/v1/applications", json=body()).json()["id"],
        "waiting": submitted(clerk_api),
    }
    users = ("clerk", "rival", "reviewer", "auditor", "admin", None)
    browsers = {user: portal(user) for user in users}
    for path, expected in WEB_GET.items():
        for user, status in expected.items():
            got = browsers[user].get(path.format(**ids), follow_redirects=False).status_code
            assert got == status, (path, user, got)
    for path, expected in WEB_POST.items():
        for user, status in expected.items():
            got = browsers[user].form(path.format(**ids), form("draft") | {"reason": "x"}).status_code
            assert got == status, (path, user, got)
    clients = {user: api(user) for user in users}
    for (method, path), expected in API.items():
        for user, status in expected.items():
            got = getattr(clients[user], method)(
                path.format(**ids), **({"json": {"reason": "x"}} if method == "post" else {})
            )
            assert got.status_code == status, (method, path, user, got.status_code)
    assert clients["rival"].get("/api/v1/applications").json() == {"items": [], "total": 0}
    assert clients["clerk"].get("/api/v1/applications").json()["total"] == 2
    assert clients["auditor"].get("/api/v1/applications?status=submitted").json()["total"] == 1
    assert (
        application(app, ids["draft"]).status == "draft"
        and application(app, ids["waiting"]).status == "submitted"
    )
    # and the allowed ones, last
    assert clients["clerk"].post(f"/api/v1/applications/{ids['draft']}/submit").status_code == 200
    assert (
        clients["admin"]
        .post(f"/api/v1/applications/{ids['draft']}/reject", json={"reason": "重复申请"})
        .status_code
        == 200
    )
    assert clients["reviewer"].post(f"/api/v1/applications/{ids['waiting']}/approve").status_code == 200
    events = clients["clerk"].get(f"/api/v1/applications/{ids['waiting']}/events").json()
    assert [e["actor"] for e in events] == [None] * 4  # enterprises see roles, not staff usernames
    staff_view = clients["auditor"].get(f"/api/v1/applications/{ids['waiting']}/events").json()
    assert staff_view[-1]["actor"] == "reviewer" and staff_view[-1]["to_status"] == "issued"


def test_queue_is_oldest_first_and_marks_overdue(portal, api, app):
    t0 = datetime.now(UTC).replace(microsecond=0)
    clock = {"now": t0}
    app.dependency_overrides[get_now] = lambda: clock["now"]
    clerk = api("clerk")
    older_draft = clerk.post("/api/v1/applications", json=body(t0)).json()["id"]
    first = submitted(clerk, body(t0) | {"vehicle": {"plate": "苏E·C0001"}})
    clock["now"] = t0 + timedelta(hours=10)
    assert clerk.post(f"/api/v1/applications/{older_draft}/submit").status_code == 200
    clock["now"] = t0 + timedelta(hours=74)
    reviewer = portal("reviewer")
    page = reviewer.get("/review/queue").text
    order = re.findall(r'href="/review/applications/(\d+)"', page)
    assert order == [str(first), str(older_draft)]  # by submission time, not by id
    # Overdue: past the deadline of 3 working days (due_on; the holiday calendar is test_review_desk's).
    clock["now"] = t0 + timedelta(hours=11)
    assert 'class="overdue"' not in reviewer.get("/review/queue").text
    clock["now"] = t0 + timedelta(days=15)  # past 3 working days whatever the holidays
    reviewer = portal("reviewer")  # signed in again: the first session has run out
    assert reviewer.get("/review/queue").text.count('<span class="overdue">') == 2
    assert 'class="overdue"' in reviewer.get(f"/review/applications/{first}").text


def test_search_finds_any_status_by_plate_or_pass_number(portal, api, app):
    clerk, reviewer_api = api("clerk"), api("reviewer")
    issued = submitted(clerk)
    serial = reviewer_api.post(f"/api/v1/applications/{issued}/approve").json()["serial"]
    assert serial == "320583-000001"
    other = submitted(clerk, body() | {"vehicle": {"plate": "苏E·B5678"}})
    reviewer = portal("reviewer")

    def found(q: str) -> list[str]:
        page = reviewer.get("/review/queue", params={"q": q}).text
        results = page.split("</section>")[1]
        return re.findall(r'href="/review/applications/(\d+)[?"]', results)

    assert found(serial) == [str(issued)] and found("320583-1") == [str(issued)]
    assert found("苏E·A1234") == [str(issued)] and found("苏ea1234") == [str(issued)]
    assert found("B5678") == [str(other)] and found("%") == [] and found("_") == []
    assert "没有符合条件的申请" in reviewer.get("/review/queue", params={"q": "京A00000"}).text
    assert reviewer_api.get("/api/v1/applications", params={"plate": "a1234"}).json()["total"] == 1


def test_the_apply_page_speaks_both_languages(portal):
    clerk = portal("clerk")
    chinese = clerk.get("/enterprise/applications/new").text
    assert "车牌号" in chinese and "增加一名押运员" in chinese and 'type="datetime-local"' in chinese
    english = clerk.get("/enterprise/applications/new?lang=en").text
    assert "Plate number" in english and "Add an escort" in english
    assert "apps." not in re.sub(r"<[^>]+>", "", english)  # no missing translation shows its key


@pytest.mark.parametrize("path", ["/review/queue", "/enterprise/applications"])
def test_list_pages_render_empty(portal, path):
    user = "reviewer" if path.startswith("/review") else "clerk"
    assert portal(user).get(path).status_code == 200


def test_an_issued_application_expires_with_its_pass(portal, api, app):
    t0 = datetime.now(UTC).replace(microsecond=0)
    clock = {"now": t0}
    app.dependency_overrides[get_now] = lambda: clock["now"]
    clerk = api("clerk")
    application_id = submitted(clerk, body(t0, days=1))
    assert api("reviewer").post(f"/api/v1/applications/{application_id}/approve").json()["status"] == "issued"
    assert clerk.get(f"/api/v1/applications/{application_id}").json()["status"] == "issued"
    clock["now"] = t0 + timedelta(days=2)
    assert clerk.get(f"/api/v1/applications/{application_id}").json()["status"] == "expired"
    events = clerk.get(f"/api/v1/applications/{application_id}/events").json()
    assert events[-1] | {"at": None} == {
        "at": None,
        "from_status": "issued",
        "to_status": "expired",
        "reason": "",
        "actor_role": None,
        "actor": None,
    }
    assert clerk.get("/api/v1/applications?status=expired").json()["total"] == 1
    page = portal("clerk").get(f"/enterprise/applications/{application_id}").text
    assert "已过期" in page and "系统" in page


def test_a_window_that_has_passed_is_neither_submitted_nor_issued(portal, api, app):
    t0 = datetime.now(UTC).replace(microsecond=0)
    clock = {"now": t0}
    app.dependency_overrides[get_now] = lambda: clock["now"]
    clerk_api = api("clerk")
    draft = clerk_api.post("/api/v1/applications", json=body(t0, days=1)).json()["id"]
    waiting = submitted(clerk_api, body(t0, days=1))
    clock["now"] = t0 + timedelta(days=3)
    late = clerk_api.post(f"/api/v1/applications/{draft}/submit")
    assert late.status_code == 422 and late.json()["errors"] == {"valid_until": "window_over"}
    page = portal("clerk").form(f"/enterprise/applications/{draft}/submit", {})
    assert page.status_code == 422 and 'id="e-valid_until"' in page.text and "该有效期已经结束" in page.text
    refused = api("reviewer").post(f"/api/v1/applications/{waiting}/approve")
    assert refused.status_code == 422 and refused.json()["code"] == "CANNOT_ISSUE"
    reviewer = portal("reviewer")
    reviewer.csrf = reviewer.page_csrf(f"/review/applications/{waiting}")
    shown = reviewer.form(f"/review/applications/{waiting}/approve", {"confirm": "yes"})
    assert shown.status_code == 422 and "无法签发" in shown.text
    assert application(app, waiting).status == "submitted" and application(app, draft).status == "draft"
    assert history(app, waiting) == [("", "draft"), ("draft", "submitted")]
    with Session(app.state.engine) as session:
        assert session.exec(select(IssuedPass)).all() == []


def test_every_application_page_is_translated_in_both_languages(portal, api):
    clerk_api, reviewer_api = api("clerk"), api("reviewer")
    draft = clerk_api.post("/api/v1/applications", json=body()).json()["id"]
    issued = submitted(clerk_api)
    rejected = submitted(clerk_api)
    reviewer_api.post(f"/api/v1/applications/{issued}/approve")
    reviewer_api.post(f"/api/v1/applications/{rejected}/reject", json={"reason": "不符合要求"})
    clerk, reviewer = portal("clerk"), portal("reviewer")
    for lang in ("zh", "en"):
        pages = [
            clerk.get(f"/enterprise/applications?lang={lang}"),
            clerk.get("/enterprise/applications/new"),
            clerk.get(f"/enterprise/applications/{draft}"),
            clerk.get(f"/enterprise/applications/{draft}/edit"),
            clerk.get(f"/enterprise/applications/{issued}"),
            clerk.get(f"/enterprise/applications/{rejected}"),
            reviewer.get(f"/review/queue?lang={lang}&q=A1234"),
            reviewer.get(f"/review/applications/{issued}"),
            reviewer.get(f"/review/applications/{rejected}"),
            reviewer.get(f"/review/applications/{draft}"),
        ]
        for response in pages:
            text = re.sub(r"<[^>]+>", "", response.text)
            assert response.status_code == 200 and "apps." not in text, (lang, response.url)
        assert ("车牌" in pages[0].text) == (lang == "zh") and ("Plate" in pages[0].text) == (lang == "en")
