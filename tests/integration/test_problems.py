"""Problems and appeals end to end through the portal, on both databases: who sees what, forwarding the same day,
the department's answer on the enterprise's timeline, overdue on the 6th working day after forwarding; the duty
view; the department pages."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from server import db
from server.accounts.models import User
from server.alerts import service as alerts
from server.alerts.models import Alert
from server.checkpoints.models import Checkpoint, Device
from server.crossings.models import Crossing
from server.departments import service as departments
from server.notices.models import Notice
from server.problems import service as problems
from server.problems.models import Problem
from tests.integration.conftest import DEMO_USCC, OTHER_USCC, PASSWORD

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=SHANGHAI).astimezone(UTC)


def crossing(app, uscc: str, *, outcome: str = "REFUSE", minutes_ago: int = 30) -> str:
    """A crossing of the enterprise's vehicle at a fresh checkpoint (refused by default)."""
    now = datetime.now(UTC)
    with db.session_scope(app.state.engine) as session:
        checkpoint = Checkpoint(name=f"G312 卡口 {uuid.uuid4().hex[:4]}", region="320583", created_at=now)
        session.add(checkpoint)
        session.flush()
        device = Device(id=uuid.uuid4().hex, checkpoint_id=checkpoint.id, enrolled_at=now)
        session.add(device)
        session.flush()
        crossing_id = str(uuid.uuid4())
        session.add(
            Crossing(
                id=crossing_id,
                device_id=device.id,
                checkpoint_id=checkpoint.id,
                seq=1,
                prev_hash="0" * 64,
                record_hash="1" * 64,
                decided_at=now - timedelta(minutes=minutes_ago),
                received_at=now,
                outcome=outcome,
                plate="苏EA1234",
                enterprise_uscc=uscc,
                policy_version=1,
                bundle_version=1,
                body_json="{}",
            )
        )
    return crossing_id


def department(app, name: str, staff: str) -> int:
    now = datetime.now(UTC)
    with db.session_scope(app.state.engine) as session:
        made = departments.create(session=session, name_zh=name, name_en="", phone="0512-1", now=now)
        departments.add_staff(
            session=session, department=made, username=staff, password=PASSWORD, display_name="", now=now
        )
        assert made.id is not None
        return made.id


def raise_as_clerk(portal, crossing_id: str = "", text: str = "车辆持有效通行证却被劝返，请核查。") -> int:
    clerk = portal("clerk")
    response = clerk.form(
        "/enterprise/problems/new",
        {"kind": "refused", "crossing_id": crossing_id, "pass_id": "", "description": text},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].split("/")[-1].split("?")[0])


def test_an_enterprise_sees_only_its_own_problems(app, portal):
    own = crossing(app, DEMO_USCC)
    theirs = crossing(app, OTHER_USCC)
    number = raise_as_clerk(portal, own)
    clerk, rival = portal("clerk"), portal("rival")
    page = clerk.get(f"/enterprise/problems/{number}")
    assert page.status_code == 200 and "苏E·A1234" in page.text and 'data-step="raised"' in page.text
    assert rival.get(f"/enterprise/problems/{number}").status_code == 404
    assert f'data-problem="{number}"' not in rival.get("/enterprise/problems").text
    assert f'data-problem="{number}"' in clerk.get("/enterprise/problems").text
    # Another enterprise's crossing cannot be named: the form comes back with the field marked, nothing stored.
    refused = clerk.form(
        "/enterprise/problems/new",
        {"kind": "refused", "crossing_id": theirs, "description": "不是我们的车辆但想试试。"},
    )
    assert refused.status_code == 422 and 'id="f-crossing_id"' in refused.text
    with db.session_scope(app.state.engine) as session:
        assert len(session.exec(select(Problem)).all()) == 1
        notices = session.exec(select(Notice).where(Notice.kind == "problem.raised")).all()
        assert {session.get(User, n.user_id).role for n in notices} == {"reviewer", "admin"}


