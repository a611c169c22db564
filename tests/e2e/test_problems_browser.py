"""Problems and appeals in a real browser, in both languages: the enterprise raises a problem, the bureau passes it
on the same day, the department answers and the enterprise reads the answer on its timeline; a problem passed on
long ago shows as overdue (its 6th working day is behind us); the public checkpoint page needs no sign-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from server import db, workdays
from server.accounts.models import User
from server.config import get_settings
from server.departments.models import Department
from server.problems import service as problems
from tests.e2e.conftest import screenshot
from tests.e2e.test_portal_basics import sign_in

WORDS = {
    "zh": {
        "forwarded": "已转交",
        "answered": "已答复",
        "overdue": "已超期",
        "green": "绿色通道",
        "open": "开放",
    },
    "en": {
        "forwarded": "Passed on",
        "answered": "Answered",
        "overdue": "Overdue",
        "green": "Green channel",
        "open": "Open",
    },
}


def sign_out(page) -> None:
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login**")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_appeal_is_forwarded_the_same_day_and_answered_by_the_department(server, new_page, lang):
    base, words = server["url"], WORDS[lang]
    page = new_page(lang)
    sign_in(page, base, "demo-enterprise", lang)
    page.goto(f"{base}/enterprise/problems")
    page.click("#problem-new")
    page.select_option("#f-kind", "refused")
    description = f"车辆被劝返，但通行证有效（{lang}）。"
    page.fill("#f-description", description)
    page.click("#problem-submit")
    page.wait_for_url("**/enterprise/problems/*?raised=1")
    number = page.url.split("/")[-1].split("?")[0]
    assert page.locator("[data-step='raised']").count() == 1
    screenshot(page, f"problem-raised-{lang}")
    sign_out(page)

    sign_in(page, base, "demo-reviewer", lang)
    page.goto(f"{base}/review/problems/{number}")
    page.select_option(
        "#f-department_id",
        label="市公安局交通警察支队" if lang == "zh" else "Public Security Bureau, Traffic Police",
    )
    page.fill("#f-note", "请核查卡口记录")
    page.click("#forward-submit")
    page.wait_for_url(f"**/review/problems/{number}")
    assert page.locator("#problem-status").inner_text() == words["forwarded"]
    assert page.locator("[data-step='forwarded'] .overdue").count() == 0  # passed on the same day: not late
    sign_out(page)

    sign_in(page, base, "demo-police", lang)
    page.goto(f"{base}/department/problems")
    page.click(f"tr[data-problem='{number}'] a")
    answer = "经核查系卡口误判，已通知卡口放行。"
    page.fill("#f-answer", answer)
    page.click("#answer-submit")
    page.wait_for_url(f"**/department/problems/{number}")
    assert page.locator("#problem-status").inner_text() == words["answered"]
    sign_out(page)

    sign_in(page, base, "demo-enterprise", lang)
    page.goto(f"{base}/enterprise/problems/{number}")
    assert page.locator("#problem-status").inner_text() == words["answered"]
    assert page.locator("[data-step='answered'] .answer").inner_text() == answer
    assert "请核查卡口记录" not in page.content()  # the bureau's note to the department is internal
    screenshot(page, f"problem-answered-{lang}")


def _forwarded_long_ago(server) -> tuple[int, datetime]:
    """A problem raised and passed on the same day, so long ago that its 6th working day has passed."""
    engine = db.make_engine(get_settings(home=server["home"]))
    forwarded = datetime.now(UTC) - timedelta(days=30)
    with db.session_scope(engine) as session:
        clerk = session.exec(select(User).where(User.username == "demo-enterprise")).one()
        reviewer = session.exec(select(User).where(User.username == "demo-reviewer")).one()
        police = session.exec(select(Department).where(Department.name_zh == "市公安局交通警察支队")).one()
        problem = problems.raise_problem(
            session=session, user=clerk, kind="held", description="车辆在卡口被扣留两小时。", now=forwarded
        )
        problems.forward(
            session=session, problem=problem, user=reviewer, department_id=police.id, note="", now=forwarded
        )
        number = problem.id
    engine.dispose()
    assert number is not None
    return number, forwarded


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_forwarded_problem_shows_overdue_after_its_fifth_working_day(server, new_page, lang):
    number, forwarded = _forwarded_long_ago(server)
    sixth = workdays.working_days_after(workdays.local_day(forwarded), 6)
    assert workdays.local_day(datetime.now(UTC)) >= sixth
    page = new_page(lang)
    sign_in(page, base := server["url"], "demo-police", lang)
    page.goto(f"{base}/department/problems?overdue=1")
    row = page.locator(f"tr[data-problem='{number}']")
    assert row.locator("[data-overdue]").inner_text() == WORDS[lang]["overdue"]
    page.goto(f"{base}/department/problems/{number}")
    assert page.locator("#problem-overdue").is_visible()
    sign_out(page)
    sign_in(page, base, "demo-enterprise", lang)
    page.goto(f"{base}/enterprise/problems/{number}")
    assert page.locator("#problem-overdue").inner_text() == WORDS[lang]["overdue"]
    screenshot(page, f"problem-overdue-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_public_checkpoint_page_needs_no_sign_in(server, new_page, lang):
    base = server["url"]
    admin = new_page(lang)
    sign_in(admin, base, "demo-admin", lang)
    admin.goto(f"{base}/admin/checkpoints")
    admin.locator("table a[href^='/admin/checkpoints/']").first.click()
    admin.select_option("#f-traffic", "green")
    admin.fill("#f-traffic_note", "防疫物资优先通行")
    admin.click("#traffic-form button")
    admin.wait_for_selector("#traffic .traffic-green")

    page = new_page(lang)  # nobody signed in
    page.goto(f"{base}/checkpoints/status?lang={lang}")
    assert page.locator("#checkpoint-status tbody tr").count() >= 1
    assert (
        page.locator("tr[data-state='green']").first.locator(".status").inner_text() == WORDS[lang]["green"]
    )
    assert "防疫物资优先通行" in page.locator("#checkpoint-status").inner_text()
    assert page.locator("#hotline a").inner_text() == "0512-68125723"
    assert page.locator("form[action='/logout']").count() == 0
    screenshot(page, f"checkpoint-status-{lang}")
