"""The reviewer's desk in a real browser, in Chinese and English (issue 13): a claimed application is hidden from
another reviewer's "mine"; the deadline on the holiday calendar with overdue marking; return for correction, edited
and resubmitted by the enterprise; bulk approval with its confirmation; approval confirmed in a dialog; the next
application."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from server import db
from server.applications.models import Application
from server.config import get_settings
from server.demo.seed import DEMO_PASSWORD
from server.workdays import deadline
from tests.e2e.conftest import BIN, screenshot
from tests.factories import DRIVER_ID

WORDS = {
    "zh": {
        "claim": "认领",
        "mine": "由我处理",
        "claimed_by": "demo-reviewer 正在处理",
        "overdue": "已超时",
        "fix_shown": "需要补正的内容",
        "returned": "退回补正",
        "bulk_done": "已批准 2 份",
        "next": "下一份申请",
    },
    "en": {
        "claim": "Claim",
        "mine": "Mine until",
        "claimed_by": "demo-reviewer is working on it until",
        "overdue": "Overdue",
        "fix_shown": "What to fix",
        "returned": "Returned for correction",
        "bulk_done": "2 approved",
        "next": "Next application",
    },
}


def plate() -> str:
    """A plate no other test (or demo pass) uses: one vehicle may hold only one pass at a time."""
    return "苏E" + "".join(secrets.choice("0123456789") for _ in range(5))


def api_client(base: str, username: str, password: str = DEMO_PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    token = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert token.status_code == 200, token.text
    client.headers["authorization"] = f"Bearer {token.json()['token']}"
    return client


def submitted(base: str) -> int:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    data = {
        "vehicle": {"plate": plate(), "plate_colour": "yellow"},
        "driver": {
            "name": "张伟",
            "id_number": DRIVER_ID,
            "licence_number": DRIVER_ID,
            "phone": "13800000000",
        },
        "escorts": [],
        "origin": "320583",
        "destination": "310000",
        "travel_history": ["320500"],
        "cargo": "精密零部件",
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=3)).isoformat(),
    }
    with contextlib.closing(api_client(base, "demo-enterprise")) as clerk:
        response = clerk.post("/api/v1/applications?submit=true", json=data)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


def sign_in(page, base: str, username: str, lang: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base}/login?lang={lang}")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("button.primary")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture(scope="module")
def second_reviewer(server) -> tuple[str, str]:
    username, password = "desk-reviewer-2", "second-reviewer-pass-1"
    subprocess.run(
        [str(BIN / "checkpass"), "user", "create", username, "--role", "reviewer", "--password-stdin"],
        input=password,
        text=True,
        env=server["env"],
        cwd=server["home"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return username, password


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_claim_is_hidden_from_another_reviewers_mine(server, new_page, second_reviewer, lang):
    base, words = server["url"], WORDS[lang]
    application_id = submitted(base)
    first = new_page(lang)
    sign_in(first, base, "demo-reviewer", lang)
    first.goto(f"{base}/review/applications/{application_id}")
    first.click(f"form[action='/review/applications/{application_id}/claim'] button")
    first.wait_for_url("**notice=claimed**")
    assert words["mine"] in first.inner_text("#claim-state")
    first.goto(f"{base}/review/queue?claim=mine")
    assert first.locator(f"tr[data-id='{application_id}']").count() == 1

    other = new_page(lang)
    sign_in(other, base, second_reviewer[0], lang, second_reviewer[1])
    other.goto(f"{base}/review/queue?claim=mine")
    assert other.locator(f"tr[data-id='{application_id}']").count() == 0
    other.goto(f"{base}/review/queue?q=%23{application_id}")
    assert "demo-reviewer" in other.inner_text(f"tr[data-id='{application_id}']")
    other.goto(f"{base}/review/applications/{application_id}")
    assert words["claimed_by"] in other.inner_text("#claim-state")
    assert other.locator(f"form[action='/review/applications/{application_id}/claim']").count() == 0
    screenshot(other, f"review-desk-claimed-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_deadline_counts_working_days_over_a_holiday(server, new_page, lang):
    base, words = server["url"], WORDS[lang]
    application_id = submitted(base)
    # Received on Tuesday 29 September 2026 at noon in Suzhou: the National Day holiday follows, so the answer is due
    # on Friday 9 October (Monday to Friday alone would say 2 October); long past by now, so it is overdue.
    received = datetime(2026, 9, 29, 4, 0, tzinfo=UTC)
    due = deadline(received, 3)
    assert due == date(2026, 10, 9)
    engine = db.make_engine(get_settings(home=server["home"]))
    with engine.begin() as connection:
        connection.execute(
            update(Application)
            .where(Application.id == application_id)
            .values(submitted_at=received, due_on=due)
        )
    engine.dispose()
    reviewer = new_page(lang)
    sign_in(reviewer, base, "demo-reviewer", lang)
    reviewer.goto(f"{base}/review/applications/{application_id}")
    shown = reviewer.inner_text("#due-on")
    assert "2026-10-09" in shown and words["overdue"] in shown
    reviewer.goto(f"{base}/review/queue?overdue=1&q=%23{application_id}")
    row = reviewer.inner_text(f"tr[data-id='{application_id}']")
    assert "2026-10-09" in row and words["overdue"] in row
    clerk = new_page(lang)
    sign_in(clerk, base, "demo-enterprise", lang)
    clerk.goto(f"{base}/enterprise/applications")
    assert "2026-10-09" in clerk.content()
    screenshot(reviewer, f"review-desk-deadline-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_return_for_correction_edit_and_resubmit(server, new_page, lang):
    base, words = server["url"], WORDS[lang]
    application_id = submitted(base)
    reviewer = new_page(lang)
    sign_in(reviewer, base, "demo-reviewer", lang)
    reviewer.goto(f"{base}/review/applications/{application_id}")
    reviewer.fill("#f-fix", "请补充押运员信息")
    reviewer.click(f"form[action='/review/applications/{application_id}/return'] button")
    reviewer.wait_for_url("**notice=returned**")
    assert words["returned"] in reviewer.content()

    clerk = new_page(lang)
    sign_in(clerk, base, "demo-enterprise", lang)
    clerk.goto(f"{base}/enterprise/applications/{application_id}")
    assert "请补充押运员信息" in clerk.inner_text("#returned-fix") and words["fix_shown"] in clerk.content()
    screenshot(clerk, f"review-desk-returned-{lang}")
    clerk.click(f"a[href='/enterprise/applications/{application_id}/edit']")
    clerk.wait_for_url("**/edit")
    clerk.fill("#f-cargo", "精密零部件（已补正）")
    clerk.click("button[name=action][value=submit]")
    clerk.wait_for_url(f"**/enterprise/applications/{application_id}?notice=submitted")
    reviewer.goto(f"{base}/review/applications/{application_id}")
    assert "精密零部件（已补正）" in reviewer.content()
    assert reviewer.locator(f"form[action='/review/applications/{application_id}/approve']").count() == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bulk_approval_then_a_confirmed_approval_and_the_next(server, new_page, lang):
    base, words = server["url"], WORDS[lang]
    first, second = submitted(base), submitted(base)
    reviewer = new_page(lang)
    sign_in(reviewer, base, "demo-reviewer", lang)
    reviewer.goto(f"{base}/review/queue?sort=oldest&enterprise=91320583MA1XY71231&status=submitted")
    for application_id in (first, second):
        reviewer.check(f"input[name=ids][value='{application_id}']")
    reviewer.click("#bulk-approve")
    reviewer.wait_for_url("**/review/bulk")
    assert reviewer.locator("#bulk-ready li").count() == 2
    screenshot(reviewer, f"review-desk-bulk-confirm-{lang}")
    reviewer.click("#bulk-confirm")
    reviewer.wait_for_load_state()
    assert words["bulk_done"] in reviewer.content()
    assert reviewer.locator("#bulk-approved li").count() == 2

    # A single approval asks in a dialog; cancelling leaves the application waiting.
    third, fourth = submitted(base), submitted(base)
    reviewer.goto(f"{base}/review/queue?sort=oldest&enterprise=91320583MA1XY71231&status=submitted")
    reviewer.click(f"a[href^='/review/applications/{third}']")
    reviewer.click(f"form[action='/review/applications/{third}/approve'] button.primary")
    dialog = reviewer.locator("dialog.desk-confirm")
    assert dialog.is_visible()
    dialog.locator("button:not(.primary)").click()
    # The dialog leaves on its close event, a moment after the click: wait for it rather than count at once.
    expect(reviewer.locator("dialog.desk-confirm")).to_have_count(0)
    assert "approve" not in reviewer.url
    reviewer.click(f"form[action='/review/applications/{third}/approve'] button.primary")
    screenshot(reviewer, f"review-desk-approve-dialog-{lang}")
    reviewer.locator("dialog.desk-confirm button.primary").click()
    reviewer.wait_for_url("**notice=issued**")
    assert words["next"] in reviewer.inner_text("#next-application")
    with reviewer.expect_navigation():
        reviewer.click("#next-application")
    # The next one still waiting in the queue's order (oldest first: the demo's own, or the fourth).
    assert "/review/applications/" in reviewer.url and f"/review/applications/{third}?" not in reviewer.url, (
        reviewer.url
    )
    assert reviewer.locator("form[action$='/approve']").count() == 1
    assert fourth