def test_a_problem_forwarded_the_same_day_is_answered_by_the_department(app, portal):
    police = department(app, "市公安局交警支队", "police1")
    department(app, "市卫生健康委员会", "health1")
    number = raise_as_clerk(portal, crossing(app, DEMO_USCC))
    reviewer = portal("reviewer")
    assert reviewer.get(f"/review/problems/{number}").status_code == 200
    forwarded = reviewer.form(
        f"/review/problems/{number}/forward", {"department_id": str(police), "note": "请核查卡口记录"}
    )
    assert forwarded.status_code == 200, forwarded.text
    with db.session_scope(app.state.engine) as session:
        problem = session.get(Problem, number)
        assert problem.status == "forwarded" and problem.forwarded_late is False
        assert problem.due_on > problem.received_at.date()
    # Only the department it was passed to sees it; the bureau may no longer answer in its place.
    police_page, health_page = portal("police1"), portal("health1")
    assert f'data-problem="{number}"' in police_page.get("/department/problems").text
    assert health_page.get(f"/department/problems/{number}").status_code == 404
    assert f'data-problem="{number}"' not in health_page.get("/department/problems").text
    assert reviewer.form(f"/review/problems/{number}/answer", {"answer": "已处理"}).status_code == 409
    answered = police_page.form(
        f"/department/problems/{number}/answer", {"answer": "经核查系误判，已通知卡口。"}
    )
    assert answered.status_code == 200, answered.text
    mine = portal("clerk").get(f"/enterprise/problems/{number}").text
    assert "经核查系误判，已通知卡口。" in mine and "市公安局交警支队" in mine
    assert 'data-step="forwarded"' in mine and 'data-step="answered"' in mine
    assert "请核查卡口记录" not in mine  # the bureau's note to the department stays internal
    # Answered once: a second answer is refused.
    assert police_page.form(f"/department/problems/{number}/answer", {"answer": "再次"}).status_code == 409


def test_an_enterprise_and_a_department_user_cannot_act_for_the_bureau(app, portal):
    police = department(app, "市公安局", "police2")
    number = raise_as_clerk(portal)
    clerk = portal("clerk")
    assert clerk.form(f"/review/problems/{number}/forward", {"department_id": str(police)}).status_code == 403
    assert clerk.form(f"/department/problems/{number}/answer", {"answer": "自己答复"}).status_code == 403
    # Not passed to the police: they see nothing of it.
    assert portal("police2").get(f"/review/problems/{number}").status_code == 403
    assert portal("police2").get(f"/department/problems/{number}").status_code == 404
    # An auditor reads problems but does not pass them on.
    auditor = portal("auditor")
    assert auditor.get(f"/review/problems/{number}").status_code == 200
    assert (
        auditor.form(f"/review/problems/{number}/forward", {"department_id": str(police)}).status_code == 403
    )


def _raised_at(app, moment: datetime) -> Problem:
    with db.session_scope(app.state.engine) as session:
        clerk = session.exec(select(User).where(User.username == "clerk")).one()
        problem = problems.raise_problem(
            session=session, user=clerk, kind="other", description="通行证扫码未识别。", now=moment
        )
        session.expunge(problem)
        return problem


def test_forwarding_after_the_day_of_receipt_is_marked_late(app):
    police = department(app, "市公安局", "police3")
    problem = _raised_at(app, local("2026-03-02", 16))
    with db.session_scope(app.state.engine) as session:
        reviewer = session.exec(select(User).where(User.username == "reviewer")).one()
        row = session.get(Problem, problem.id)
        problems.forward(
            session=session,
            problem=row,
            user=reviewer,
            department_id=police,
            note="",
            now=local("2026-03-03", 9),
        )
        assert row.forwarded_late is True
        assert row.due_on.isoformat() == "2026-03-10"  # 5 working days from the forwarding


def test_a_forwarded_problem_is_overdue_on_the_sixth_working_day(app, portal):
    police = department(app, "市公安局", "police4")
    problem = _raised_at(app, local("2026-03-02", 9))
    with db.session_scope(app.state.engine) as session:
        reviewer = session.exec(select(User).where(User.username == "reviewer")).one()
        row = session.get(Problem, problem.id)
        problems.forward(
            session=session,
            problem=row,
            user=reviewer,
            department_id=police,
            note="",
            now=local("2026-03-02", 15),
        )
        assert row.forwarded_late is False and row.due_on.isoformat() == "2026-03-09"
        staff = session.exec(select(User).where(User.username == "police4")).one()
        fifth, sixth = local("2026-03-09", 18), local("2026-03-10", 9)
        assert problems.list_for(session, staff, overdue_only=True, now=fifth) == []
        assert [p.id for p in problems.list_for(session, staff, overdue_only=True, now=sixth)] == [problem.id]
        assert [p.id for p in problems.list_for(session, reviewer, overdue_only=True, now=sixth)] == [
            problem.id
        ]
    # Today is long after 2026-03-09: the pages mark it overdue.
    page = portal("police4").get(f"/department/problems/{problem.id}")
    assert 'id="problem-overdue"' in page.text


