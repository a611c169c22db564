"""The enterprise's work in a real browser, in both languages (issue 13): withdraw, copy, delete a draft; a form
whose session ended keeps what was typed through signing in again; the driver's link opened with no sign-in, its
QR still shown offline, and refused once withdrawn."""

from __future__ import annotations

import contextlib
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from server.demo.seed import DEMO_PASSWORD
from tests.e2e.conftest import screenshot
from tests.factories import DRIVER_ID

WORDS = {
    "zh": {
        "withdraw": "撤回申请",
        "withdraw_confirm": "确认撤回",
        "withdrawn": "申请已撤回",
        "copy": "复制为新申请",
        "delete": "删除草稿",
        "delete_confirm": "确认删除",
        "deleted": "草稿已删除",
        "expired": "登录已过期",
        "make_link": "生成驾驶员链接",
        "valid": "有效",
        "offline": "离线",
        "link_revoked": "链接已失效",
        "withdraw_link": "收回",
    },
    "en": {
        "withdraw": "Withdraw the application",
        "withdraw_confirm": "Withdraw it",
        "withdrawn": "The application was withdrawn",
        "copy": "Copy as a new application",
        "delete": "Delete the draft",
        "delete_confirm": "Delete it",
        "deleted": "The draft was deleted",
        "expired": "Your session has expired",
        "make_link": "Make a driver link",
        "valid": "Valid",
        "offline": "Offline",
        "link_revoked": "Link withdrawn",
        "withdraw_link": "Withdraw",
    },
}


def plate() -> str:
    """A plate no other test (or demo pass) uses: one vehicle may hold only one pass at a time."""
    return "苏E" + "".join(secrets.choice("0123456789") for _ in range(5))


def api_client(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    token = client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert token.status_code == 200, token.text
    client.headers["authorization"] = f"Bearer {token.json()['token']}"
    return client


def body(start: datetime, days: int = 3) -> dict:
    return {
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
        "valid_until": (start + timedelta(days=days)).isoformat(),
    }


def application(base: str, *, submit: bool, start: datetime | None = None) -> int:
    with contextlib.closing(api_client(base, "demo-enterprise")) as clerk:
        data = body(start or datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1))
        response = clerk.post(f"/api/v1/applications?submit={'true' if submit else 'false'}", json=data)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


def issued_pass(base: str) -> str:
    """A pass valid now, issued to the demo enterprise."""
    application_id = application(
        base, submit=True, start=datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    )
    with contextlib.closing(api_client(base, "demo-reviewer")) as reviewer:
        assert reviewer.post(f"/api/v1/applications/{application_id}/approve").status_code == 200
        found = reviewer.get(f"/api/v1/applications/{application_id}").json()
    return str(found["pass_id"])


