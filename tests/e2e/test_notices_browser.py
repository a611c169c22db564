"""Notices in a real browser, both languages (issue 13): e-mails a real SMTP server receives after a submission and
a decision, sent by `checkpass serve`'s own sender thread; the notification list with its unread count, updating
by itself; a webhook set on the settings page, received and its signature verified; the forgot-password flow end to
end through the SMTP server (last: it changes the clerks' passwords)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from server.demo.seed import DEMO_PASSWORD
from server.notices import webhooks
from tests import logscan
from tests.e2e.conftest import BIN, _free_port, screenshot
from tests.integration.test_applications import body
from tests.notice_servers import Mailbox, smtp_server, webhook_server

# Each language has its own enterprise (and plate), so the two runs do not meet in one module's server.
CASES = {
    "zh": {"clerk": "demo-enterprise", "plate": "苏E·D5501", "hook_plate": "苏E·D5511"},
    "en": {"clerk": "demo-enterprise-wuhan", "plate": "苏E·D5502", "hook_plate": "苏E·D5512"},
}
NEW_PASSWORD = {"zh": "新密码-足够长的一句话-1", "en": "a-brand-new-long-password-2"}


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture(scope="module")
def notices_server(tmp_path_factory, mailbox) -> Iterator[dict]:
    """A server of its own on demo data, with an SMTP server and a quick sender. Not the shared `server`
    fixture's home: that server's own sender (no SMTP configured) would take the e-mails and fail them."""
    home = tmp_path_factory.mktemp("notices")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "CHECKPOINT_"))}
    env |= {"CHECKPASS_HOME": str(home), "CHECKPOINT_HOME": str(home)}
    subprocess.run(
        [str(BIN / "checkpass"), "demo", "--no-video", "--out", str(home / "demo-out")],
        env=env,
        cwd=home,
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env |= {
        "CHECKPASS_SMTP_HOST": "127.0.0.1",
        "CHECKPASS_SMTP_PORT": str(mailbox.port),
        "CHECKPASS_NOTICES_INTERVAL_SECONDS": "1",
        "CHECKPASS_PUBLIC_URL": base,
        "CHECKPASS_AUDIT_SCHEDULE": "false",
        "CHECKPASS_WEBHOOK_ALLOW_PRIVATE": "true",  # the test's receiver listens on loopback
    }
    # The server's log lines, scanned for personal data when the session ends (tests/logscan.py).
    with open(logscan.track(home / "server.log"), "ab") as log:
        process = subprocess.Popen(
            [str(BIN / "checkpass"), "serve", "--port", str(port)],
            env=env,
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    for _ in range(150):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("the notices server did not start")
    yield {"url": base}
    process.terminate()
    process.wait(timeout=10)


def sign_in(page, base: str, username: str, lang: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base}/login?lang={lang}")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    page.click("button.primary")
    page.wait_for_load_state()


def save_email(page, base: str, address: str) -> None:
    page.goto(f"{base}/account")
    page.fill("#f-email", address)
    page.click("#account-email button")
    page.wait_for_url("**/account?done=email")


def token(base: str, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    answer = httpx.post(f"{base}/api/v1/auth/token", json={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"authorization": f"Bearer {answer.json()['token']}"}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_submission_and_decision_emails_and_the_live_notification_list(
    notices_server, new_page, mailbox, lang
):
    base, case = notices_server["url"], CASES[lang]
    reviewer_address, clerk_address = f"reviewer-{lang}@example.com", f"clerk-{lang}@example.com"
    reviewer = new_page(lang)
    sign_in(reviewer, base, "demo-reviewer", lang)
    save_email(reviewer, base, reviewer_address)
    clerk = new_page(lang)
    sign_in(clerk, base, case["clerk"], lang)
    save_email(clerk, base, clerk_address)

    # The enterprise submits (through the API: the form has its own browser tests); the reviewer gets an e-mail.
    data = body(vehicle={"plate": case["plate"], "plate_colour": "yellow"})
    submitted = httpx.post(
        f"{base}/api/v1/applications?submit=true", json=data, headers=token(base, case["clerk"])
    )
    assert submitted.status_code == 201, submitted.text
    application_id = submitted.json()["id"]
    [mail] = [
        m for m in mailbox.wait_for(reviewer_address, count=1) if f"#{application_id}" in str(m["Subject"])
    ]
    expected = "新的通行证申请" if lang == "zh" else "New pass application"
    assert str(mail["Subject"]).startswith(f"{expected} #{application_id}")
    assert f"{base}/review/applications/{application_id}" in mail.get_content()

    # The clerk's notification list is open when the reviewer decides: it updates by itself.
    clerk.goto(f"{base}/notices")
    assert clerk.locator("#notice-list").count() == 1
    reason = "货物证明不全" if lang == "zh" else "cargo papers missing"
    rejected = httpx.post(
        f"{base}/api/v1/applications/{application_id}/reject",
        json={"reason": reason},
        headers=token(base, "demo-reviewer"),
    )
    assert rejected.status_code == 200, rejected.text
    clerk.locator("#notice-list .notice-item.unread", has_text=reason).wait_for(timeout=45_000)
    screenshot(clerk, f"notices-list-{lang}")
    decision = [m for m in mailbox.wait_for(clerk_address, count=1) if reason in m.get_content()]
    assert decision, [str(m["Subject"]) for m in mailbox.to(clerk_address)]
    word = "未获批准" if lang == "zh" else "rejected"
    assert word in str(decision[0]["Subject"])
    # The header's unread count, then marking read.
    clerk.goto(f"{base}/notices")
    assert clerk.locator("a.notices-link .badge").count() == 1
    with clerk.expect_navigation():  # the form posts and comes back to /notices: the URL alone says nothing
        clerk.locator("form[action='/notices/read'] button").first.click()
    expect(clerk.locator("a.notices-link .badge")).to_have_count(0)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_webhook_set_on_the_settings_page_is_received_and_verified(notices_server, new_page, lang):
    base, case = notices_server["url"], CASES[lang]
    with webhook_server() as hook:
        clerk = new_page(lang)
        sign_in(clerk, base, case["clerk"], lang)
        clerk.goto(f"{base}/enterprise/notices")
        clerk.fill("#f-webhook_url", hook.url)
        clerk.click("form[action='/enterprise/notices'] button.primary")
        secret = clerk.locator("#webhook-secret").inner_text().strip()
        assert secret.startswith("whsec_")
        screenshot(clerk, f"notice-settings-secret-{lang}")
        clerk.goto(f"{base}/enterprise/notices")
        assert clerk.locator("#webhook-secret").count() == 0  # shown once
        data = body(vehicle={"plate": case["hook_plate"], "plate_colour": "yellow"})
        submitted = httpx.post(
            f"{base}/api/v1/applications?submit=true", json=data, headers=token(base, case["clerk"])
        )
        assert submitted.status_code == 201, submitted.text
        application_id = submitted.json()["id"]
        rejected = httpx.post(
            f"{base}/api/v1/applications/{application_id}/reject",
            json={"reason": "webhook test"},
            headers=token(base, "demo-reviewer"),
        )
        assert rejected.status_code == 200, rejected.text
        for _ in range(
            300
        ):  # the sender thread's next round delivers it (every second here); not a speed check
            if hook.calls:
                break
            time.sleep(0.1)
        [(headers, raw)] = hook.calls
        assert webhooks.verify(secret, headers["x-checkpass-signature"], raw, now=hook.received_at[-1])
        assert headers["x-checkpass-event"] == "application.rejected"
        # The enterprise sees the delivery on its settings page.
        clerk.goto(f"{base}/enterprise/notices")
        assert clerk.locator(f"#delivery-{headers['x-checkpass-delivery']}").count() == 1
        # Clear the webhook for the other language's run (another enterprise, but the same server).
        clerk.fill("#f-webhook_url", "")
        clerk.click("form[action='/enterprise/notices'] button.primary")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_forgot_password_end_to_end_through_the_smtp_server(notices_server, new_page, mailbox, lang):
    base, username = notices_server["url"], CASES[lang]["clerk"]
    address = f"reset-{lang}@example.com"
    page = new_page(lang)
    sign_in(page, base, username, lang)
    save_email(page, base, address)

    anonymous = new_page(lang)
    anonymous.goto(f"{base}/login?lang={lang}")
    anonymous.click("#forgot-password")
    anonymous.fill("#f-identifier", username)
    anonymous.click("button.primary")
    anonymous.locator("#reset-sent").wait_for()
    screenshot(anonymous, f"forgot-password-sent-{lang}")
    [mail] = mailbox.wait_for(address, count=1)
    assert str(mail["Subject"]) == ("重设密码" if lang == "zh" else "Reset your password")
    link = re.search(r"(http://127\.0\.0\.1:\d+/password/reset\?token=[\w-]+)", mail.get_content()).group(1)
    anonymous.goto(link)
    anonymous.fill("#f-password", NEW_PASSWORD[lang])
    anonymous.click("button.primary")
    anonymous.wait_for_url("**/login?reset=1")
    assert anonymous.locator("#password-reset-done").is_visible()
    # The old session ended; the new password signs in; the link does not work twice.
    page.goto(f"{base}/account")
    assert "/login" in page.url
    sign_in(anonymous, base, username, lang, NEW_PASSWORD[lang])
    assert "/login" not in anonymous.url
    again = new_page(lang)
    again.goto(link)
    assert again.locator("#reset-invalid").is_visible()
