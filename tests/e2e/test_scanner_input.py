"""Input at a busy checkpoint, in a real browser (issue 12 points 1, 5 and 8): a handheld scanner types a pass at
scanner speed wherever the focus is — into a temperature box, over a verdict, with a prefix, a suffix and Tab, in
full width, in lower case with Shift for the symbols, while the sign-in overlay is up — and none of it lands in a
field or fires a shortcut; the officer's own typing at human speed works as before. What was typed for a vehicle
comes back after a scan interrupted it, a reload, and the program killed and started again. Province keys type 苏.

The screens here have no camera (`--source none`): every pass arrives by the scanner, typed by Playwright.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from checkpoint_client.screen.words import translate
from passcore import reasons
from tests.e2e.conftest import BIN, _free_port, screenshot
from tests.e2e.screen_fixtures import camera_folder, start_screen, stop_screen, wait_serving

__all__ = ["camera_folder"]  # a fixture, imported for pytest: it issues the passes (its frames are not used)

SCANNER_MS = 5  # a scanner's keystrokes: a few milliseconds apart
HUMAN_MS = 120  # a quick officer


@pytest.fixture
def screens(server, tmp_path):
    """start(lang, **scanner settings) -> a screen without a camera; stopped (or killed) at the end."""
    processes = []

    def start(lang: str, **settings: str) -> dict:
        # A test machine running many browsers stalls now and then: the scanner's keys (5 ms apart) may average
        # more than the default 50 ms over the first two; a person's (120 ms apart) never average under 100.
        settings = {"gap_ms": "100"} | settings
        env = {f"CHECKPOINT_SCANNER_{key.upper()}": value for key, value in settings.items()}
        bureau = dict(server, env=server["env"] | env)
        screen = start_screen(bureau, tmp_path / f"laptop-{lang}", Path("none"), lang, f"扫码枪卡口 {lang}")
        screen["env"] = bureau["env"] | {"CHECKPOINT_HOME": str(screen["home"])}
        processes.append(screen["process"])
        return screen

    def restart(screen: dict, lang: str) -> dict:
        """`checkpoint run` again on the same laptop (after it was killed)."""
        port = _free_port()
        command = [str(BIN / "checkpoint"), "run", "--source", "none", "--port", str(port), "--no-browser"]
        process = subprocess.Popen(
            [*command, "--lang", lang],
            env=screen["env"],
            cwd=screen["home"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}/"
        wait_serving(url, process)
        return screen | {"url": url, "process": process}

    start.restart = restart  # type: ignore[attr-defined]
    yield start
    for process in processes:
        if process.poll() is None:
            stop_screen(process)


def open_screen(new_page, url: str, lang: str):
    page = new_page(lang)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(url)
    page.on("pageerror", lambda error: print("page error:", error))
    page.wait_for_function("() => typeof Scanner === 'object' && document.body.dataset.phase")
    page.evaluate("Scanner.config")  # the scanner's settings are in
    return page


def scan(page, text: str, end: str = "Enter", delay: int = SCANNER_MS) -> None:
    """The scanner types ``text`` and its end keys ("Enter", "Tab", "Enter Enter" for CR LF); returns once the
    desk has answered."""
    before = int(page.evaluate("Number(document.body.dataset.scans || 0)"))
    page.keyboard.type(text, delay=delay)
    for key in end.split():
        page.keyboard.press(key)
    page.wait_for_function("n => Number(document.body.dataset.scanned || 0) > n", arg=before)


def shown(page, before: str | None = None) -> str:
    page.wait_for_function(
        "before => document.body.dataset.vehicle && document.body.dataset.vehicle !== before"
        " && document.body.dataset.phase === 'checking'",
        arg=before,
    )
    return page.get_attribute("body", "data-vehicle")


def take_next(page, before: str | None) -> str:
    """The next vehicle: past the outcome (Esc) if it is still shown."""
    if page.locator("#outcome").is_visible():
        page.keyboard.press("Escape")
    return shown(page, before)


def values(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "nodes => nodes.map((n) => n.value)")


def people(page) -> list[str]:
    return page.eval_on_selector_all(
        "#people tr", "rows => rows.map((r) => r.cells[1].innerText || r.querySelector('input').value)"
    )


def no_scan_text_anywhere(page) -> None:
    """Nothing of a QR text in any field of the page (the paste field included)."""
    typed = page.eval_on_selector_all("input:not([type=radio])", "nodes => nodes.map((n) => n.value)")
    assert not any("CP1" in value.upper() or len(value) > 20 for value in typed), typed


def decide_now(page) -> str:
    page.click("#decide")
    try:
        page.wait_for_function("() => document.body.dataset.phase === 'decided'")
    except Exception:
        screenshot(page, "scanner-failed-no-outcome")
        raise AssertionError(page.inner_text("#vehicle")) from None
    return page.get_attribute("body", "data-outcome")


def draft_key(page) -> str | None:
    """The key of the current vehicle's draft."""
    return page.evaluate(
        """async () => {
            const token = document.querySelector("meta[name=screen-token]").content;
            const answer = await fetch("/api/vehicle", { headers: { "X-Screen-Token": token } });
            const v = (await answer.json()).current;
            return v ? Drafts.keyOf(v) : null;
        }"""
    )