def test_an_unanswered_problem_past_its_deadline_raises_one_alert_per_deadline(app, portal):
    police = department(app, "市公安局", "police5")
    problem = _raised_at(app, local("2026-03-02", 9))  # due 2026-03-05 (3 working days)
    limits = alerts.Limits.of(app.state.settings)

    def overdue_alerts(session) -> list[Alert]:
        return list(session.exec(select(Alert).where(Alert.kind == "problem_overdue")))

    with db.session_scope(app.state.engine) as session:
        alerts.sweep(session=session, now=local("2026-03-05", 23), limits=limits)
        assert overdue_alerts(session) == []  # the deadline's own day
        alerts.sweep(session=session, now=local("2026-03-06", 9), limits=limits)
        alerts.sweep(session=session, now=local("2026-03-06", 10), limits=limits)  # raised once, not twice
        [first] = overdue_alerts(session)
        assert json.loads(first.detail) == {"problem": problem.id, "due_on": "2026-03-05", "department": None}
        reviewer = session.exec(select(User).where(User.username == "reviewer")).one()
        row = session.get(Problem, problem.id)
        problems.forward(
            session=session,
            problem=row,
            user=reviewer,
            department_id=police,
            note="",
            now=local("2026-03-06", 11),
        )  # late, and a new deadline: 2026-03-13
        alerts.sweep(session=session, now=local("2026-03-13", 20), limits=limits)
        assert len(overdue_alerts(session)) == 1
        alerts.sweep(session=session, now=local("2026-03-16", 9), limits=limits)
        assert sorted(json.loads(a.detail)["due_on"] for a in overdue_alerts(session)) == [
            "2026-03-05",
            "2026-03-13",
        ]
        alert_id = overdue_alerts(session)[-1].id
    page = portal("auditor").get(f"/audit/alerts/{alert_id}")
    assert page.status_code == 200
    assert f'href="/review/problems/{problem.id}"' in page.text
    # Answered: nothing more is raised, however late.
    with db.session_scope(app.state.engine) as session:
        staff = session.exec(select(User).where(User.username == "police5")).one()
        problems.answer(
            session=session,
            problem=session.get(Problem, problem.id),
            user=staff,
            text="已核查，系误判。",
            now=local("2026-03-17", 9),
        )
        alerts.sweep(session=session, now=local("2026-04-01", 9), limits=limits)
        assert len(overdue_alerts(session)) == 2


def test_the_duty_view_lists_waiting_problems_and_vehicles_stopped(app, portal):
    crossing(app, DEMO_USCC, outcome="MEDICAL_HOLD", minutes_ago=20)
    crossing(app, DEMO_USCC, outcome="REFUSE", minutes_ago=60 * 8)  # before the duty view's hours
    number = raise_as_clerk(portal)
    reviewer = portal("reviewer")
    page = reviewer.get("/review/duty")
    assert page.status_code == 200 and 'data-live-url="/review/duty?partial=1"' in page.text
    fragment = reviewer.get("/review/duty?partial=1")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert f'data-problem="{number}"' in fragment.text
    assert fragment.text.count("苏E·A1234") == 1  # the hold of 20 minutes ago, not the refusal of 8 hours ago
    assert fragment.headers["cache-control"] == "no-store"
    assert portal("clerk").get("/review/duty").status_code == 403


def test_an_admin_configures_departments_and_their_staff(app, portal):
    admin = portal("admin")
    created = admin.form(
        "/admin/departments",
        {"name_zh": "市工业和信息化局", "name_en": "Bureau of Industry", "phone": "0512-2"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    path = created.headers["location"]
    assert admin.form(f"{path}/staff", {"username": "industry1", "password": "x"}).status_code == 422
    assert admin.form(f"{path}/staff", {"username": "industry1", "password": PASSWORD}).status_code == 200
    assert "industry1" in admin.get(path).text
    assert admin.form("/admin/departments", {"name_zh": "市工业和信息化局"}).status_code == 409
    signed_in = portal("industry1")
    assert signed_in.get("/", follow_redirects=False).headers["location"] == "/department/problems"
    assert portal("reviewer").get("/admin/departments").status_code == 403


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_problem_pages_have_every_word_in_both_languages(app, portal, lang):
    number = raise_as_clerk(portal)
    for who, path in (
        ("clerk", "/enterprise/problems"),
        ("clerk", "/enterprise/problems/new"),
        ("clerk", f"/enterprise/problems/{number}"),
        ("reviewer", f"/review/problems/{number}"),
        ("reviewer", "/review/duty"),
        ("admin", "/admin/departments"),
    ):
        text = portal(who).get(f"{path}?lang={lang}").text
        for prefix in ("problems.", "duty.", "departments.", "invalid."):
            assert f">{prefix}" not in text and f" {prefix}" not in text, (path, prefix)
