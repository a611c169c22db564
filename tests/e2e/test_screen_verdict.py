"""The officer's verdict in a real browser (issue 12, points 2, 3, 5, 7 and 9), in Chinese and English.

A real `checkpoint run` whose camera shows nothing; passes arrive as a handheld scanner or the paste field sends
them. Before the decision the pass card is neutral; after it the outcome's colour fills the screen, a tone per
outcome sounds (or not, muted) and stays until the officer takes the next vehicle. A pass decided here moments ago
comes back as a repeat, never as a fresh card; R re-measures, linked to the first decision. A fever names who and
the value and where the person was sent; unlisted and missing people are named; a forged pass shows what it claims,
marked untrusted, and what the policy does with a misused pass. The page fits a laptop's screen.
"""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import pytest

from checkpoint_client.screen.words import translate
from checkpoint_client.store import Store
from passcore import reasons
from tests.e2e.conftest import BIN, screenshot
from tests.e2e.screen_fixtures import camera_folder, start_screen, stop_screen
from tests.framegen import blank_frame, make_sequence

__all__ = ["camera_folder"]  # the fixture, imported for pytest

COLOURS = {  # screen.css: the outcome's colour on <body> once decided
    "RELEASE": "rgb(13, 107, 42)",
    "ESCORT_REQUIRED": "rgb(242, 169, 0)",
    "REFUSE": "rgb(179, 18, 15)",
    "MEDICAL_HOLD": "rgb(91, 26, 140)",
}
NEUTRAL = "rgb(238, 241, 244)"


@pytest.fixture
def quiet_screen(server, camera_folder, tmp_path):
    """start(lang) -> a new laptop running `checkpoint run` on a camera that shows no pass."""
    folder = tmp_path / "empty-camera"
    folder.mkdir()
    for k in range(3):
        cv2.imwrite(str(folder / f"frame-{k:04d}.jpg"), blank_frame(50 + k))
    processes = []

    def start(lang: str) -> dict:
        screen = start_screen(server, tmp_path / f"laptop-{lang}", folder, lang, f"G312 花桥卡口 {lang}")
        processes.append(screen["process"])
        return screen | {"texts": camera_folder["texts"]}

    yield start
    for process in processes:
        stop_screen(process)


def open_page(new_page, screen: dict, lang: str, size=(1366, 768)):
    page = new_page(lang)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(screen["url"])
    page.wait_for_function("() => Screen.policy && Screen.policy.fever_threshold_c")
    return page


def present(page, text: str) -> None:
    """A handheld scanner (or the paste field) sends the pass."""
    page.fill("#paste", text)
    page.press("#paste", "Enter")


def phase(page, expected: str) -> None:
    try:
        page.wait_for_function("p => document.body.dataset.phase === p", arg=expected)
    except Exception:
        state = page.evaluate("() => ({...document.body.dataset, focus: document.activeElement?.id})")
        screenshot(page, f"verdict-failed-phase-{expected}")
        raise AssertionError(f"phase {expected!r} never came; the page: {state}")


def decided(page, outcome: str) -> None:
    try:
        page.wait_for_function(
            "o => document.body.dataset.phase === 'decided' && document.body.dataset.outcome === o",
            arg=outcome,
        )
    except Exception:
        screenshot(page, "verdict-failed-no-outcome")
        raise


def background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def press(page, keys) -> None:
    """Keys at a person's speed (a burst at scanner speed is a scan: tests/e2e/test_scanner_input.py)."""
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(90)


