"""The reviewer's desk (issue 13): the queue's paging, orders, filters and search; claims between two reviewers;
internal notes; return for correction and resubmission; bulk approval; next application; confirmation; deadlines on
the holiday calendar. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from server.accounts import service as accounts
from server.applications.models import Application, ApplicationEvent, ReviewNote
from server.config import get_settings
from server.deps import get_now
from server.passes.models import IssuedPass
from tests.integration.conftest import DEMO_USCC, OTHER_USCC, PASSWORD
from tests.integration.test_applications import body

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def app_settings(tmp_path, database_url):
    # Small pages, so paging is seen with a dozen applications.
    return get_settings(home=tmp_path, database_url=database_url, review_page_size=10)


@pytest.fixture
def second_reviewer(app):
    with Session(app.state.engine) as session:
        accounts.create_user(
            session=session, username="reviewer2", password=PASSWORD, role="reviewer", now=datetime.now(UTC)
        )
        session.commit()
    return "reviewer2"


def plate(n: int) -> str:
    return f"苏E·B{n:04d}"


def apply(
    api, n: int, *, driver: str = "张伟", escort: str = "李娜", start: datetime | None = None, **changes
) -> int:
    data = body(start, vehicle={"plate": plate(n), "plate_colour": "blue"}, **changes)
    data["driver"] = {**data["driver"], "name": driver}
    data["escorts"] = [{**data["escorts"][0], "name": escort}]
    response = api.post("/api/v1/applications?submit=true", json=data)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def set_columns(app, application_id: int, **values) -> None:
    with Session(app.state.engine) as session:
        session.execute(update(Application).where(col(Application.id) == application_id).values(**values))
        session.commit()


def stored(app, application_id: int) -> Application:
    with Session(app.state.engine) as session:
        return session.get(Application, application_id)


def listed(page_text: str) -> list[int]:
    """The application ids of the queue's list, in order."""
    return [int(i) for i in re.findall(r'<tr[^>]*data-id="(\d+)"', page_text)]


def signed_in(portal, username: str, path: str):
    client = portal(username)
    client.csrf = client.page_csrf(path)
    return client


def test_due_on_is_three_working_days_on_the_holiday_calendar(app, api):
    # Tuesday 29 September 2026, noon in Suzhou: Wednesday is a working day, then the National Day holiday
    # (1–7 October; Saturday 10 October is worked in exchange), so the third working day is Friday 9 October.
    now = datetime(2026, 9, 29, 12, 0, tzinfo=SHANGHAI).astimezone(UTC)
    app.dependency_overrides[get_now] = lambda: now
    try:
        application_id = apply(api("clerk"), 1, start=now)
    finally:
        app.dependency_overrides.pop(get_now)
    assert stored(app, application_id).due_on == date(2026, 10, 9)  # Monday to Friday alone: 2 October


def test_queue_pages_keep_their_filters_and_sort(app, api, portal):
    clerk = api("clerk")
    ids = [apply(clerk, n) for n in range(12)]
    base = datetime.now(UTC) - timedelta(days=1)
    for position, application_id in enumerate(ids):
        # Submitted in order; deadlines in the reverse order; every third one flagged.
        set_columns(
            app,
            application_id,
            submitted_at=base + timedelta(minutes=position),
            due_on=date(2030, 1, 1) + timedelta(days=len(ids) - position),
            risk=1 if position % 3 == 0 else 0,
        )
    reviewer = portal("reviewer")
    first = reviewer.get("/review/queue")
    assert listed(first.text) == ids[:10] and "1/2" in first.text
    assert listed(reviewer.get("/review/queue?page=2").text) == ids[10:]
    by_deadline = reviewer.get("/review/queue?sort=deadline").text
    assert listed(by_deadline) == list(reversed(ids))[:10]
    # The next page's link keeps the order.
    assert "/review/queue?sort=deadline&amp;page=2" in by_deadline
    assert listed(reviewer.get("/review/queue?sort=deadline&page=2").text) == list(reversed(ids))[10:]
    by_risk = listed(reviewer.get("/review/queue?sort=risk").text)
    flagged = [i for p, i in enumerate(ids) if p % 3 == 0]
    assert by_risk[: len(flagged)] == flagged
    assert listed(reviewer.get("/review/queue?risk=flagged").text) == flagged
    assert listed(reviewer.get("/review/queue?risk=none&page=1").text) == [i for i in ids if i not in flagged]
    # The live-refresh fragment is the list alone, with the same filters.
    fragment = reviewer.get("/review/queue?risk=flagged&partial=1")
    assert fragment.status_code == 200 and "<html" not in fragment.text and listed(fragment.text) == flagged
    assert (
        'data-live-url="/review/queue?risk=flagged&amp;partial=1"'
        in reviewer.get("/review/queue?risk=flagged").text
    )
    for bad in ("sort=newest", "status=nothing", "page=0", "region=32058", "risk=high"):
        refused = reviewer.get(f"/review/queue?{bad}")
        assert refused.status_code == 422, bad


