"""An officer works the checkpoint screen in a real browser, keyboard first, in Chinese and in English.

A real `checkpoint run` reads a folder of webcam-like frames of real passes; the officer processes a valid pass
with two people (the common case: 10 keys), a fever, a hard-hit vehicle whose enterprise sends staff (answer
synced from the real server, hand-over recorded, the waiting limit passed), a forged pass, a stray QR code and
a vehicle without a pass. Every decision is in the local store before its colour shows, and reaches the server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from checkpoint_client.screen.words import translate
from checkpoint_client.store import Store
from passcore import reasons
from tests.e2e.conftest import screenshot
from tests.e2e.screen_fixtures import camera_folder, officer_screen

__all__ = ["camera_folder", "officer_screen"]  # fixtures, imported for pytest

# The common case, as the officer types it: two temperatures (365 = 36.5), the checks, the decision.
COMMON_CASE = ["3", "6", "5", "Enter", "3", "6", "6", "Enter", "Enter", "Enter"]


def press(page, keys) -> None:
    for key in keys:
        page.keyboard.press(key)


def next_vehicle(page, before: str | None, key: str = "Escape") -> str:
    """The next vehicle: the outcome stays until the officer takes the next one (Esc); a pass scanned while the
    officer was busy waits behind it. With the desk empty, the next scan shows by itself."""
    if key == "Escape" and page.locator("#outcome").is_visible():
        page.keyboard.press(key)
    elif key and key != "Escape":
        page.keyboard.press(key)
    page.wait_for_function(
        "before => document.body.dataset.vehicle && document.body.dataset.vehicle !== before", arg=before
    )
    return page.get_attribute("body", "data-vehicle")


def outcome(page) -> str:
    try:
        page.wait_for_selector("#outcome:not([hidden])")
    except Exception:
        screenshot(page, "screen-failed-no-outcome")  # what the officer saw instead
        raise
    return page.get_attribute("#outcome", "data-outcome")


def text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def wait_text(page, selector: str, expected: str) -> None:
    page.wait_for_function(
        "([s, e]) => document.querySelector(s) && document.querySelector(s).innerText.includes(e)",
        arg=[selector, expected],
        timeout=30_000,
    )


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_officer_processes_a_queue_of_vehicles(officer_screen, new_page, lang):
    screen = officer_screen(lang)
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    page = new_page(lang)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.on("dialog", lambda dialog: dialog.accept())
    page.clock.install()
    page.goto(screen["url"])
    assert page.locator("html").get_attribute("lang") == lang

    # 1. A valid pass, two people, normal temperatures: 10 keys, no mouse.
    vehicle = next_vehicle(page, None, key="")
    assert reasons.describe("PASS_VALID", lang) in text(page, "#verdict")
    assert "苏E·F6789" in text(page, "#plate-line") and "吴芳" in text(page, "#details")
    assert page.evaluate("document.activeElement.id") == "temp-0"
    screenshot(page, f"screen-1-valid-pass-{lang}")
    press(page, COMMON_CASE)
    assert len(COMMON_CASE) == 10 and outcome(page) == "RELEASE"
    assert reasons.outcome_words("RELEASE", lang) in text(page, "#outcome")
    assert t("recorded", seq=1) in text(page, "#outcome")
    screenshot(page, f"screen-2-release-{lang}")

    # 2. Three people, one with a fever: medical hold, naming her.
    vehicle = next_vehicle(page, vehicle)
    assert "张伟" in text(page, "#people") and "王强" in text(page, "#people")
    press(page, ["3", "6", "5", "Enter", "3", "8", "2", "Enter", "3", "6", "4", "Enter", "Enter", "Enter"])
    assert outcome(page) == "MEDICAL_HOLD"
    assert t("fever_people", names=t("fever_person", name="李娜", value="38.2")) in text(page, "#outcome")
    screenshot(page, f"screen-3-fever-{lang}")

    # 3. From the hard-hit area: the enterprise must come for it.
    vehicle = next_vehicle(page, vehicle)
    assert "鄂A·D12345" in text(page, "#plate-line")
    press(page, ["3", "6", "8", "Enter", "Enter", "Enter"])
    assert outcome(page) == "ESCORT_REQUIRED"
    assert reasons.describe("HARD_HIT_VEHICLE", lang) in text(page, "#outcome")
    wait_text(page, "#escorts", "鄂A·D12345")
    assert t("escort_unsent") in text(page, "#escorts")
    screenshot(page, f"screen-4-escort-required-{lang}")

    # 4. A forged pass: red, its contents not shown; refused after plate, driver and temperature.
    vehicle = next_vehicle(page, vehicle)
    assert "bad" in page.get_attribute("#verdict", "class")
    assert reasons.describe("PASS_SIGNATURE_INVALID", lang) in text(page, "#verdict")
    assert page.locator("#details").is_hidden()
    screenshot(page, f"screen-5-forged-{lang}")
    page.keyboard.type("苏E·B9999")
    press(page, ["Enter", "Enter", "Enter"])
    page.keyboard.type("赵六")
    press(page, ["Enter", "3", "6", "5", "Enter", "Enter"])
    assert outcome(page) == "REFUSE"

    # 5. A stray QR code: a clear message, not a crash; then a vehicle without a pass on the same screen.
    vehicle = next_vehicle(page, vehicle)
    assert t("not_a_pass") in text(page, "#verdict")
    screenshot(page, f"screen-6-not-a-pass-{lang}")
    vehicle = next_vehicle(page, vehicle, key="n")
    assert t("vehicle_without_pass") in text(page, "#verdict")
    page.keyboard.type("浙A·12345")
    page.keyboard.press("Enter")
    page.keyboard.type("330100")
    wait_text(page, "[data-field=vehicle_origin]", "浙江省 杭州市")
    press(page, ["Enter", "Enter"])
    page.keyboard.type("孙磊")
    press(page, ["Enter", "4", "5", "Enter", "Enter"])  # 45 °C: a re-measure, nothing recorded
    wait_text(page, "[data-error-for=temp-0]", "43.0")
    assert page.evaluate("document.activeElement.id") == "temp-0"
    page.fill("#temp-0", "")
    press(page, ["3", "6", "7", "Enter", "Enter"])
    assert outcome(page) == "RELEASE"
    screenshot(page, f"screen-7-no-pass-{lang}")

    # 6. Sync: the decisions go up, the enterprise answers (its text is shown as text), the hand-over.
    page.click("#sync-now")
    wait_text(page, "#escorts", t("escort_open"))
    wait_text(page, "#h-pending", t("pending", n=0))
    store = Store.open(screen["home"] / "db" / "checkpoint.sqlite3")
    try:
        [escort] = store.escorts()
        eta = (datetime.now(UTC) + timedelta(minutes=40)).astimezone(ZoneInfo("Asia/Shanghai"))
        screen["bureau"].answer_escort(
            "demo-enterprise-wuhan",
            escort["server_id"],
            staff="周敏 <b>主管</b>",
            phone="138 1234 5678",
            eta=eta.strftime("%Y-%m-%dT%H:%M"),
        )
        page.click("#sync-now")
        wait_text(page, "#escorts", "周敏 <b>主管</b>")  # literally: the markup is text, not markup
        assert page.locator("#escorts b").count() == 0
        assert t("escort_answered") in text(page, "#escorts")
        page.clock.fast_forward("01:01:00")  # an hour passes: over the policy's 60-minute limit
        wait_text(page, "#escorts", t("over_limit", limit=60))
        screenshot(page, f"screen-8-escort-late-{lang}")
        # The hand-over dialog: who took the vehicle (test_escort_handover).
        page.click("#escorts button.handover")
        page.wait_for_selector("#handover-dialog[open]")
        page.keyboard.type("周敏", delay=120)
        page.keyboard.press("Enter")
        page.keyboard.type("1234", delay=120)
        page.keyboard.press("Enter")
        page.wait_for_selector("#handover-confirmation:not([hidden])")
        page.keyboard.press("Enter")
        wait_text(page, "#escorts", t("escorts_none"))
        page.click("#sync-now")
        page.wait_for_function("() => true")
        for _ in range(100):
            done = store.escorts(include_done=True)[0]
            if done["handover_synced"]:
                break
            page.wait_for_timeout(200)
        assert done["status"] == "handed_over" and done["handover_synced"]
        outcomes = [c.record["outcome"] for c in reversed(store.recent())]
        assert outcomes == ["RELEASE", "MEDICAL_HOLD", "ESCORT_REQUIRED", "REFUSE", "RELEASE"]
        assert store.verify() == 5 and store.pending_count() == 0
    finally:
        store.close()
    assert len(page.locator("#recent li").all()) == 5