def records(screen: dict) -> list[dict]:
    store = Store.open(Path(screen["home"]) / "db" / "checkpoint.sqlite3")
    try:
        return [c.record | {"id": c.id} for c in store.recent()]
    finally:
        store.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_neutral_card_then_colour_and_sound_and_a_repeat_is_remeasured(quiet_screen, new_page, lang):
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    screen = quiet_screen(lang)
    page = open_page(new_page, screen, lang)
    phase(page, "waiting")
    assert page.get_attribute("body", "data-outcome") is None
    text = screen["texts"]["two-people"]

    # Before the decision: a check mark on a neutral card, no outcome colour anywhere.
    present(page, text)
    phase(page, "checking")
    verdict = page.locator("#verdict")
    assert "✔ " + reasons.describe("PASS_VALID", lang) in verdict.inner_text()
    assert verdict.get_attribute("data-kind") == "checked"
    assert (
        page.evaluate("getComputedStyle(document.querySelector('#verdict')).backgroundColor")
        == "rgb(255, 255, 255)"
    )
    assert background(page) == NEUTRAL and page.get_attribute("body", "data-outcome") is None
    screenshot(page, f"verdict-1-checking-{lang}")

    # Refused (the licence does not match): red fills the screen, the refusal's tone sounds, and it stays.
    press(page, ["3", "6", "5", "Enter", "3", "6", "6", "Enter"])
    page.check("input[name=check-plate][value=yes]")
    page.check("input[name=check-person][value=yes]")
    page.check("input[name=check-licence][value=no]")
    page.click("#decide")
    decided(page, "REFUSE")
    assert background(page) == COLOURS["REFUSE"]
    assert page.get_attribute("body", "data-sound") == "REFUSE" and page.evaluate("Sound.played") == [
        "REFUSE"
    ]
    assert reasons.describe("LICENCE_MISMATCH", lang) in page.inner_text("#outcome")
    screenshot(page, f"verdict-2-refused-{lang}")

    # The same pass is scanned again while the refusal is shown: it waits behind the outcome, never replaces it.
    present(page, text)
    page.wait_for_selector("#outcome-waiting:not([hidden])")
    assert page.get_attribute("body", "data-phase") == "decided"
    screenshot(page, f"verdict-3-next-waiting-{lang}")

    # Esc: it is a repeat — what was decided here and when, on a neutral card; never a fresh card.
    page.keyboard.press("Escape")
    phase(page, "repeat")
    first = records(screen)[0]
    card = page.inner_text("#repeat")
    at = datetime.fromisoformat(first["decided_at"]).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    assert t("repeat_title", time=at, outcome=reasons.outcome_words("REFUSE", lang)) in card
    assert reasons.describe("LICENCE_MISMATCH", lang) in card
    assert background(page) == NEUTRAL and page.locator("#vehicle").is_hidden()
    screenshot(page, f"verdict-4-repeat-{lang}")

    # R: a re-measure, a new decision linked to the first one.
    page.keyboard.press("r")
    phase(page, "checking")
    assert page.evaluate("document.activeElement.id") == "temp-0"
    press(page, ["3", "6", "5", "Enter", "3", "6", "6", "Enter", "Enter", "Enter"])
    decided(page, "RELEASE")
    assert background(page) == COLOURS["RELEASE"] and page.evaluate("Sound.played") == ["REFUSE", "RELEASE"]
    newest, earlier = records(screen)[:2]
    assert newest["repeat_of"] == earlier["id"] and earlier["outcome"] == "REFUSE"
    assert t("remeasured", time=at) in page.inner_text("#outcome")
    screenshot(page, f"verdict-5-remeasure-released-{lang}")

    # Enter takes the next vehicle (none here): the colour goes, the screen waits.
    page.keyboard.press("Enter")
    phase(page, "waiting")
    assert background(page) == NEUTRAL and page.get_attribute("body", "data-outcome") is None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_fever_names_who_and_the_value_and_where_they_were_sent_muted(quiet_screen, new_page, lang):
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    screen = quiet_screen(lang)
    page = open_page(new_page, screen, lang)
    page.click("#sound")  # mute: remembered by this browser
    assert page.inner_text("#sound") == t("sound_off")
    present(page, screen["texts"]["two-people"])
    phase(page, "checking")
    press(page, ["3", "6", "5", "Enter", "3", "8", "2"])
    page.wait_for_selector("#referral-row:not([hidden])")  # at the threshold: where is she sent?
    page.fill("#referral-text", "昆山市第一人民医院发热门诊")
    screenshot(page, f"verdict-6-fever-form-{lang}")
    page.focus("#temp-1")
    press(page, ["Enter", "Enter", "Enter"])
    decided(page, "MEDICAL_HOLD")
    outcome = page.inner_text("#outcome")
    assert t("fever_people", names=t("fever_person", name="吴芳", value="38.2")) in outcome
    assert t("fever_next") in outcome and t("fever_sent", place="昆山市第一人民医院发热门诊") in outcome
    assert background(page) == COLOURS["MEDICAL_HOLD"]
    assert page.get_attribute("body", "data-sound") == "muted" and page.evaluate("Sound.played") == []
    assert records(screen)[0]["referral"] == "昆山市第一人民医院发热门诊"
    screenshot(page, f"verdict-7-fever-{lang}")
    page.reload()
    page.wait_for_function("() => Screen.policy && Screen.policy.fever_threshold_c")
    assert page.inner_text("#sound") == t("sound_off")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_unlisted_and_missing_people_are_named_in_the_outcome(quiet_screen, new_page, lang):
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    screen = quiet_screen(lang)
    page = open_page(new_page, screen, lang)
    present(page, screen["texts"]["kunshan"])  # 张伟 (driver), 李娜 and 王强 on the pass
    phase(page, "checking")
    vehicle = page.get_attribute("body", "data-vehicle")
    present(page, screen["texts"]["two-people"])  # the next car's pass, scanned while this one is checked
    page.wait_for_function("() => !document.querySelector('#queue').hidden")
    assert page.get_attribute("body", "data-vehicle") == vehicle and t("queue", n=1) in page.inner_text(
        "#queue"
    )
    page.focus("#temp-0")
    names = [page.inner_text(f"#people tr:nth-child({i}) td.pname") for i in (1, 2, 3)]
    missing = names[2]
    press(page, ["3", "6", "5", "Enter", "3", "6", "6", "Enter", "-"])  # the third is not aboard
    page.keyboard.press("+")  # someone who is not on the pass
    page.keyboard.type("陌生人", delay=120)
    press(page, ["Enter", "3", "6", "7", "Enter", "Enter", "Enter"])
    decided(page, "REFUSE")
    outcome = page.inner_text("#outcome")
    assert t("unlisted_people", names="陌生人") in outcome and t("absent_people", names=missing) in outcome
    assert t("next_waiting") in outcome  # the other car waits behind the outcome
    page.evaluate("Panels.refresh()")  # and the header still counts it after a status refresh
    assert t("queue", n=1) in page.inner_text("#queue")
    assert page.get_attribute("body", "data-sound") == "REFUSE"
    record = records(screen)[0]
    assert record["absent"] == [missing] and "OCCUPANT_NOT_ON_PASS" in record["reasons"]
    screenshot(page, f"verdict-8-unlisted-absent-{lang}")