def test_queue_filters_and_searches_names_enterprises_plates_and_numbers(app, api, portal):
    clerk, rival = api("clerk"), api("rival")
    zhang = apply(clerk, 1, driver="张伟", escort="李娜")
    wang = apply(clerk, 2, driver="王芳", escort="赵磊", destination="110101")
    wuhan = apply(rival, 3, driver="刘洋", escort="陈静", origin="420102", travel_history=[])
    late = apply(clerk, 4, driver="孙丽", escort="周杰")
    set_columns(app, late, due_on=date(2020, 1, 2))
    reviewer = portal("reviewer")

    def found(query: str) -> set[int]:
        response = reviewer.get(f"/review/queue?{query}")
        assert response.status_code == 200, (query, response.text[:300])
        return set(listed(response.text))

    assert found("q=王芳") == {wang}
    assert found("q=赵磊") == {wang}  # an escort
    assert found("q=武汉长江") == {wuhan}  # the enterprise's name
    assert found(f"q={OTHER_USCC}") == {wuhan}  # its credit code
    assert found(f"q={DEMO_USCC.lower()}") == {zhang, wang, late}
    assert found("q=B0002") == {wang}  # part of a plate
    assert found(f"q=%23{wuhan}") == {wuhan} and found(f"q={wuhan}") == {wuhan}  # the application number
    assert found("person=张") == {zhang}
    assert found("plate=苏E·B0001") == {zhang}
    assert found("enterprise=武汉") == {wuhan} and found(f"enterprise={DEMO_USCC}") == {zhang, wang, late}
    assert found("region=11") == {wang}  # Beijing, the destination
    assert found("region=4201") == {wuhan} and found("region=320583") == {zhang, wang, late}
    assert found("overdue=1") == {late}
    assert found("q=nobody") == set() and "没有符合条件的申请" in reviewer.get("/review/queue?q=nobody").text
    page = reviewer.get(f"/review/queue?q=%23{late}").text
    assert "已超时" in page and "2020-01-02" in page
    # A pass number finds the application once it is issued, in any status.
    api("reviewer").post(f"/api/v1/applications/{zhang}/approve")
    with Session(app.state.engine) as session:
        serial = session.exec(select(IssuedPass.serial).where(IssuedPass.application_id == zhang)).one()
    assert found(f"q={serial}") == {zhang}
    assert zhang not in found("") and zhang in found("status=issued") and zhang in found("status=any")


