"""An escorted vehicle handed over at the checkpoint, by keyboard only, in Chinese and in English (issue 12 point 6).

A real `checkpoint run` enrolled at the demo server, its officer signed in, reads a pass from the hard-hit area
with the handheld scanner: ESCORT_REQUIRED. The enterprise answers on the real server; the answer comes back to the
laptop. The officer presses E (the escorts panel, the longest wait first, with the enterprise's contact), Enter on
the vehicle, types the name of the staff member who takes it, Enter, the last four of their ID, Enter: the dialog
confirms with the total wait, the panel shows the vehicle handed over, and the server has who took it and the
officer. E does nothing while a field has the focus or while a scanner types.
"""

from __future__ import annotations

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


def escort_row(store: Store, predicate, page, attempts: int = 150) -> dict:
    """The laptop's escort row once ``predicate`` holds for it (sync runs in the background)."""
    for _ in range(attempts):
        rows = store.escorts(include_done=True)
        if rows and predicate(rows[0]):
            return rows[0]
        page.wait_for_timeout(200)
    pytest.fail(f"the escort did not get there: {rows}")


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

        # The vehicle from the hard-hit area, read by the handheld scanner: temperature, the checks, decide.
        wuhan = (server["home"] / "demo-out" / "wuhan" / "pass.txt").read_text(encoding="ascii").strip()
        page.keyboard.type(wuhan, delay=5)
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.activeElement && document.activeElement.id === 'temp-0'")

        for key in ["3", "6", "8", "Enter", "Enter", "Enter"]:
            page.keyboard.press(key)
        page.wait_for_selector("#outcome:not([hidden])")
        assert page.get_attribute("#outcome", "data-outcome") == "ESCORT_REQUIRED"
        wait_text(page, "#escorts", "鄂A·D12345")

        # The request reaches the server; the enterprise answers there; the answer comes back with the
        # enterprise's contact person (the demo's issued-to enterprise has none: it registers one here).
        register_contact(server["home"], "91420100MA4K00001U", "刘经理", "027-8888 0000")
        sync(page)
        escort = escort_row(store, lambda e: e["server_id"] is not None, page)
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

        # E: the panel, the waiting vehicle picked; ↑/↓ stay on it (the only one); Enter opens the hand-over.
        page.keyboard.press("e")
        # A key a person types reaches the page a moment late: the scanner detector holds it to see whether a
        # burst follows.
        page.wait_for_function("() => document.getElementById('escorts').contains(document.activeElement)")
        where = focused(page)
        assert where["inPanel"] and where["crossing"] == escort["crossing_id"]
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowUp")
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
        assert store.escorts()[0]["status"] == "answered"
        page.keyboard.press("Backspace")
        page.keyboard.press("Backspace")
        page.keyboard.type(LAST4, delay=120)
        page.keyboard.press("Enter")
        page.wait_for_selector("#handover-confirmation:not([hidden])")
        done = store.escorts(include_done=True)[0]
        waited = int((done["handed_over_at"] - done["decided_at"]).total_seconds())
        total = t("minutes", n=waited // 60)
        confirmation = page.locator("#handover-done").inner_text()
        assert confirmation == t("handover_done", plate="鄂A·D12345", name=STAFF, last4="567X", time=total)
        screenshot(page, f"escort-4-dialog-done-{lang}")
        page.keyboard.press("Enter")
        page.wait_for_function("() => !document.getElementById('handover-dialog').open")

        # The panel: nobody waiting; the vehicle handed over, to whom, the total wait.
        wait_text(page, "#escorts", t("escorts_none"))
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
        escort_row(store, lambda e: e["handover_synced"], page)
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

        # A scanner typing a code full of E's never moves the focus to the panel.
        page.keyboard.type("CP1:EEEE" + "E" * 20, delay=5)
        page.keyboard.press("Enter")
        page.wait_for_function("() => document.body.dataset.scanned")
        assert not focused(page)["inPanel"] and not re.search(r"handover", focused(page)["id"])
    finally:
        store.close()
        stop_screen(screen["process"])