def test_answers_overtaken_by_the_next_scan_neither_wipe_it_nor_undo_the_queue(quiet_screen, new_page):
    """Under load the desk's answer to a pasted code can come late: after the officer pasted the next code (it
    must stay in the field), and after the event stream told of a newer queue (the count must not go back)."""
    t = lambda key, **values: translate(key, "zh", **values)  # noqa: E731
    screen = quiet_screen("zh")
    texts = screen["texts"]
    page = open_page(new_page, screen, "zh")
    held: list = []  # the desk has taken the scan; its answer waits until the test lets it through
    holding = [True]
    page.route(
        "**/api/vehicle/scan",
        lambda route: held.append((route, route.fetch())) if holding[0] else route.continue_(),
    )

    def hold_answer(text: str):
        present(page, text)
        while not held:
            page.wait_for_timeout(20)
        return held.pop()

    def let_through(answer) -> None:
        route, response = answer
        with page.expect_response("**/api/vehicle/scan"):
            route.fulfill(response=response)
        page.evaluate("() => new Promise((done) => setTimeout(done, 200))")  # the page has read it

    def queue_shows(n: int) -> None:
        page.wait_for_function(
            "text => document.querySelector('#queue').textContent === text", arg=t("queue", n=n)
        )

    first = hold_answer(texts["kunshan"])
    phase(page, "checking")  # the event stream shows the vehicle before its answer comes
    page.fill("#paste", texts["two-people"])
    let_through(first)
    assert page.input_value("#paste") == texts["two-people"]
    second = hold_answer(texts["two-people"])
    queue_shows(1)
    holding[0] = False
    present(page, texts["forged"])
    queue_shows(2)
    let_through(second)  # "1 waiting", from before the third scan
    assert page.inner_text("#queue") == t("queue", n=2) and page.input_value("#paste") == ""
    page.evaluate("Panels.refresh()")
    assert page.inner_text("#queue") == t("queue", n=2)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_forged_pass_shows_what_it_claims_untrusted_and_the_misuse_policy(quiet_screen, new_page, lang):
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    screen = quiet_screen(lang)
    page = open_page(new_page, screen, lang)
    present(page, screen["texts"]["forged"])
    phase(page, "checking")
    assert page.locator("#verdict").get_attribute("data-kind") == "bad"  # its warning colour: not a release
    assert t("misuse_policy_refuse") in page.inner_text("#verdict")
    assert page.locator("#details").is_hidden() and page.locator("#claimed").is_visible()
    assert t("claimed_title") in page.inner_text("#claimed")
    screenshot(page, f"verdict-9-forged-{lang}")
    page.keyboard.type("苏E·B9999", delay=150)  # at a person's speed: a scanner's burst is a scan
    press(page, ["Enter", "Enter", "Enter"])
    page.keyboard.type("赵六", delay=150)
    press(page, ["Enter", "3", "6", "5", "Enter", "Enter"])
    decided(page, "REFUSE")
    assert records(screen)[0]["claimed"]["reason"] == records(screen)[0]["verification"]
    present(page, screen["texts"]["two-people"])  # the next car, scanned while the refusal is still shown
    page.wait_for_selector("#outcome-waiting:not([hidden])")
    page.evaluate("Panels.refresh()")  # the desk holds it as its current vehicle, not queued: still counted
    assert t("queue", n=1) in page.inner_text("#queue")


