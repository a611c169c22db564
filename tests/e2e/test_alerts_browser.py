"""An auditor works the alerts of the demo data in real Chromium: finds the forged pass, the fever, the escort
waiting past the limit and the cloned pass, acknowledges one and closes it; screenshots in both languages."""

from __future__ import annotations

from tests.e2e.conftest import screenshot
from tests.e2e.test_portal_basics import sign_in

DEMO_KINDS_ZH = ("伪造或篡改的通行证", "发热", "接车超时", "克隆通行证", "决定与重放不一致")
DEMO_KINDS_EN = ("Forged or tampered pass", "Fever", "Escort wait over the limit", "Cloned pass")


def test_an_auditor_finds_the_demo_cases_and_acknowledges_an_alert(server, new_page):
    page = new_page()
    sign_in(page, server["url"], "demo-auditor")
    page.wait_for_url("**/review/queue")
    page.click("nav >> text=告警")
    page.wait_for_url("**/audit/alerts")
    table = page.locator("table.alerts").inner_text()
    for kind in DEMO_KINDS_ZH:
        assert kind in table, kind
    assert "相距 50." in table  # the clone: two checkpoints about 50 km apart, minutes between
    screenshot(page, "alerts-list-zh")

    page.click("tr.kind-cloned_pass >> a >> nth=1")
    page.wait_for_url("**/audit/alerts/*")
    assert "克隆通行证" in page.locator("h1").inner_text()
    assert page.locator("h1 .status").inner_text() == "待处理"
    assert page.locator("#open-crossing").is_visible()
    page.fill("#f-note", "已通知昆山东卡口核查车辆，两地同时出现同一通行证")
    page.click("button[value=acknowledge]")
    page.wait_for_url("**done=acknowledge")
    assert page.locator("p.notice >> nth=0").inner_text() == "已确认此告警。"
    assert page.locator("h1 .status").inner_text() == "已确认"
    assert "审计员 李明" in page.locator("ul.history").inner_text()
    screenshot(page, "alerts-acknowledged-zh")

    page.click("button[value=close]")  # without a note: refused, beside the field
    assert page.locator("#e-note").inner_text() == "关闭告警时请写明结论"
    page.fill("#f-note", "确认为克隆通行证，已撤销并通报企业")
    page.click("button[value=close]")
    page.wait_for_url("**done=close")
    assert page.locator("h1 .status").inner_text() == "已关闭"
    assert page.locator("#alert-action").count() == 0

    page.goto(f"{server['url']}/audit/alerts?status=closed")
    closed = page.locator("table.alerts").inner_text()
    assert "克隆通行证" in closed and "审计员 李明" in closed


def test_the_alerts_in_english_with_the_replay(server, new_page):
    page = new_page(lang="en")
    sign_in(page, server["url"], "demo-auditor", lang="en")
    page.wait_for_url("**/review/queue")
    page.goto(f"{server['url']}/audit/alerts?lang=en")
    table = page.locator("table.alerts").inner_text()
    for kind in DEMO_KINDS_EN:
        assert kind in table, kind
    screenshot(page, "alerts-list-en")
    page.click("tr.kind-decision_differs >> a >> nth=1")
    replay = page.locator("section.replay").inner_text()
    assert "it differs" in replay and "Escort required" in replay and "Release" in replay
    screenshot(page, "alerts-replay-en")
