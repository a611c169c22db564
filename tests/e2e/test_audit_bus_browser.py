"""The audit of a bus in a real browser, in both languages (issue 14): a bus crossing ingested through the real
device API (an enrolled laptop's token, POST /api/v1/crossings), then the auditor's dashboard bus figures, the
crossings list filtered by kind, the crossing's bus and roll (and its CSV), and the one list of quarantine tasks,
whose task links back to the crossing.

The bus is the demo's (12 passengers, number 4 from Wuhan — the demo's hard-hit area — and number 9 not aboard),
its pass and signed manifest pages issued by the served installation, decided by the bus rules as a checkpoint
decides it (tests/integration/bus_helpers.py)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
from playwright.sync_api import expect

from passcore import crossing, trust
from passcore.chain import GENESIS
from server import db
from server.config import get_settings
from server.demo.seed import DEMO_PASSWORD
from server.keyring import service as keyring
from tests.e2e.conftest import screenshot
from tests.e2e.test_portal_basics import sign_in
from tests.integration.bus_helpers import FROM_WUHAN, NOT_ABOARD, PASSENGERS, bus_record, issue_bus

CHECKPOINT = "E2E 客车卡口"  # its own checkpoint: the lists are filtered to it, whatever the demo holds
WORDS = {
    "zh": {
        "marker": "客车 · 11 人",
        "quarantine": "企业隔离",
        "absent": "未到",
        "csv_no": "序号",
        "nav": "隔离确认",
        "waiting": "待确认",
    },
    "en": {
        "marker": "Bus · 11 people",
        "quarantine": "Enterprise quarantine",
        "absent": "Absent",
        "csv_no": "No.",
        "nav": "Quarantine",
        "waiting": "Waiting",
    },
}


@pytest.fixture(scope="module")
def bus(server) -> str:
    """The id of a bus crossing decided 30 minutes ago (7 minutes in the priority lane), uploaded by a laptop
    enrolled over HTTP at a checkpoint of its own."""
    settings = get_settings(home=server["home"])
    engine = db.make_engine(settings)
    now = datetime.now(UTC)
    with httpx.Client(base_url=server["url"], timeout=30) as client:
        bundle = trust.load_bundle(
            client.get("/api/v1/trust-bundle").content, root=keyring.load_root(settings).public, now=None
        )
        # issue_bus reads the app's engine and settings: the served installation's, opened here.
        _, qr, pages = issue_bus(
            SimpleNamespace(state=SimpleNamespace(engine=engine, settings=settings)), now
        )
        engine.dispose()
        token = client.post("/api/v1/auth/token", json={"username": "demo-admin", "password": DEMO_PASSWORD})
        admin = {"authorization": f"Bearer {token.json()['token']}"}
        checkpoint = client.post(
            "/api/v1/checkpoints", json={"name": CHECKPOINT, "region": "320583"}, headers=admin
        ).json()
        code = client.post(f"/api/v1/checkpoints/{checkpoint['id']}/enrolment-codes", headers=admin).json()
        device = client.post("/api/v1/devices/enroll", json={"code": code["code"], "name": "e2e bus laptop"})
        record = crossing.link(
            bus_record(qr, pages, bundle, now - timedelta(minutes=30)),
            record_id=str(uuid.uuid4()),
            seq=1,
            prev_hash=GENESIS,
        )
        answer = client.post(
            "/api/v1/crossings",
            json={"records": [record]},
            headers={"authorization": f"Bearer {device.json()['token']}"},
        ).json()
    assert answer["accepted"] == 1, answer
    return str(record["id"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_auditor_follows_a_bus_from_the_dashboard_to_its_roll_and_its_quarantine_task(
    server, new_page, bus, lang
):
    base, words = server["url"], WORDS[lang]
    page = new_page(lang)
    sign_in(page, base, "demo-auditor", lang)
    page.wait_for_url("**/review/queue")

    # The dashboard's bus figures: the bus, its passengers aboard, the wait chart drawn from the page itself.
    page.goto(f"{base}/audit/dashboard")
    expect(page.locator("#kpi-buses .n")).not_to_have_text("0")
    assert int(page.locator("#kpi-passengers .n").inner_text()) >= PASSENGERS - 1
    expect(page.locator("#kpi-tasks-open")).to_have_attribute(
        "href", re.compile(r"^/review/quarantine\?from=.*&status=open$")
    )
    assert page.locator("#chart-bus_waits img").evaluate("img => img.complete && img.naturalWidth") > 0
    screenshot(page, f"audit-bus-dashboard-{lang}")

    # The buses figure opens the crossings list filtered by kind; narrowed to this checkpoint, the one bus.
    page.click("#kpi-buses")
    page.wait_for_url("**/audit/crossings?*kind=personnel*")
    expect(page.locator("#f-kind")).to_have_value("personnel")
    page.select_option("#f-checkpoint", label=CHECKPOINT)
    page.click("#filter-submit")
    page.wait_for_url("**/audit/crossings?*checkpoint=*")
    rows = page.locator("table.crossings tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".bus-marker")).to_have_text(words["marker"])
    page.select_option("#f-kind", "freight")
    page.click("#filter-submit")
    page.wait_for_url("**/audit/crossings?*kind=freight*")
    expect(rows).to_have_count(0)  # this checkpoint saw no lorry
    page.select_option("#f-kind", "personnel")
    page.click("#filter-submit")
    page.wait_for_url("**/audit/crossings?*kind=personnel*")
    screenshot(page, f"audit-bus-crossings-{lang}")

    # The crossing: the bus and its roll, every manifest passenger with a masked ID number.
    page.click("a.crossing-link")
    page.wait_for_url(f"**/audit/crossings/{bus}")
    roll = page.locator("#roll tbody tr")
    expect(roll).to_have_count(PASSENGERS)
    expect(page.locator(f"#roll tr[data-n='{FROM_WUHAN}'] .disposition")).to_have_text(words["quarantine"])
    expect(page.locator(f"#roll tr[data-n='{NOT_ABOARD}'] .disposition")).to_have_text(words["absent"])
    expect(page.locator(f"#roll tr[data-n='{NOT_ABOARD}']")).to_have_class("absent")
    expect(page.locator("#bus-wait")).to_contain_text("7")
    screenshot(page, f"audit-bus-roll-{lang}")
    with page.expect_download() as download:
        page.click("#roll-csv")
    text = download.value.path().read_bytes().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][0] == words["csv_no"] and len(table) == PASSENGERS + 1
    assert table[FROM_WUHAN][7] == "QUARANTINE" and table[NOT_ABOARD][7] == "ABSENT"
    assert all("*" in row[2] for row in table[1:])  # masked, never the full number

    # The one list of quarantine tasks, from the navigation: this checkpoint's task, open, linking the crossing.
    page.click(f"nav >> text={words['nav']}")
    page.wait_for_url("**/review/quarantine")
    page.select_option("#f-checkpoint", label=CHECKPOINT)
    page.select_option("#f-status", "overdue")
    page.click("#filter-submit")
    page.wait_for_url("**/review/quarantine?*status=overdue*")
    expect(page.locator("#no-quarantine")).to_be_visible()  # a day to confirm: not overdue yet
    page.select_option("#f-status", "open")
    page.click("#filter-submit")
    page.wait_for_url("**/review/quarantine?*status=open*")
    task = page.locator("#quarantine-tasks tbody tr")
    expect(task).to_have_count(1)
    expect(task.locator(".status")).to_have_text(words["waiting"])
    link = task.locator("a.crossing-link")
    expect(link).to_have_attribute("href", f"/audit/crossings/{bus}")
    screenshot(page, f"audit-bus-quarantine-{lang}")
    link.click()
    page.wait_for_url(f"**/audit/crossings/{bus}")
    expect(page.locator("#bus")).to_be_visible()