def draft(page, key: str | None = None) -> dict | None:
    """A draft as the laptop holds it (the current vehicle's by default)."""
    key = key or draft_key(page)
    return (
        page.evaluate(
            """async (key) => {
            const token = document.querySelector("meta[name=screen-token]").content;
            const answer = await fetch("/api/drafts?key=" + encodeURIComponent(key), { headers: { "X-Screen-Token": token } });
            return (await answer.json()).form;
        }""",
            key,
        )
        if key
        else None
    )


def wait_saved(page, check) -> dict:
    for _ in range(100):
        saved = draft(page)
        if saved and check(saved):
            return saved
        page.wait_for_timeout(100)
    pytest.fail(f"the draft was not saved as expected: {draft(page)}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_scan_over_a_field_or_a_verdict_never_lands_in_the_form(screens, camera_folder, new_page, lang):
    texts = camera_folder["texts"]
    screen = screens(lang)
    page = open_screen(new_page, screen["url"], lang)

    # 1. The first pass, scanned with nothing focused; the officer types a temperature at human speed.
    scan(page, texts["two-people"])
    first = shown(page)
    assert "苏E·F6789" in page.inner_text("#plate-line")
    assert page.evaluate("document.activeElement.id") == "temp-0"
    page.keyboard.type("365", delay=HUMAN_MS)
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "temp-1"
    page.keyboard.type("3", delay=HUMAN_MS)
    wait_saved(page, lambda form: form["people"][1]["temperature"] == "3")

    # 2. The next pass is scanned into the focused temperature box: "+" never adds a person, no digit lands;
    #    it waits behind the vehicle being handled.
    scan(page, texts["kunshan"])
    page.wait_for_timeout(500)  # time for anything that would have landed to show
    assert page.get_attribute("body", "data-vehicle") == first
    assert len(people(page)) == 2 and page.locator("#people input.pname").count() == 0  # no phantom occupants
    assert values(page, "#people input[data-temp]") == ["36.5", "3"]
    assert page.evaluate("document.activeElement.id") == "temp-1"
    no_scan_text_anywhere(page)
    screenshot(page, f"scanner-1-over-a-field-{lang}")

    # 3. A vehicle without a pass comes first (the pass goes back to the queue), is dropped (Esc twice): the
    #    pass comes back with what was typed for it.
    page.click("#nopass")
    nopass = shown(page, first)
    assert translate("vehicle_without_pass", lang) in page.inner_text("#verdict")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    back = shown(page, nopass)
    assert "苏E·F6789" in page.inner_text("#plate-line")
    page.wait_for_function("() => document.body.dataset.draft === 'restored'")
    assert values(page, "#people input[data-temp]") == ["36.5", "3"]
    page.fill("#temp-1", "36.6")
    page.click("#confirm-all")
    assert decide_now(page) == "RELEASE"

    # 4. A verdict is shown and the focus is on "next": the "N" in the pass text starts no vehicle without a
    #    pass; the pass is next in line (ahead of the one queued in step 2), behind the outcome.
    assert page.evaluate("document.activeElement.id") == "next"
    scan(page, texts["wuhan"], end="Enter Enter")  # this scanner ends a code with CR LF: two Enters
    page.wait_for_timeout(500)
    assert page.get_attribute("body", "data-phase") == "decided"
    no_scan_text_anywhere(page)
    third = take_next(page, back)
    assert "鄂A·D12345" in page.inner_text("#plate-line")
    assert reasons.describe("PASS_VALID", lang) in page.inner_text("#verdict")
    assert page.locator("#people input.pname").count() == 0
    assert page.evaluate("document.body.dataset.scans") == "3"

    # 5. The officer's own typing, at human speed, works as before: "+" adds a person, N starts a vehicle.
    page.keyboard.type("368", delay=HUMAN_MS)
    page.keyboard.type("+", delay=HUMAN_MS)
    assert page.evaluate("document.activeElement.id") == "name-1"
    page.keyboard.type("Li Lei", delay=HUMAN_MS)
    assert values(page, "#people input.pname") == ["Li Lei"]
    assert values(page, "#temp-0") == ["368"]
    page.click("#drop")
    fourth = shown(page, third)  # the pass scanned in step 2
    assert "张伟" in page.inner_text("#people")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.body.dataset.phase === 'waiting'")
    page.keyboard.press("n")
    shown(page, fourth)
    assert translate("vehicle_without_pass", lang) in page.inner_text("#verdict")


def full_width(text: str) -> str:
    return "".join(
        "\u3000" if ch == " " else chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text
    )


def test_prefix_suffix_tab_full_width_lower_case_and_shift(screens, camera_folder, new_page):
    texts = camera_folder["texts"]
    screen = screens("zh", prefix="]Q1", suffix="#", end="tab")
    page = open_screen(new_page, screen["url"], "zh")

    # The scanner sends "]Q1" before the code, "#" after it and Tab at the end.
    scan(page, "]Q1" + texts["two-people"] + "#", end="Tab")
    first = shown(page)
    assert "苏E·F6789" in page.inner_text("#plate-line")
    assert reasons.describe("PASS_VALID", "zh") in page.inner_text("#verdict")

    # A full-width input method is on and the temperature box has the focus: "ＣＰ１：…" is the same pass text.
    page.focus("#temp-0")
    scan(page, full_width("]Q1" + texts["kunshan"] + "#"), end="Tab")
    page.wait_for_timeout(300)
    assert values(page, "#people input[data-temp]") == ["", ""]
    assert page.evaluate("document.activeElement.id") == "temp-0"
    no_scan_text_anywhere(page)

    # Caps Lock on (lower case), Shift pressed for each symbol, typed over the vehicle's form.
    page.focus("#temp-1")
    before = int(page.evaluate("Number(document.body.dataset.scans || 0)"))
    for ch in ("]Q1" + texts["wuhan"] + "#").lower():
        if not ch.isalnum() and ch != " ":
            page.keyboard.down("Shift")
            page.keyboard.type(ch)
            page.keyboard.up("Shift")
        else:
            page.keyboard.type(ch)
    page.keyboard.press("Tab")
    page.wait_for_function("n => Number(document.body.dataset.scanned || 0) > n", arg=before)
    page.wait_for_timeout(300)
    assert values(page, "#people input[data-temp]") == ["", ""]
    assert page.evaluate("document.activeElement.id") == "temp-1"  # the scanner's Tab moved nothing
    no_scan_text_anywhere(page)

    # Both were read as the passes they are: next in line, the latest scan first.
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    second = shown(page, first)
    assert "鄂A·D12345" in page.inner_text("#plate-line")
    assert reasons.describe("PASS_VALID", "zh") in page.inner_text("#verdict")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    shown(page, second)
    assert "张伟" in page.inner_text("#people")
    assert reasons.describe("PASS_VALID", "zh") in page.inner_text("#verdict")
    screenshot(page, "scanner-2-full-width-zh")


def test_a_scan_while_signing_in_is_held_not_typed_into_the_pin(screens, camera_folder, new_page):
    screen = screens("en")
    page = open_screen(new_page, screen["url"], "en")
    # The sign-in overlay as static/shift.js puts it up (this checkpoint has no officers, so it is not up by
    # itself): the page behind inert, body data-phase="signin", the PIN field focused.
    page.evaluate(
        """() => {
            document.getElementById("signin").hidden = false;
            document.querySelector("main").inert = true;
            document.body.dataset.phase = "signin";
            document.getElementById("signin-pin").focus();
        }"""
    )
    before = page.evaluate("Number(document.body.dataset.scans || 0)")
    page.keyboard.type(camera_folder["texts"]["two-people"], delay=SCANNER_MS)
    page.keyboard.press("Enter")
    page.wait_for_function("n => Number(document.body.dataset.scans || 0) > n", arg=before)
    assert page.input_value("#signin-pin") == "" and page.input_value("#signin-number") == ""
    assert page.get_attribute("body", "data-vehicle") is None
    assert translate("scanner_held", "en") in page.inner_text("#scanner-note")
    page.keyboard.type("2020", delay=HUMAN_MS)  # the officer's PIN still types
    page.wait_for_function("() => document.getElementById('signin-pin').value === '2020'")
    page.evaluate(
        """() => {
            document.getElementById("signin").hidden = true;
            document.querySelector("main").inert = false;
            document.body.dataset.phase = "waiting";
        }"""
    )
    shown(page)  # signed in: the held scan is the vehicle now
    assert "苏E·F6789" in page.inner_text("#plate-line")


def test_a_laptop_stalling_in_the_middle_of_a_scan_does_not_cut_it_in_two(screens, camera_folder, new_page):
    # A busy laptop can hold keystrokes back for a moment: a scan whose scanner ends with Enter waits it out
    # instead of sending a malformed half and queueing the other half as a second vehicle.
    screen = screens("zh")
    page = open_screen(new_page, screen["url"], "zh")
    text = camera_folder["texts"]["two-people"]
    before = page.evaluate("Number(document.body.dataset.scans || 0)")
    page.keyboard.type(text[:40], delay=SCANNER_MS)
    page.wait_for_timeout(800)  # longer than a code without an end key may pause (0.3 s)
    page.keyboard.type(text[40:], delay=SCANNER_MS)
    page.keyboard.press("Enter")
    page.wait_for_function("n => Number(document.body.dataset.scanned || 0) > n", arg=before)
    shown(page)
    assert page.evaluate("Number(document.body.dataset.scans)") == before + 1  # one scan, not two
    assert reasons.describe("PASS_VALID", "zh") in page.inner_text("#verdict")
    assert page.locator("#queue").inner_text() == ""  # no second half waiting


def test_typed_input_survives_a_reload_and_a_killed_program(screens, camera_folder, new_page):
    texts = camera_folder["texts"]
    screen = screens("zh")
    page = open_screen(new_page, screen["url"], "zh")
    scan(page, texts["two-people"])
    shown(page)
    page.keyboard.type("365", delay=HUMAN_MS)
    page.keyboard.press("Enter")
    page.keyboard.type("382", delay=HUMAN_MS)
    page.check("#decide-form input[name=check-plate][value=no]")
    page.check("#decide-form input[name=check-licence][value=yes]")
    page.fill("#referral-text", "昆山市第一人民医院发热门诊")  # 38.2 ℃: where the person is sent

    # The plate as read, typed with the province keys: the checkpoint is in Jiangsu, so 苏 is key 1.
    page.focus("#plate-read")
    keys = page.eval_on_selector_all("#provinces button", "nodes => nodes.map((n) => n.dataset.province)")
    assert keys[0] == "苏" and set(keys[1:5]) == {"沪", "浙", "皖", "鲁"} and len(keys) == 31
    screenshot(page, "scanner-3-province-keys-zh")
    page.keyboard.type("1", delay=HUMAN_MS)
    page.keyboard.type("e f6789", delay=HUMAN_MS)
    page.focus("#temp-0")  # leaving the field: the plate as the server keeps it
    try:
        page.wait_for_function("() => document.getElementById('plate-read').value === '苏E·F6789'")
    except Exception:
        raise AssertionError(
            repr(page.input_value("#plate-read")) + repr(values(page, "#people input[data-temp]"))
        )
    wait_saved(
        page,
        lambda form: (
            form["plate_read"] == "苏E·F6789"
            and form["people"][1]["temperature"] == "382"
            and form["referral"] == "昆山市第一人民医院发热门诊"
        ),
    )

    def typed_is_back(page) -> None:
        page.wait_for_function("() => document.body.dataset.draft === 'restored'")
        assert values(page, "#people input[data-temp]") == ["36.5", "382"]
        assert page.is_checked("input[name=check-plate][value=no]")
        assert page.is_checked("input[name=check-licence][value=yes]")
        assert not page.is_checked("input[name=check-person][value=yes]")
        assert page.input_value("#plate-read") == "苏E·F6789" and page.is_visible("#plate-read")
        assert page.input_value("#referral-text") == "昆山市第一人民医院发热门诊"
        assert page.is_visible("#referral-row")

    page.reload()
    shown(page)
    typed_is_back(page)
    screenshot(page, "scanner-4-draft-after-reload-zh")

    # The program is killed (no clean shutdown) and started again; the pass is read again.
    screen["process"].kill()
    screen["process"].wait(timeout=15)
    again = screens.restart(screen, "zh")
    page = open_screen(new_page, again["url"], "zh")
    scan(page, texts["two-people"])
    shown(page)
    typed_is_back(page)

    # Decided: the draft is gone.
    key = draft_key(page)
    assert key and key.startswith("pass:") and draft(page, key) is not None
    page.fill("#temp-1", "36.6")
    page.check("input[name=check-plate][value=yes]")
    page.check("input[name=check-person][value=yes]")
    assert decide_now(page) == "RELEASE"
    for _ in range(50):
        if draft(page, key) is None:
            break
        page.wait_for_timeout(100)
    assert draft(page, key) is None
