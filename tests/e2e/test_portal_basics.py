"""The portal's first pages in a real browser, in both languages."""

from __future__ import annotations

from server.demo.seed import DEMO_PASSWORD
from tests.e2e.conftest import screenshot


def sign_in(page, base: str, username: str, lang: str = "zh") -> None:
    page.goto(f"{base}/login?lang={lang}")
    page.fill("#f-username", username)
    page.fill("#f-password", DEMO_PASSWORD)
    page.click("button.primary")


def test_login_page_renders_chinese_and_english(server, new_page):
    page = new_page()
    page.goto(f"{server['url']}/login")
    assert page.locator("h1").inner_text() == "登录"
    screenshot(page, "login-zh")
    page.click("text=English")
    assert page.locator("h1").inner_text() == "Sign in"
    screenshot(page, "login-en")


def test_wrong_password_shows_a_generic_message(server, new_page):
    page = new_page()
    page.goto(f"{server['url']}/login")
    page.fill("#f-username", "demo-admin")
    page.fill("#f-password", "wrong password")
    page.click("button.primary")
    assert page.locator(".alert").inner_text() == "用户名或密码错误。"


def test_registration_shows_errors_next_to_the_fields(server, new_page):
    page = new_page(phone=True)
    page.goto(f"{server['url']}/register")
    page.fill("#f-name", "昆山测试有限公司")
    page.fill("#f-uscc", "91320583MA1MQ3K8DD")  # wrong check character
    page.fill("#f-region", "320583")
    page.fill("#f-contact", "周敏")
    page.fill("#f-phone", "0512-5550")
    page.fill("#f-username", "e2e-newco")
    page.fill("#f-password", "long-enough-pw")
    page.click("button.primary")
    assert page.locator("#e-uscc").is_visible()
    screenshot(page, "register-error-phone-zh")


def test_demo_accounts_sign_in_and_land_on_their_role_page(server, new_page):
    for username, landing in (
        ("demo-admin", "/admin/enterprises"),
        ("demo-reviewer", "/review/queue"),
        ("demo-enterprise", "/enterprise/applications"),
    ):
        page = new_page()
        sign_in(page, server["url"], username)
        page.wait_for_url(f"**{landing}")
