"""One vehicle, one pass and risk flags in a real browser, in both languages (issue 13): a second application for
a lorry that holds a live pass is refused by its plate field and nothing is saved; an application from the hard-hit
area is flagged on the reviewer's queue and its review page says why."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_portal_basics import sign_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORDS = {
    "zh": {"one_pass": "该车辆在此有效期内已有有效通行证", "origin": "始发地 湖北省 武汉市（420100）在重点疫区",
           "section": "风险提示"},
    "en": {"one_pass": "This vehicle already holds a live pass for this period",
           "origin": "Origin 湖北省 武汉市 (420100) is in the hard-hit area", "section": "Risk flags"},
}  # fmt: skip
# Another plate per language: each run applies afresh on the module's one server.
HARD_HIT_PLATES = {"zh": "鄂A·F2468", "en": "鄂A·F1357"}


def fill_application(page, *, plate: str, origin: str, driver_id: str, days_ahead: int) -> None:
    start = (datetime.now(SHANGHAI) + timedelta(days=days_ahead)).replace(second=0, microsecond=0)
    for field, value in (
        ("plate", plate),
        ("driver_name", "刘洋"),
        ("driver_id_number", driver_id),
        ("driver_licence_number", driver_id),
        ("origin", origin),
        ("destination", "320583"),
        ("valid_from", start.strftime("%Y-%m-%dT%H:%M")),
        ("valid_until", (start + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")),
    ):
        page.fill(f"#f-{field}", value)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_second_application_for_a_lorry_with_a_live_pass_is_refused_by_its_plate(server, new_page, lang):
    base = server["url"]
    clerk = new_page(lang=lang)
    sign_in(clerk, base, "demo-enterprise", lang)
    clerk.goto(f"{base}/enterprise/applications?lang={lang}")
    before = clerk.locator("a[href^='/enterprise/applications/']").count()
    clerk.goto(f"{base}/enterprise/applications/new?lang={lang}")
    # The demo's Kunshan lorry holds a pass for the next two weeks.
    fill_application(clerk, plate="苏E·A1234", origin="320583", driver_id="320583198503121234", days_ahead=1)
    clerk.click("button[name=action][value=submit]")
    clerk.wait_for_selector("#e-plate")
    assert WORDS[lang]["one_pass"] in clerk.inner_text("#e-plate")
    assert WORDS[lang]["one_pass"] in clerk.inner_text("[role=alert]")
    assert clerk.input_value("#f-plate") == "苏E·A1234" and clerk.input_value("#f-driver_name") == "刘洋"
    screenshot(clerk, f"one-vehicle-one-pass-{lang}")
    clerk.goto(f"{base}/enterprise/applications?lang={lang}")
    assert clerk.locator("a[href^='/enterprise/applications/']").count() == before  # nothing was saved


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_hard_hit_application_is_flagged_on_the_queue_and_the_review_page(server, new_page, lang):
    base = server["url"]
    clerk = new_page(lang=lang)
    sign_in(clerk, base, "demo-enterprise-wuhan", lang)
    clerk.goto(f"{base}/enterprise/applications/new?lang={lang}")
    # From Wuhan (the demo's hard-hit area is Hubei, 420000): origin, plate and the driver's birthplace.
    plate = HARD_HIT_PLATES[lang]
    fill_application(clerk, plate=plate, origin="420100", driver_id="420102198801017893", days_ahead=0)
    clerk.click("button[name=action][value=submit]")
    clerk.wait_for_url("**/enterprise/applications/*?notice=submitted")
    application_id = clerk.url.split("/enterprise/applications/")[1].split("?")[0]

    reviewer = new_page(lang=lang)
    sign_in(reviewer, base, "demo-reviewer", lang)
    reviewer.goto(f"{base}/review/queue?lang={lang}")
    row = reviewer.locator(f"tr:has(a[href^='/review/applications/{application_id}'])")
    flag = row.locator(".risk-flag, .status.risk")
    assert flag.count() == 1 and "3" in flag.inner_text()
    screenshot(reviewer, f"risk-queue-{lang}")

    reviewer.goto(f"{base}/review/applications/{application_id}?lang={lang}")
    flags = reviewer.locator("section.risk-flags")
    assert WORDS[lang]["section"] in flags.locator("h2").inner_text()
    reasons = flags.locator("li").all_inner_texts()
    assert len(reasons) == 3 and WORDS[lang]["origin"] in reasons
    screenshot(reviewer, f"risk-review-{lang}")
