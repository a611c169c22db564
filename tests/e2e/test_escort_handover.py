"""An escorted vehicle handed over at the checkpoint, by keyboard only, in Chinese and in English (issue 12 point 6).

A real `checkpoint run` enrolled at the demo server, its officer signed in, decides two vehicles from the hard-hit
area: ESCORT_REQUIRED. The enterprise answers one on the real server; the answer comes back to the laptop. The
officer presses E (the escorts panel, the longest wait first, with the enterprise's contact), ↓ to that one, Enter,
types the name of the staff member who takes it, Enter, the last four of their ID, Enter: the dialog
confirms with the total wait, the panel shows the vehicle handed over, and the server has who took it and the
officer. E does nothing while a field has the focus or while a scanner types.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from checkpoint_client.screen.words import translate
from checkpoint_client.store import Store
from tests.e2e.conftest import BIN, screenshot
from tests.e2e.screen_fixtures import start_screen, stop_screen

STAFF, LAST4 = "吴芳", "567x"
NUMBER, NAME, PIN = "K-0815", "李卫东", "736150"  # the officer on duty, set by the bureau for the checkpoint
WUHAN, FIRST = "91420100MA4K00001U", "鄂A·E5432"


def wait_text(page, selector: str, expected: str) -> None:
    page.wait_for_function(
        "([s, e]) => document.querySelector(s) && document.querySelector(s).innerText.includes(e)",
        arg=[selector, expected],
        timeout=30_000,
    )


def sync(page) -> None:
    """What the laptop's background sync does every few minutes, asked for now (not an officer's action)."""
    page.evaluate(
        """() => fetch("/api/sync", {method: "POST", headers: {"X-Screen-Token":
              document.querySelector("meta[name=screen-token]").content}})"""
    )


def escort_row(store: Store, plate: str, predicate, page, attempts: int = 150) -> dict:
    """The laptop's escort row of ``plate`` once ``predicate`` holds for it (sync runs in the background)."""
    for _ in range(attempts):
        rows = [e for e in store.escorts(include_done=True) if e["plate"] == plate]
        if rows and predicate(rows[0]):
            return rows[0]
        page.wait_for_timeout(200)
    pytest.fail(f"the escort did not get there: {rows}")


def issue_hard_hit_pass(server: dict) -> str:
    """A second vehicle from the hard-hit area for the same enterprise, issued on the demo server."""
    home: Path = server["home"]
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    application = {
        "enterprise": {"name": "武汉长江物流有限公司", "uscc": WUHAN},
        "vehicle": {"plate": "鄂A·E5432", "plate_colour": "blue"},
        "driver": {
            "name": "赵磊",
            "id_number": "420102198801017893",
            "licence_number": "420102198801017893",
            "phone": "13900000002",
        },
        "escorts": [],
        "origin": "420100",
        "destination": "320583",
        "travel_history": ["420100"],
        "cargo": "医用防护物资",
        "valid_from": (now - timedelta(hours=1)).isoformat(),
        "valid_until": (now + timedelta(days=7)).isoformat(),
    }
    path = home / "second-hard-hit.json"
    if not (home / "demo-out" / "second-hard-hit" / "pass.txt").exists():
        path.write_text(json.dumps(application, ensure_ascii=False), encoding="utf-8")
        subprocess.run(
            [str(BIN / "checkpass"), "issue", str(path), "--out", str(home / "demo-out" / "second-hard-hit")],
            env=server["env"],
            cwd=home,
            check=True,
            capture_output=True,
            timeout=120,
        )
    return (home / "demo-out" / "second-hard-hit" / "pass.txt").read_text(encoding="ascii").strip()


def decide_escorted(page, text: str) -> None:
    """The pass's text pasted (what the officer does with a pass read elsewhere); the officer takes the vehicle
    (Esc leaves an outcome still on screen), types the temperature, confirms the checks and decides:
    ESCORT_REQUIRED. (Typed at scanner speed, a long pass is split in two on a loaded machine: test_scanner_input
    covers the scanner.)"""
    before = page.get_attribute("body", "data-vehicle")
    page.fill("#paste", text)
    page.press("#paste", "Enter")
    # The page knows of the vehicle (on the form, or waiting behind the outcome: the outcome says so, and so does
    # the header's queue chip) before Esc takes it.
    page.wait_for_function(
        """before => (document.body.dataset.phase === 'checking' && document.body.dataset.vehicle !== before)
                     || !document.getElementById('outcome-waiting').hidden
                     || !document.getElementById('queue').hidden""",
        arg=before,
    )
    if page.locator("#outcome").is_visible():
        page.keyboard.press("Escape")
    try:
        page.wait_for_function("() => document.activeElement && document.activeElement.id === 'temp-0'")
    except Exception:
        screenshot(page, "escort-failed-no-vehicle")
        raise
    for key in ["3", "6", "8", "Enter", "Enter", "Enter"]:
        page.keyboard.press(key)
    try:
        page.wait_for_selector("#outcome:not([hidden])")
    except Exception:
        screenshot(page, "escort-failed-no-outcome")  # what the officer saw instead
        raise
    assert page.get_attribute("#outcome", "data-outcome") == "ESCORT_REQUIRED"