def test_a_claim_keeps_an_application_from_another_reviewer(app, api, portal, second_reviewer):
    application_id = apply(api("clerk"), 1)
    path = f"/review/applications/{application_id}"
    mine = signed_in(portal, "reviewer", path)
    assert mine.form(f"{path}/claim", {}, follow_redirects=False).status_code == 303
    assert application_id in listed(mine.get("/review/queue?claim=mine").text)

    other = signed_in(portal, second_reviewer, path)
    assert listed(other.get("/review/queue?claim=mine").text) == []
    assert application_id in listed(other.get("/review/queue?claim=others").text)
    assert "reviewer 正在处理" in other.get(path).text
    taken = other.form(f"{path}/claim", {})
    assert taken.status_code == 409 and "已由其他审核员认领" in taken.text
    refused = other.form(f"{path}/approve", {"confirm": "yes"})
    assert refused.status_code == 409 and stored(app, application_id).status == "submitted"
    assert other.form(f"{path}/reject", {"reason": "不行"}).status_code == 409
    assert (
        api(second_reviewer).post(f"/api/v1/applications/{application_id}/approve").json()["code"]
        == "CLAIMED"
    )
    # Releasing someone else's claim does nothing; the holder's release frees it.
    other.form(f"{path}/release", {})
    assert stored(app, application_id).claimed_by is not None
    mine.form(f"{path}/release", {})
    assert stored(app, application_id).claimed_by is None
    assert other.form(f"{path}/claim", {}, follow_redirects=False).status_code == 303

    # An administrator takes it over; a claim that ran out binds nobody.
    admin = signed_in(portal, "admin", path)
    assert admin.form(f"{path}/claim", {}).status_code == 409
    assert admin.form(f"{path}/claim", {"take_over": "yes"}, follow_redirects=False).status_code == 303
    with Session(app.state.engine) as session:
        admin_id = session.exec(select(Application.claimed_by).where(Application.id == application_id)).one()
    set_columns(app, application_id, claim_until=datetime.now(UTC) - timedelta(seconds=1))
    assert stored(app, application_id).claimed_by == admin_id
    done = mine.form(f"{path}/approve", {"confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303 and stored(app, application_id).status == "issued"


def test_two_reviewers_claiming_at_once_one_wins(app, api, portal, second_reviewer):
    application_id = apply(api("clerk"), 1)
    path = f"/review/applications/{application_id}"
    first, second = signed_in(portal, "reviewer", path), signed_in(portal, second_reviewer, path)
    answers = sorted(c.form(f"{path}/claim", {}, follow_redirects=False).status_code for c in (first, second))
    assert answers == [303, 409]


def test_notes_are_for_reviewers_only(app, api, portal):
    application_id = apply(api("clerk"), 1)
    path = f"/review/applications/{application_id}"
    reviewer = signed_in(portal, "reviewer", path)
    empty = reviewer.form(f"{path}/notes", {"note": "   "})
    assert empty.status_code == 422 and 'id="e-note"' in empty.text
    assert (
        reviewer.form(
            f"{path}/notes", {"note": "驾驶证照片模糊，已电话联系"}, follow_redirects=False
        ).status_code
        == 303
    )
    assert "驾驶证照片模糊" in reviewer.get(path).text
    assert "驾驶证照片模糊" not in portal("clerk").get(f"/enterprise/applications/{application_id}").text
    assert "驾驶证照片模糊" not in portal("auditor").get(path).text
    auditor = signed_in(portal, "auditor", path)
    assert auditor.form(f"{path}/notes", {"note": "x"}).status_code == 403
    with Session(app.state.engine) as session:
        assert len(session.exec(select(ReviewNote)).all()) == 1


def test_return_for_correction_then_edit_and_resubmit(app, api, portal):
    application_id = apply(api("clerk"), 1)
    set_columns(app, application_id, due_on=date(2020, 1, 1))
    path = f"/review/applications/{application_id}"
    reviewer = signed_in(portal, "reviewer", path)
    missing = reviewer.form(f"{path}/return", {"fix": ""})
    assert missing.status_code == 422 and stored(app, application_id).status == "submitted"
    returned = reviewer.form(
        f"{path}/return", {"fix": "押运员身份证号与证件照片不一致"}, follow_redirects=False
    )
    assert returned.status_code == 303 and stored(app, application_id).status == "returned"

    clerk = signed_in(portal, "clerk", f"/enterprise/applications/{application_id}")
    page = clerk.get(f"/enterprise/applications/{application_id}").text
    assert "押运员身份证号与证件照片不一致" in page and "退回补正" in page
    with Session(app.state.engine) as session:
        from server.notices.models import Notice

        assert session.exec(select(Notice).where(Notice.kind == "application.returned")).all()
    form = clerk.get(f"/enterprise/applications/{application_id}/edit")
    assert form.status_code == 200
    fields = dict(re.findall(r'name="(\w+)" type="[\w-]+" value="([^"]*)"', form.text))
    posted = {k: v for k, v in fields.items() if k != "csrf_token"} | {
        "plate_colour": "blue",
        "escort_name": ["李娜"],
        "escort_id_number": [body()["escorts"][0]["id_number"]],
        "escort_rows": "1",
        "driver_id_number": body()["driver"]["id_number"],
        "driver_licence_number": body()["driver"]["licence_number"],
        "action": "submit",
    }
    saved = clerk.form(f"/enterprise/applications/{application_id}/edit", posted, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    again = stored(app, application_id)
    assert again.status == "submitted" and again.due_on is not None and again.due_on > date(2020, 1, 1)
    with Session(app.state.engine) as session:
        moves = session.exec(
            select(ApplicationEvent.from_status, ApplicationEvent.to_status)
            .where(ApplicationEvent.application_id == application_id)
            .order_by(col(ApplicationEvent.id))
        ).all()
    assert [tuple(m) for m in moves][-3:] == [
        ("submitted", "returned"),
        ("returned", "returned"),
        ("returned", "submitted"),
    ]


def test_approval_asks_for_confirmation_and_offers_the_next(app, api, portal):
    clerk = api("clerk")
    first, second = apply(clerk, 1), apply(clerk, 2)
    back = "sort=oldest&claim=free"
    path = f"/review/applications/{first}"
    reviewer = signed_in(portal, "reviewer", path)
    asked = reviewer.form(f"{path}/approve", {"back": back})
    assert asked.status_code == 422 and 'name="confirm" value="yes"' in asked.text
    assert stored(app, first).status == "submitted"
    done = reviewer.form(f"{path}/approve", {"back": back, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303 and stored(app, first).status == "issued"
    page = reviewer.get(done.headers["location"]).text
    assert 'id="next-application"' in page
    following = reviewer.get(f"/review/next?after={first}&back=claim%3Dfree", follow_redirects=False)
    assert following.headers["location"].startswith(f"/review/applications/{second}?")
    done = reviewer.form(f"/review/applications/{second}/approve", {"confirm": "yes"}, follow_redirects=False)
    none_left = reviewer.get(f"/review/next?after={second}", follow_redirects=False)
    assert none_left.headers["location"].startswith("/review/queue")


def test_bulk_approval_approves_only_low_risk_after_one_confirmation(app, api, portal):
    clerk = api("clerk")
    plain, other, risky = apply(clerk, 1), apply(clerk, 2), apply(clerk, 3)
    set_columns(app, risky, risk=2)
    reviewer = signed_in(portal, "reviewer", "/review/queue")
    queue = reviewer.get("/review/queue").text
    assert f'name="ids" value="{plain}"' in queue and f'name="ids" value="{risky}"' not in queue
    plan = reviewer.form("/review/bulk", {"ids": [plain, other, risky]})
    assert plan.status_code == 200 and "确认批量批准" in plan.text and "有风险提示" in plan.text
    assert {stored(app, i).status for i in (plain, other, risky)} == {"submitted"}
    done = reviewer.form("/review/bulk", {"ids": [plain, other, risky], "confirm": "yes"})
    assert done.status_code == 200 and "已批准 2 份，未批准 1 份" in done.text
    assert [stored(app, i).status for i in (plain, other, risky)] == ["issued", "issued", "submitted"]
    auditor = signed_in(portal, "auditor", "/review/queue")
    assert auditor.form("/review/bulk", {"ids": [risky], "confirm": "yes"}).status_code in (200, 403)
    assert stored(app, risky).status == "submitted"


def test_desk_pages_in_english(app, api, portal):
    application_id = apply(api("clerk"), 1)
    reviewer = portal("reviewer")
    queue = reviewer.get("/review/queue?lang=en").text
    untranslated = re.compile(r"(?:desk|apps)\.[a-z_]+\.[a-z_]+")  # a key shown as itself
    assert "Answer by" in queue and "Oldest first" in queue and not untranslated.findall(queue)
    page = reviewer.get(f"/review/applications/{application_id}").text
    assert "Return for correction" in page and "Internal notes" in page and not untranslated.findall(page)
    zh = portal("reviewer").get(f"/review/applications/{application_id}?lang=zh").text
    assert "退回补正" in zh and "内部备注" in zh and not untranslated.findall(zh)


def test_retention_takes_the_names_out_of_the_queues_search(app, api, portal):
    from server.retention.issued import purge_applications

    application_id = apply(api("clerk"), 1, driver="欧阳娜娜")
    api("reviewer").post(f"/api/v1/applications/{application_id}/reject", json={"reason": "不符合要求"})
    assert "欧阳娜娜" in stored(app, application_id).search_text
    with Session(app.state.engine) as session:
        later = datetime.now(UTC) + timedelta(days=1)
        assert purge_applications(session, later, later) == 1
    purged = stored(app, application_id)
    assert "欧阳娜娜" not in purged.search_text and "B0001" in purged.search_text
    assert listed(portal("reviewer").get("/review/queue?q=欧阳娜娜").text) == []
