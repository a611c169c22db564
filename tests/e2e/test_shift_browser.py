"""An officer's shift in a real browser, in Chinese and in English: the bureau sets the checkpoint's officers, the
laptop syncs, then the server is out of reach; the officer signs in offline with the keyboard alone (a wrong PIN
first), decides a vehicle (the record carries the officer), downloads the shift's PDF and CSV, and ends the shift.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from checkpoint_client.config import get_settings
from checkpoint_client.screen.words import translate
from checkpoint_client.store import Store
from passcore import reasons
from tests.e2e.conftest import BIN, _free_port, screenshot
from tests.e2e.screen_fixtures import start_screen, stop_screen

NUMBER, NAME, PIN = "K-0427", "王建国", "482916"
# The Kunshan demo pass: driver and two escorts, normal temperatures, the checks confirmed, decided.
THREE_PEOPLE = ["3", "6", "5", "Enter", "3", "6", "4", "Enter", "3", "6", "6", "Enter", "Enter", "Enter"]


def typed(page, text: str) -> None:
    # At a person's pace: the handheld-scanner detector treats a fast burst as a scan.
    page.keyboard.type(text, delay=90)


def checkpoint_id(bureau, name: str) -> int:
    listed = bureau.admin.get("/api/v1/checkpoints").json()
    return next(c["id"] for c in listed if c["name"] == name)


def cut_off(home: Path) -> None:
    """The laptop's server address now leads nowhere: whatever happens next happens offline."""
    path = home / "keys" / "device.json"
    device = json.loads(path.read_text(encoding="utf-8"))
    device["server"] = f"http://127.0.0.1:{_free_port()}"
    path.write_text(json.dumps(device), encoding="utf-8")


@pytest.fixture
def laptop(server, tmp_path):
    started = []

    def start(lang: str) -> dict:
        name = f"G312 昆山东卡口 班次 {lang}"
        screen = start_screen(server, tmp_path / f"laptop-{lang}", Path("none"), lang, name)
        started.append(screen["process"])
        screen["checkpoint"] = checkpoint_id(screen["bureau"], name)
        screen["env"] = server["env"] | {"CHECKPOINT_HOME": str(screen["home"])}
        return screen

    yield start
    for process in started:
        stop_screen(process)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_officer_signs_in_offline_decides_and_takes_the_shift_record_home(
    laptop, server, new_page, lang, tmp_path
):
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    screen = laptop(lang)
    bureau = screen["bureau"]
    added = bureau.admin.post(
        f"/api/v1/checkpoints/{screen['checkpoint']}/officers",
        json={"number": NUMBER, "name": NAME, "pin": PIN},
    )
    assert added.status_code == 201, added.text
    synced = subprocess.run(
        [str(BIN / "checkpoint"), "sync", "--json"],
        env=screen["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["officers"] == {"status": "updated", "count": 1}
    told = subprocess.run(
        [str(BIN / "checkpoint"), "sync"], env=screen["env"], capture_output=True, text=True, timeout=120
    )
    assert "officers of this checkpoint: 1 (the screen asks for a sign-in)" in told.stdout
    cut_off(screen["home"])

    page = new_page(lang)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(screen["url"])
    page.wait_for_selector("body[data-phase=signin]")
    assert page.locator("#signin").is_visible()
    assert page.evaluate("document.activeElement.id") == "signin-number"
    screenshot(page, f"shift-signin-{lang}")

    # Shortcuts do not act behind the overlay: N would start a vehicle without a pass, Esc drop one.
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("n")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'signin-number'")
    assert page.get_attribute("body", "data-phase") == "signin"
    assert page.get_attribute("body", "data-vehicle") is None
    page.fill("#signin-number", "")

    # A wrong PIN: a clear message, the PIN field emptied and focused for the next try.
    typed(page, NUMBER)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "signin-pin"
    typed(page, "000000")
    page.keyboard.press("Enter")
    page.wait_for_selector("#signin-error:not([hidden])")
    assert page.locator("#signin-error").inner_text() == t("E_PIN_WRONG", left=4)
    assert page.input_value("#signin-pin") == ""
    assert page.evaluate("document.activeElement.id") == "signin-pin"
    screenshot(page, f"shift-signin-wrong-pin-{lang}")

    # A vehicle arrives while the overlay is up (the camera does not wait for the officer): it waits behind it, and
    # once the officer is signed in the typing goes on in its first field.
    kunshan = (server["home"] / "demo-out" / "kunshan" / "pass.txt").read_text(encoding="ascii").strip()
    page.evaluate("text => Screen.api('POST', '/api/vehicle/scan', { text })", kunshan)
    page.wait_for_function("() => document.body.dataset.vehicle")
    assert page.evaluate("document.activeElement.id") == "signin-pin"

    typed(page, PIN)
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.body.dataset.phase !== 'signin'")
    assert page.locator("#signin").is_hidden()
    assert page.locator("#h-officer").inner_text() == t("shift_on_duty", number=NUMBER, name=NAME)
    screenshot(page, f"shift-on-duty-{lang}")
    # With the officer on duty the header is still one line at 1366 px (it wrapped in English): the form stays put.
    assert page.locator("header.top").bounding_box()["height"] < 50

    # The vehicle, offline: temperatures, checks, decision.
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'temp-0'")
    for key in THREE_PEOPLE:
        page.keyboard.press(key)
    page.wait_for_selector("#outcome:not([hidden])")
    assert page.get_attribute("#outcome", "data-outcome") == "RELEASE"

    store = Store.open(get_settings(home=screen["home"]).store_path)
    try:
        record = store.recent(1)[0].record
    finally:
        store.close()
    assert record["officer"] == NUMBER and record["outcome"] == "RELEASE"
    plate_digits = record["plate"][2:]

    # The shift's paper trail, while it runs: the PDF (Chinese or English words) and the CSV.
    with page.expect_download() as download:
        page.click("#shift-links a.shift-pdf")
    pdf = tmp_path / f"shift-{lang}.pdf"
    download.value.save_as(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert NUMBER in text and plate_digits in text
    assert reasons.outcome_words("RELEASE", lang) in text
    assert ("执勤班次记录" if lang == "zh" else "Shift record") in text

    # F8 ends the shift: the overlay is back, with the ended shift's record to download.
    page.keyboard.press("F8")
    page.wait_for_selector("body[data-phase=signin]")
    page.wait_for_selector("#signin-last:not([hidden])")
    screenshot(page, f"shift-ended-{lang}")
    with page.expect_download() as download:
        page.click("#signin-last a.shift-csv")
    csv_path = tmp_path / f"shift-{lang}.csv"
    download.value.save_as(csv_path)
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    content = raw.decode("utf-8-sig")
    assert f"{NUMBER} {NAME}" in content and "RELEASE" in content and plate_digits in content
    for person in record["occupants"]:
        assert person["name"] not in content  # nobody aboard is named on the paper trail
