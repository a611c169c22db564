"""The bureau audit in a real browser against a real server on demo data: a checkpoint device enrolled over HTTP
uploads the demo's decisions (made by the `checkpoint decide` command), then an auditor filters the crossings,
opens one, exports CSV, and looks at the dashboard in both languages (screenshots in out/screenshots/)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import uuid

import httpx
import pytest

from passcore import evidence, trust
from passcore.chain import GENESIS, record_hash
from server.demo.seed import DEMO_PASSWORD
from tests.e2e.conftest import BIN, screenshot
from tests.e2e.test_portal_basics import sign_in

SCENARIOS = ("release", "fever", "forged", "hard-hit-escort", "no-pass")
CHECKPOINT = "E2E 测试卡口"  # its own checkpoint, beside the demo's


def decide(server: dict, scenario: str) -> tuple[dict, dict]:
    """The checkpoint's decision for a demo scenario, and the scenario itself."""
    out = server["home"] / "demo-out"
    path = out / "scenarios" / f"{scenario}.json"
    done = subprocess.run(
        [str(BIN / "checkpoint"), "decide", str(path), "--bundle", str(out / "bundle.cose"), "--json"],
        env=server["env"],
        cwd=server["home"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout), json.loads(path.read_text(encoding="utf-8"))


def record_of(decision: dict, scenario: dict, seq: int, previous: str) -> dict:
    """The crossing record a checkpoint stores for a decision (docs/api.md, "Crossing records")."""
    observed = scenario.get("observed", {})
    codes = [reason["code"] for reason in decision["reasons"]]
    record = {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "prev_hash": previous,
        "decided_at": decision["decided_at"],
        "plate": decision["plate"],
        "pass_id": decision.get("pass_id"),
        "enterprise": decision.get("enterprise"),
        "outcome": decision["outcome"],
        "reasons": codes,
        "policy_version": decision["policy_version"],
        "bundle_version": decision["bundle_version"],
        "occupants": [
            {
                "role": o["role"],
                "name": o["name"],
                "temperature_c": o["temperature_c"],
                "origin": o.get("origin"),
                "travel_history": o.get("travel_history", []),
            }
            for o in scenario["occupants"]
        ],
        "vehicle_origin": scenario.get("vehicle_origin"),
        "verification": codes[0] if "pass" in scenario and codes[0].startswith("PASS_") else None,
        "checks": {
            "identity_confirmed": observed.get("identity_confirmed") if "pass" in scenario else None,
            "licence_confirmed": observed.get("licence_confirmed") if "pass" in scenario else None,
            "id_last4_matched": None,
        },
        "officer": "KS-0042",
    }
    if "pass" in scenario and record["verification"] not in (None, "PASS_VALID"):
        # What the screen keeps of a pass that did not verify (passcore.evidence).
        failed = trust.Verification(valid=False, code=record["verification"], message="")
        record["claimed"] = evidence.claimed(scenario["pass"], failed)
    record["hash"] = record_hash(record)
    return record


@pytest.fixture(scope="module")
def crossings(server) -> dict[str, dict]:
    """The demo's five vehicles crossing one checkpoint, uploaded by an enrolled device."""
    base = server["url"]
    with httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/api/v1/auth/token", json={"username": "demo-admin", "password": DEMO_PASSWORD})
        admin = {"authorization": f"Bearer {token.json()['token']}"}
        checkpoint = client.post(
            "/api/v1/checkpoints",
            json={
                "name": CHECKPOINT,
                "region": "320583",
                "location": "G312 K1520",
                "latitude": 31.39,
                "longitude": 120.98,
            },
            headers=admin,
        ).json()
        code = client.post(f"/api/v1/checkpoints/{checkpoint['id']}/enrolment-codes", headers=admin).json()[
            "code"
        ]
        device = client.post("/api/v1/devices/enroll", json={"code": code, "name": "e2e laptop"}).json()
        records, previous = {}, GENESIS
        for seq, name in enumerate(SCENARIOS, start=1):
            records[name] = record_of(*decide(server, name), seq, previous)
            previous = records[name]["hash"]
        answer = client.post(
            "/api/v1/crossings",
            json={"records": list(records.values())},
            headers={"authorization": f"Bearer {device['token']}"},
        ).json()
        assert answer["accepted"] == len(SCENARIOS), answer
    return records


def test_an_auditor_filters_opens_a_crossing_and_exports_csv(server, new_page, crossings):
    page = new_page()
    sign_in(page, server["url"], "demo-auditor")
    page.wait_for_url("**/review/queue")
    page.click("nav >> text=通行记录")
    page.wait_for_url("**/audit/crossings")
    page.select_option("#f-checkpoint", label=CHECKPOINT)
    page.select_option("#f-outcome", "REFUSE")
    page.click("#filter-submit")
    page.wait_for_url("**/audit/crossings?*outcome=REFUSE*")
    rows = page.locator("table.crossings tbody tr")
    assert rows.count() == 1
    page.fill("#f-plate", "苏e b9999")  # the forged pass's plate, typed loosely
    page.click("#filter-submit")
    page.wait_for_url("**/audit/crossings?*plate=*")
    assert rows.count() == 1
    assert "通行证签名无效" in rows.first.inner_text()
    screenshot(page, "audit-crossings-refused-zh")
    page.click("a.crossing-link")
    page.wait_for_url(f"**/audit/crossings/{crossings['forged']['id']}")
    assert page.locator("#outcome").inner_text() == "劝返"
    assert "通行证签名无效" in page.locator("#reasons").inner_text()
    screenshot(page, "audit-crossing-forged-zh")
    page.go_back()
    with page.expect_download() as download:
        page.click("#export-csv")
    content = download.value.path().read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert table[0][:3] == ["时间", "卡口", "车牌"]
    assert [row[-1] for row in table[1:]] == [crossings["forged"]["id"]]
    assert table[1][1] == CHECKPOINT and table[1][4] == "劝返"


def test_the_release_replays_to_the_same_decision_and_the_fever_is_shown(server, new_page, crossings):
    page = new_page()
    sign_in(page, server["url"], "demo-auditor")
    page.wait_for_url("**/review/queue")
    page.goto(f"{server['url']}/audit/crossings/{crossings['release']['id']}")
    assert "复核一致" in page.locator("#replay-result").inner_text()
    assert "320583-000001" in page.locator("#pass").inner_text()
    page.goto(f"{server['url']}/audit/crossings/{crossings['fever']['id']}")
    assert page.locator("tr.fever").count() == 1
    screenshot(page, "audit-crossing-fever-zh")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_dashboard_in_both_languages(server, new_page, crossings, lang):
    page = new_page(lang)
    sign_in(page, server["url"], "demo-auditor", lang=lang)
    page.wait_for_url("**/review/queue")
    page.goto(f"{server['url']}/audit/dashboard")
    for name in ("per_hour", "outcomes", "escort_waits", "fever", "top_enterprises"):
        image = page.locator(f"#chart-{name} img")
        # Drawn from the SVG in the page itself: nothing fetched from outside.
        assert image.evaluate("img => img.complete && img.naturalWidth") > 0, name
    # The demo's and this test's fever, forged pass and escort are all on it, and the figures agree with the API.
    with httpx.Client(base_url=server["url"], timeout=30) as client:
        token = client.post(
            "/api/v1/auth/token", json={"username": "demo-auditor", "password": DEMO_PASSWORD}
        )
        board = client.get(
            "/api/v1/audit/dashboard", headers={"authorization": f"Bearer {token.json()['token']}"}
        ).json()
    for outcome in ("MEDICAL_HOLD", "REFUSE", "ESCORT_REQUIRED"):
        shown = int(page.locator(f"#kpi-{outcome} .n").inner_text())
        assert shown == board["totals"][outcome] >= 1, outcome
    title = {"zh": "审计看板", "en": "Audit dashboard"}[lang]
    assert page.locator("h1").inner_text() == title
    screenshot(page, f"audit-dashboard-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_forged_pass_shows_what_it_claimed_and_the_officer(server, new_page, crossings, lang):
    forged = crossings["forged"]
    assert forged["claimed"]["serial"] and forged["claimed"]["names"]
    page = new_page(lang)
    sign_in(page, server["url"], "demo-auditor", lang=lang)
    page.wait_for_url("**/review/queue")
    page.goto(f"{server['url']}/audit/crossings/{forged['id']}")
    claimed = page.locator("#claimed").inner_text()
    assert forged["claimed"]["serial"] in claimed and forged["claimed"]["names"][0] in claimed
    assert {"zh": "未出示通行证", "en": "No pass presented"}[lang] not in page.locator("#pass").inner_text()
    assert page.locator("#officer").inner_text() == "KS-0042"
    assert "e2e laptop" in page.locator("#device").inner_text()
    screenshot(page, f"audit-crossing-claimed-{lang}")
    page.goto(f"{server['url']}/audit/crossings?officer=KS-0042")
    assert page.locator("table.crossings tbody tr").count() == len(SCENARIOS)
    assert page.locator("td.officer").first.inner_text() == "KS-0042"
    screenshot(page, f"audit-crossings-officer-{lang}")