def register_contact(home: Path, uscc: str, contact: str, phone: str) -> None:
    [path] = home.rglob("checkpass.sqlite3")
    with sqlite3.connect(path, timeout=10) as conn:
        conn.execute("UPDATE enterprise SET contact = ?, phone = ? WHERE uscc = ?", (contact, phone, uscc))


def focused(page) -> dict:
    return page.evaluate(
        """() => ({id: document.activeElement.id, crossing: document.activeElement.dataset.crossing || null,
                   inPanel: document.getElementById("escorts").contains(document.activeElement),
                   tag: document.activeElement.tagName})"""
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_officer_hands_an_escorted_vehicle_over_by_keyboard(server, new_page, tmp_path, lang):
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    name = f"G312 交接卡口 {lang}"
    screen = start_screen(server, tmp_path / f"laptop-{lang}", Path("none"), lang, name)  # no camera
    store = Store.open(screen["home"] / "db" / "checkpoint.sqlite3")
    try:
        # The checkpoint has officers: the laptop learns them at its sync, and the officer signs in.
        bureau = screen["bureau"]
        checkpoint = next(
            c["id"] for c in bureau.admin.get("/api/v1/checkpoints").json() if c["name"] == name
        )
        added = bureau.admin.post(
            f"/api/v1/checkpoints/{checkpoint}/officers", json={"number": NUMBER, "name": NAME, "pin": PIN}
        )
        assert added.status_code == 201, added.text
        env = server["env"] | {"CHECKPOINT_HOME": str(screen["home"])}
        synced = subprocess.run(
            [str(BIN / "checkpoint"), "sync", "--json"], env=env, capture_output=True, text=True, timeout=120
        )
        assert synced.returncode == 0, synced.stderr
        page = new_page(lang)
        page.set_viewport_size({"width": 1366, "height": 768})
        page.goto(screen["url"])
        page.wait_for_selector("body[data-phase=signin]")
        page.wait_for_function(
            "() => document.activeElement && document.activeElement.id === 'signin-number'"
        )
        page.keyboard.type(NUMBER, delay=120)
        page.keyboard.press("Enter")
        page.keyboard.type(PIN, delay=120)
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.body.dataset.phase !== 'signin'")

        # Two vehicles from the hard-hit area; the first waits longest.
        decide_escorted(page, issue_hard_hit_pass(server))
        wuhan = (server["home"] / "demo-out" / "wuhan" / "pass.txt").read_text(encoding="ascii").strip()
        decide_escorted(page, wuhan)
        wait_text(page, "#escorts", "鄂A·D12345")
        plates = page.eval_on_selector_all(
            "#escorts li.escort .plate", "nodes => nodes.map((n) => n.textContent)"
        )
        assert plates == [FIRST, "鄂A·D12345"]  # the longest wait first

        # The request reaches the server; the enterprise answers there; the answer comes back with the
        # enterprise's contact person (the demo's issued-to enterprise has none: it registers one here).
        register_contact(server["home"], "91420100MA4K00001U", "刘经理", "027-8888 0000")
        sync(page)
        escort = escort_row(store, "鄂AD12345", lambda e: e["server_id"] is not None, page)
        first = escort_row(store, "鄂AE5432", lambda e: True, page)
        eta = (datetime.now(UTC) + timedelta(minutes=40)).astimezone(ZoneInfo("Asia/Shanghai"))
        screen["bureau"].answer_escort(
            "demo-enterprise-wuhan",
            escort["server_id"],
            staff="周敏",
            phone="138 1234 5678",
            eta=eta.strftime("%Y-%m-%dT%H:%M"),
        )
        sync(page)
        wait_text(page, "#escorts", "周敏")
        panel = page.locator("#escorts").inner_text()
        assert t("escort_answered") in panel and f"{t('contact')}: 刘经理 027-8888 0000" in panel
        screenshot(page, f"escort-1-answered-{lang}")

        # E does nothing while the officer types in a field.
        page.keyboard.press("/")
        page.wait_for_function("() => document.activeElement.id === 'paste'")
        page.keyboard.type("e", delay=150)
        page.wait_for_function("() => document.getElementById('paste').value === 'e'")
        assert focused(page)["id"] == "paste"
        page.keyboard.press("Backspace")
        page.evaluate("() => document.activeElement.blur()")

        # E: the panel, the longest wait picked; ↓ the next one (whose staff have come), ↑ back, ↓ again; Enter
        # opens its hand-over.
        page.keyboard.press("e")
        # A key a person types reaches the page a moment late: the scanner detector holds it to see whether a
        # burst follows.
        page.wait_for_function("() => document.getElementById('escorts').contains(document.activeElement)")
        where = focused(page)
        assert where["inPanel"] and where["crossing"] == first["crossing_id"]
        page.keyboard.press("ArrowDown")
        assert focused(page)["crossing"] == escort["crossing_id"]
        page.keyboard.press("ArrowUp")
        assert focused(page)["crossing"] == first["crossing_id"]
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")  # the last one stays picked
        assert focused(page)["crossing"] == escort["crossing_id"]
        screenshot(page, f"escort-2-panel-selected-{lang}")
        page.keyboard.press("Enter")
        page.wait_for_selector("#handover-dialog[open]")
        assert focused(page)["id"] == "handover-name"
        assert "鄂A·D12345" in page.locator("#handover-title").inner_text()

        # A last four that is not one: said next to the field, nothing recorded; then the right one.
        page.keyboard.type(STAFF, delay=120)
        page.keyboard.press("Enter")
        assert focused(page)["id"] == "handover-last4"
        page.keyboard.type("12", delay=120)
        page.keyboard.press("Enter")
        wait_text(page, "#handover-dialog", t("E_HANDOVER_STAFF_ID_INVALID"))
        screenshot(page, f"escort-3-dialog-error-{lang}")
        assert escort_row(store, "鄂AD12345", lambda e: True, page)["status"] == "answered"
        page.keyboard.press("Backspace")
        page.keyboard.press("Backspace")
        page.keyboard.type(LAST4, delay=120)
        page.keyboard.press("Enter")
        page.wait_for_selector("#handover-confirmation:not([hidden])")
        done = escort_row(store, "鄂AD12345", lambda e: e["status"] == "handed_over", page)
        waited = int((done["handed_over_at"] - done["decided_at"]).total_seconds())
        total = t("minutes", n=waited // 60)
        confirmation = page.locator("#handover-done").inner_text()
        assert confirmation == t("handover_done", plate="鄂A·D12345", name=STAFF, last4="567X", time=total)
        screenshot(page, f"escort-4-dialog-done-{lang}")
        page.keyboard.press("Enter")
        page.wait_for_function("() => !document.getElementById('handover-dialog').open")

        # The panel: the first vehicle still waiting (picked now); the other handed over, to whom, the total wait.
        page.wait_for_selector("#escorts li.done")
        assert focused(page)["crossing"] == first["crossing_id"]
        plates = page.eval_on_selector_all(
            "#escorts li.escort .plate", "nodes => nodes.map((n) => n.textContent)"
        )
        assert plates == [FIRST, "鄂A·D12345"]
        handed = page.locator("#escorts li.done").inner_text()
        assert t("handover_by", name=STAFF, last4="567X") in handed
        assert t("handover_total", time=total) in handed and t("handover_officer", officer=NUMBER) in handed
        assert (done["status"], done["handover_staff_name"], done["handover_staff_id_last4"]) == (
            "handed_over",
            STAFF,
            "567X",
        )
        screenshot(page, f"escort-5-handed-over-{lang}")

        # The server has who took the vehicle over and the total wait.
        sync(page)
        escort_row(store, "鄂AD12345", lambda e: e["handover_synced"], page)
        audit = (
            screen["bureau"].admin.get(f"/api/v1/audit/crossings/{escort['crossing_id']}").json()["escort"]
        )
        assert (audit["status"], audit["handover_staff_name"], audit["handover_staff_id_last4"]) == (
            "handed_over",
            STAFF,
            "567X",
        )
        assert audit["handover_officer"] == NUMBER and done["handover_officer"] == NUMBER
        assert audit["waited_minutes"] == waited // 60
        page.wait_for_function(  # the panel's next refresh: uploaded
            "unsent => !document.querySelector('#escorts li.done').innerText.includes(unsent)",
            arg=t("handover_unsent"),
        )
        assert t("handover_by", name=STAFF, last4="567X") in page.locator("#escorts li.done").inner_text()

        # A scanner typing a code full of E's never moves the focus to the panel (Esc leaves it first).
        page.keyboard.press("Escape")
        page.wait_for_function("() => !document.getElementById('escorts').contains(document.activeElement)")
        page.keyboard.type("CP1:EEEE" + "E" * 20, delay=5)
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.body.dataset.scanned")
        assert not focused(page)["inPanel"] and not re.search(r"handover", focused(page)["id"])
    finally:
        store.close()
        stop_screen(screen["process"])
