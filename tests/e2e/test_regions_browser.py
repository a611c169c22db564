"""The region picker in a real browser, in both languages: searching by pinyin, initials or name fills the code,
the cascade fills it too, and a code typed by hand that is not in the table is refused by its field."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_portal_basics import sign_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORDS = {
    "zh": {"place": "江苏省 苏州市 昆山市", "unknown": "不在现行行政区划代码表", "refused": "不在现行行政区划代码表（GB/T 2260）中"},
    "en": {"place": "江苏省 苏州市 昆山市", "unknown": "not in the current region code table",
           "refused": "not in the current GB/T 2260 table"},
}  # fmt: skip


def open_form(new_page, base: str, lang: str, phone: bool):
    page = new_page(lang=lang, phone=phone)
    sign_in(page, base, "demo-enterprise", lang)
    page.goto(f"{base}/enterprise/applications/new?lang={lang}")
    page.wait_for_selector("#region-picker[data-ready=true]", state="attached")
    return page


@pytest.mark.parametrize(("lang", "phone"), [("zh", False), ("en", True)])
def test_picker_fills_codes_by_pinyin_initials_name_and_cascade(server, new_page, lang, phone):
    page = open_form(new_page, server["url"], lang, phone)
    words = WORDS[lang]

    # Full pinyin, picked with the keyboard: the first match is highlighted, Enter takes it (and submits nothing).
    page.fill("#f-origin-search", "kunshan")
    page.wait_for_selector("#f-origin-results li[role=option]")
    page.press("#f-origin-search", "Enter")
    assert page.input_value("#f-origin") == "320583"
    assert words["place"] in page.inner_text("#f-origin ~ .region-picker .region-name")
    assert "/enterprise/applications/new" in page.url

    # Initials: several places start with k-s; the arrow keys walk the list to 昆山市.
    page.fill("#f-destination-search", "ks")
    options = page.locator("#f-destination-results li[role=option]")
    names = options.all_inner_texts()
    target = next(i for i, text in enumerate(names) if text.startswith("昆山市"))
    for _ in range(target):
        page.press("#f-destination-search", "ArrowDown")
    assert options.nth(target).get_attribute("aria-selected") == "true"
    page.press("#f-destination-search", "Enter")
    assert page.input_value("#f-destination") == "320583"

    # The name, clicked (a tap on a phone): travel history collects several codes.
    page.fill("#f-travel_history-search", "苏州")
    page.click("#f-travel_history-results li[role=option]:has-text('苏州市')")
    page.fill("#f-travel_history-search", "昆山")
    page.click("#f-travel_history-results li[role=option]:has-text('昆山市')")
    assert page.input_value("#f-travel_history") == "320500, 320583"
    both = page.inner_text("#f-travel_history ~ .region-picker .region-name")
    assert both == ("320500 江苏省 苏州市；320583 江苏省 苏州市 昆山市" if lang == "zh" else
                    "320500 江苏省 苏州市; 320583 江苏省 苏州市 昆山市")  # fmt: skip
    screenshot(page, f"region-picker-{lang}")

    # The cascade: province, city, county; each choice fills the code down to where it stops.
    page.select_option("#f-origin-level0", "310000")
    assert page.input_value("#f-origin") == "310000"
    page.select_option("#f-origin-level1", "310115")  # Shanghai lists its districts straight away (no 市辖区)
    assert page.input_value("#f-origin") == "310115"
    page.select_option("#f-origin-level0", "320000")
    page.select_option("#f-origin-level1", "320500")
    page.select_option("#f-origin-level2", "320583")
    assert page.input_value("#f-origin") == "320583"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_code_typed_by_hand_that_does_not_exist_is_refused_by_its_field(server, new_page, lang):
    page = open_form(new_page, server["url"], lang, phone=False)
    words = WORDS[lang]
    start = datetime.now(SHANGHAI).replace(second=0, microsecond=0) + timedelta(hours=1)
    for field, value in (
        ("plate", "苏E·C2468"),
        ("driver_name", "孙磊"),
        ("driver_id_number", "320583198503121234"),
        ("driver_licence_number", "320583198503121234"),
        ("destination", "310000"),
        ("valid_from", start.strftime("%Y-%m-%dT%H:%M")),
        ("valid_until", (start + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")),
    ):
        page.fill(f"#f-{field}", value)
    page.fill("#f-origin", "320599")
    assert words["unknown"] in page.inner_text(
        "#f-origin ~ .region-picker .region-name"
    )  # said before sending
    page.click("button[name=action][value=submit]")
    page.wait_for_selector("#e-origin")
    assert words["refused"] in page.inner_text("#e-origin")
    assert page.input_value("#f-origin") == "320599"  # kept, to be corrected
    assert page.locator("#e-destination").count() == 0