def sign_in(page, base: str, lang: str, next_path: str = "") -> None:
    page.goto(f"{base}/login?lang={lang}" + (f"&next={next_path}" if next_path else ""))
    page.fill("#f-username", "demo-enterprise")
    page.fill("#f-password", DEMO_PASSWORD)
    page.click("button.primary")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_withdraw_copy_and_delete_a_draft(server, new_page, lang):
    base, words = server["url"], WORDS[lang]
    waiting = application(base, submit=True)
    page = new_page(lang)
    sign_in(page, base, lang)
    page.goto(f"{base}/enterprise/applications/{waiting}")
    page.click(f"summary:has-text('{words['withdraw']}')")
    page.fill("#f-withdraw-reason", "车辆改派")
    page.click(f"button:has-text('{words['withdraw_confirm']}')")
    page.wait_for_url(f"**/enterprise/applications/{waiting}?notice=withdrawn")
    assert words["withdrawn"] in page.locator(".notice").inner_text()
    screenshot(page, f"withdrawn-{lang}")

    # The withdrawn application is copied into a new draft, opened for editing with its content.
    plate_shown = page.locator(".facts dd").first.inner_text()
    page.click(f"button:has-text('{words['copy']}')")
    page.wait_for_url("**/edit")
    copy_id = int(page.url.rsplit("/", 2)[-2])
    assert copy_id != waiting
    typed = page.input_value("#f-plate").replace("·", "")
    assert typed and typed[:2] in plate_shown
    assert page.input_value("#f-driver_id_number") == DRIVER_ID

    # The copy, a draft, is deleted.
    page.goto(f"{base}/enterprise/applications/{copy_id}")
    page.click(f"summary:has-text('{words['delete']}')")
    page.click(f"button:has-text('{words['delete_confirm']}')")
    page.wait_for_url("**/enterprise/applications?notice=deleted")
    assert words["deleted"] in page.locator(".notice").inner_text()
    assert page.goto(f"{base}/enterprise/applications/{copy_id}").status == 404


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_form_sent_after_the_session_ended_keeps_what_was_typed(server, new_page, lang):
    base, words = server["url"], WORDS[lang]
    page = new_page(lang)
    sign_in(page, base, lang)
    page.goto(f"{base}/enterprise/applications/new")
    typed_plate = plate()
    page.fill("#f-plate", typed_plate)
    page.fill("#f-driver_name", "王刚")
    page.fill("#f-driver_id_number", DRIVER_ID)
    page.fill("#f-driver_licence_number", DRIVER_ID)
    page.fill("#f-origin", "320583")
    page.fill("#f-destination", "310000")
    page.fill("#f-cargo", "钢材")
    # The server ends the session (as after its hours): the browser's cookie is one it no longer knows.
    page.context.add_cookies([{"name": "cp_session", "value": "ended-" + secrets.token_hex(8), "url": base}])
    page.click("button[name=action][value=draft]:not([hidden])")
    assert words["expired"] in page.locator("#session-expired h1").inner_text()
    screenshot(page, f"session-expired-{lang}")
    page.click("#session-expired a.button")
    page.wait_for_url("**/login?**expired=1**")
    assert page.locator("#session-expired-notice").is_visible()
    page.fill("#f-username", "demo-enterprise")
    page.fill("#f-password", DEMO_PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/enterprise/applications/new")
    assert page.locator("#draft-restored").is_visible()
    assert page.input_value("#f-plate") == typed_plate
    assert page.input_value("#f-driver_name") == "王刚"
    assert page.input_value("#f-driver_id_number") == DRIVER_ID
    assert page.input_value("#f-cargo") == "钢材"
    screenshot(page, f"draft-restored-{lang}")
    page.click("button[name=action][value=draft]:not([hidden])")
    page.wait_for_url("**/enterprise/applications/*?notice=saved")
    kept = page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('checkpass.draft.'))")
    assert kept == []
    # A new form starts empty again.
    page.goto(f"{base}/enterprise/applications/new")
    assert page.input_value("#f-plate") == "" and not page.locator("#draft-restored").count()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_driver_link_opens_with_no_sign_in_works_offline_and_is_refused_once_withdrawn(
    server, new_page, lang
):
    base, words = server["url"], WORDS[lang]
    pass_id = issued_pass(base)
    clerk = new_page(lang)
    sign_in(clerk, base, lang)
    clerk.goto(f"{base}/enterprise/passes/{pass_id}")
    clerk.click(f"button:has-text('{words['make_link']}')")
    link = clerk.input_value("#driver-link-url")
    assert "/d/" in link and clerk.locator("img.link-qr").is_visible()
    screenshot(clerk, f"driver-link-made-{lang}")

    phone = new_page(lang, phone=True)  # the driver's phone: no account, no cookie
    phone.goto(link + f"?lang={lang}")
    qr = phone.locator("#driver-qr img")
    assert qr.is_visible() and qr.get_attribute("src").startswith("data:image/png;base64,")
    assert words["valid"] in phone.locator("#driver-state").inner_text()
    expect(phone.locator("#driver-phone")).to_have_attribute("data-kept", "yes")  # kept for offline use
    # Offline, the loaded page keeps its QR and says it cannot confirm the state.
    phone.context.set_offline(True)
    expect(phone.locator("#driver-checked")).not_to_be_empty()
    phone.evaluate("window.dispatchEvent(new Event('online'))")  # a check that fails: still the QR
    expect(phone.locator("#driver-checked")).to_contain_text(words["offline"])
    assert qr.is_visible()
    screenshot(phone, f"driver-phone-offline-{lang}")
    # Reloaded offline (or reopened), the page comes from the copy its service worker keeps, QR included.
    phone.reload()
    expect(phone.locator("#driver-qr img")).to_be_visible()
    assert phone.locator("#driver-qr img").get_attribute("src").startswith("data:image/png;base64,")
    phone.context.set_offline(False)

    # The enterprise withdraws the link: the open page takes the QR away at its next check, and the link is refused.
    clerk.goto(f"{base}/enterprise/passes/{pass_id}")
    clerk.click(f"#driver-links button:has-text('{words['withdraw_link']}')")
    clerk.wait_for_url(f"**/enterprise/passes/{pass_id}*")
    phone.evaluate("window.dispatchEvent(new Event('online'))")
    expect(phone.locator("#driver-qr")).to_have_count(0)
    assert words["link_revoked"] in phone.locator("#driver-state").inner_text()
    phone.reload()
    assert not phone.locator("#driver-qr").count() and phone.locator(".alert").is_visible()
    screenshot(phone, f"driver-link-withdrawn-{lang}")