@pytest.mark.parametrize("size", [(1366, 768), (1280, 720)])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_four_people_and_the_decide_button_fit_a_laptop_screen(quiet_screen, new_page, lang, size):
    screen = quiet_screen(lang)
    page = open_page(new_page, screen, lang, size)
    present(page, screen["texts"]["kunshan"])  # three on the pass
    phase(page, "checking")
    press(page, ["3", "6", "5", "Enter", "3", "8", "2", "Enter", "3", "6", "4", "Enter"])
    page.keyboard.press("+")
    page.keyboard.type("陌生人", delay=120)
    press(page, ["Enter", "3", "6", "7"])
    page.wait_for_selector("#referral-row:not([hidden])")
    box = page.locator("#decide").bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size[1], box
    assert box["x"] + box["width"] <= size[0]
    screenshot(page, f"verdict-10-four-people-{lang}-{size[0]}x{size[1]}")
    # A vehicle without a pass has more to type (plate, origin, enterprise): it fits too.
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    phase(page, "waiting")  # the drop is a request: until it answers, the old card (four rows) is still up
    page.click("#nopass")
    phase(page, "checking")
    page.wait_for_selector("#nopass-fields:not([hidden])")
    page.focus("#temp-0")  # off the plate field first: its province keys go, the page below moves up
    for _ in range(3):
        page.click("#add-person")
        page.keyboard.type("乘员", delay=120)
    assert page.locator("#people tr").count() == 4
    page.focus("#plate")  # the province keys show under the plate field
    page.wait_for_selector("#provinces")
    box = page.locator("#decide").bounding_box()
    assert box is not None and box["y"] + box["height"] <= size[1], box
    screenshot(page, f"verdict-11-no-pass-four-{lang}-{size[0]}x{size[1]}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_pass_left_in_the_cameras_view_after_its_decision_is_not_a_new_vehicle(
    server, camera_folder, new_page, tmp_path, lang
):
    """The pass stays up at the window after the refusal; a glare hides it 4 s and the camera reads it again."""
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    text = camera_folder["texts"]["two-people"]
    folder = tmp_path / "held-camera"
    folder.mkdir()
    # 4 s empty lane, 12 s the pass, 4 s hidden, 12 s the pass again, 4 s empty (10 frames a second).
    for index, frame in enumerate(make_sequence([text, text], hold=120, gap=40, seed=11)):
        cv2.imwrite(str(folder / f"frame-{index:04d}.jpg"), frame.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    screen = start_screen(server, tmp_path / f"laptop-held-{lang}", folder, lang, f"G312 held {lang}")
    try:
        page = open_page(new_page, screen, lang)
        phase(page, "checking")
        press(page, ["3", "6", "5", "Enter", "3", "6", "6", "Enter"])
        page.check("input[name=check-plate][value=yes]")
        page.check("input[name=check-person][value=yes]")
        page.check("input[name=check-licence][value=no]")
        page.click("#decide")
        decided(page, "REFUSE")
        page.wait_for_selector("#camera-hint.ended", timeout=120_000)  # every frame has been read
        assert page.get_attribute("body", "data-phase") == "decided"  # the refusal is still on the screen
        assert page.locator("#outcome-waiting").is_hidden() and page.locator("#queue").is_hidden()
        assert [r["outcome"] for r in records(screen)] == ["REFUSE"]
        screenshot(page, f"verdict-14-still-in-view-{lang}")
        page.keyboard.press("Escape")
        phase(page, "waiting")  # nothing came back by itself
        assert t("waiting_scan") in page.inner_text("#idle")
    finally:
        stop_screen(screen["process"])


HOSPITALS = ("昆山市第一人民医院发热门诊", "昆山市中医医院发热门诊")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_policy_lists_where_fever_is_sent_and_judges_misuse_as_no_pass(
    server, quiet_screen, new_page, lang
):
    """Runs last in this module: it publishes a new policy for the demo server."""
    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    places = [arg for place in HOSPITALS for arg in ("--fever-referral", place)]
    subprocess.run(
        [str(BIN / "checkpass"), "policy", "set", *places, "--pass-misuse", "as_no_pass"],
        env=server["env"],
        cwd=server["home"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    screen = quiet_screen(lang)  # enrolled after the change: it holds the new policy
    page = open_page(new_page, screen, lang)
    page.wait_for_function("() => Screen.policy.pass_misuse === 'as_no_pass'")

    present(page, screen["texts"]["forged"])
    phase(page, "checking")
    assert t("misuse_policy_as_no_pass") in page.inner_text("#verdict")
    assert page.locator("#verdict").get_attribute("data-kind") == "bad"
    screenshot(page, f"verdict-12-forged-as-no-pass-{lang}")
    press(page, ["Escape", "Escape"])
    phase(page, "waiting")

    present(page, screen["texts"]["two-people"])
    phase(page, "checking")
    press(page, ["3", "6", "5", "Enter", "3", "8", "2", "Enter"])
    assert page.evaluate("document.activeElement.id") == "referral-choice"  # the next stop: required here
    assert page.locator("#referral-text").is_hidden()
    press(page, ["Enter", "Enter", "Enter"])  # past it without choosing, confirm, decide
    page.wait_for_selector("[data-error-for=referral]:not(:empty)")
    assert t("E_REFERRAL_NEEDED") in page.inner_text("[data-error-for=referral]")
    assert page.evaluate("document.activeElement.id") == "referral-choice" and records(screen) == []
    screenshot(page, f"verdict-13-referral-needed-{lang}")
    page.select_option("#referral-choice", HOSPITALS[1])
    page.click("#decide")
    decided(page, "MEDICAL_HOLD")
    assert t("fever_sent", place=HOSPITALS[1]) in page.inner_text("#outcome")
    assert records(screen)[0]["referral"] == HOSPITALS[1]
