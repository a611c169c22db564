"""The administrator manages a checkpoint's officers in the portal, in Chinese and in English: the demo officer is
listed, a PIN that is not 4-8 digits is refused next to its field (and never shown again), an officer is added, gets
a new PIN, is deactivated and reactivated."""

from __future__ import annotations

import pytest

from server.web.i18n import translate
from tests.e2e.conftest import screenshot
from tests.e2e.test_portal_basics import sign_in


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_administrator_adds_resets_and_deactivates_an_officer(server, new_page, lang):
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    page = new_page(lang)
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, server["url"], "demo-admin", lang)
    page.goto(f"{server['url']}/admin/checkpoints")
    page.click("text=G312 昆山东卡口")
    page.click("#officers-link")
    assert page.locator("tr[data-officer='K-0427']").is_visible()  # seeded by `checkpass demo`
    number = f"E2E-{lang}"

    page.fill("#f-number", number)
    page.fill("#f-name", "测试警员")
    page.fill("#f-pin", "12")
    page.click("#officer-add button.primary")
    assert page.locator("#e-pin").inner_text() == t("invalid.pin_invalid")
    assert page.input_value("#f-pin") == "" and page.input_value("#f-number") == number
    screenshot(page, f"officers-admin-error-{lang}")

    page.fill("#f-pin", "246810")
    page.click("#officer-add button.primary")
    assert page.locator("#officer-done").inner_text() == t("officers.done.added", number=number)
    row = page.locator(f"tr[data-officer='{number}']")
    assert row.is_visible() and "测试警员" in row.inner_text()
    screenshot(page, f"officers-admin-{lang}")

    row.locator("input[name=pin]").fill("13579")
    row.locator("form", has=page.locator("input[name=pin]")).locator("button").click()
    assert page.locator("#officer-done").inner_text() == t("officers.done.pin", number=number)

    page.locator(f"tr[data-officer='{number}'] button.danger").click()
    assert page.locator("#officer-done").inner_text() == t("officers.done.off", number=number)
    assert (
        t("officers.deactivated_at", at="")[:3] in page.locator(f"tr[data-officer='{number}']").inner_text()
    )
    page.locator(f"tr[data-officer='{number}'] form[action$='/activate'] button").click()
    assert page.locator("#officer-done").inner_text() == t("officers.done.on", number=number)
