"""Bus mode in a real browser (issue 14), in Chinese and English: a bus of 45 on a personnel pass, its six
manifest pages (``manifest.page_count(45)`` at passcore's page size) in any order (one twice: "第 3 页已扫", one
before the pass), a roll call typed on the keyboard — one fever, two from the hard-hit area, one absent — the rest
normal and the decision: each passenger's disposition on the outcome, the record stored with its bus before it is
shown. A second bus, all normal, measures the keys from the first scan to the decision (docs/performance.md, "Bus
roll call"); someone found aboard off the manifest refuses a third; what was typed survives a reload.

The screen runs in this process (uvicorn on 127.0.0.1) on a bundle signed by the tests' keys: the pass and pages
arrive as the camera hands them to the desk (``ScanDesk.add_text`` with the camera's source), so no key is spent
on them; a page of the first bus also goes through the handheld scanner (typed at scanner speed).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import uvicorn

from checkpoint_client.config import get_settings
from checkpoint_client.screen import create_app
from checkpoint_client.screen.words import translate
from checkpoint_client.store import Store
from passcore import manifest, reasons, trust
from passcore.policy import Policy
from tests import factories
from tests.e2e.conftest import _free_port, screenshot
from tests.factories import NOW
from tests.integration.screen_bus_helpers import MANAGER, bus_pass, passengers

PER_PAGE = manifest.PASSENGERS_PER_PAGE  # as the server prints them, not the helpers' mechanism size
PAGES = manifest.page_count(45, PER_PAGE)
SCANNER_MS = 5
KEY_MS = 30  # the officer's keys: quick, but a person's (the scanner tells them apart by speed)


@pytest.fixture
def bus_screen(tmp_path, issuer_key, root_key):
    """start(lang) -> {url, store, desk, clock}: the screen app served on a free port."""
    servers = []

    def start(lang: str) -> dict:
        home = tmp_path / lang
        settings = get_settings(home=home, scanner_gap_ms=100)
        settings.root_path.parent.mkdir(parents=True, exist_ok=True)
        settings.bundle_path.parent.mkdir(parents=True, exist_ok=True)
        settings.root_path.write_text(root_key.public.pem)
        policy = Policy(
            hard_hit=("420000",), bus_fever="RELEASE_OTHERS", fever_referrals=("昆山市第一人民医院",)
        )
        bundle = factories.make_bundle(
            [factories.issuer(issuer_key)], policy=policy, issued_at=NOW - timedelta(hours=1)
        )
        settings.bundle_path.write_bytes(trust.sign_bundle(bundle, root_key))
        store = Store.open(settings.store_path)
        clock = [NOW]
        app = create_app(settings, store, None, clock=lambda: clock[0], sync_interval_s=None, lang=lang)
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        servers.append((server, thread, store))
        return {
            "url": f"http://127.0.0.1:{port}/",
            "store": store,
            "desk": app.state.screen.desk,
            "clock": clock,
        }

    yield start
    for server, thread, store in servers:
        server.should_exit = True
        thread.join(10)
        store.close()


def camera(screen: dict, text: str) -> None:
    """The camera read ``text`` (as CameraLoop.on_scan hands it to the desk)."""
    screen["desk"].add_text(text, source="camera")


def open_page(new_page, url: str, lang: str):
    page = new_page(lang)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.on("pageerror", lambda error: print("page error:", error))
    # Count the officer's own key presses: every trusted keydown, seen before any script of the page (the
    # scanner's listener claims printable keys, so a counter added later would miss them).
    page.add_init_script(
        "window.keyCount = 0; window.addEventListener('keydown', (e) => { if (e.isTrusted) window.keyCount++; }, true)"
    )
    page.goto(url)
    page.wait_for_function("() => typeof Bus === 'object' && document.body.dataset.phase")
    page.evaluate("Scanner.config")
    return page


def keys(page, *presses: str) -> None:
    """The officer types: each item is text (typed key by key) or a named key ("Enter")."""
    for press in presses:
        if press in ("Enter", "Escape", "Tab"):
            page.keyboard.press(press)
        else:
            page.keyboard.type(press, delay=KEY_MS)
        page.wait_for_timeout(120)  # a person's pace: the scanner's hold of printable keys has ended


def wait_manifest(page, state: str) -> None:
    page.wait_for_function(f"() => document.body.dataset.manifest === {state!r}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bus_roll_call(bus_screen, new_page, lang, issuer_key):
    from playwright.sync_api import expect

    t = lambda key, **values: translate(key, lang, **values)  # noqa: E731
    screen = bus_screen(lang)
    text, pages, claims = bus_pass(issuer_key, passengers(45, hard_hit=(7, 30)), per_page=PER_PAGE)
    assert len(pages) == PAGES
    page = open_page(new_page, screen["url"], lang)

    # A page before its pass: kept for it.
    camera(screen, pages[4])
    expect(page.locator("#page-note")).to_have_text(t("page_waiting", n=5, pages=PAGES))
    camera(screen, text)
    expect(page.locator("#bus-fields")).to_be_visible()
    expect(page.locator("#bus-pages")).to_contain_text(t("bus_pages", scanned=1, pages=PAGES))
    missing = "、".join(str(n) for n in range(1, PAGES + 1) if n != 5)
    expect(page.locator("#bus-pages")).to_contain_text(t("bus_missing", pages=missing))
    expect(page.locator("#bus-head")).to_contain_text(MANAGER.name)
    camera(screen, pages[2])
    expect(page.locator("#bus-pages")).to_contain_text(t("bus_pages", scanned=2, pages=PAGES))
    camera(screen, pages[2])  # the same page again (it left the camera's view and came back)
    expect(page.locator("#page-note")).to_have_text(t("page_duplicate", n=3))
    # One page through the handheld scanner, typed at scanner speed into whatever has the focus.
    page.keyboard.type(pages[0], delay=SCANNER_MS)
    page.keyboard.press("Enter")
    expect(page.locator("#bus-pages")).to_contain_text(t("bus_pages", scanned=3, pages=PAGES))
    for text_ in (pages[1], pages[3], *pages[5:]):
        camera(screen, text_)
    wait_manifest(page, "complete")
    expect(page.locator("#roll-list tr")).to_have_count(45)
    expect(page.locator("#roll-list tr[data-n='7'] .hard-hit")).to_be_visible()
    expect(page.locator("#roll-list tr[data-n='30'] .hard-hit")).to_be_visible()
    expect(page.locator("#roll-list tr[data-n='8'] .hard-hit")).to_have_count(0)

    # The crew as on any vehicle, the checks, then the roll: 12 has 38.1, 40 is not aboard, the rest normal.
    expect(page.locator("#temp-0")).to_be_focused()
    keys(page, "365", "Enter", "366", "Enter", "Enter")
    expect(page.locator("#roll-input")).to_be_focused()
    keys(page, "12", "Enter", "381", "Enter")
    expect(page.locator("#roll-list tr[data-n='12']")).to_have_attribute("data-state", "fever")
    keys(page, "40", "A")
    expect(page.locator("#roll-list tr[data-n='40']")).to_have_attribute("data-state", "absent")
    keys(page, "99", "Enter")
    expect(page.locator("#roll-error")).to_have_text(t("roll_unknown", n=99))
    page.locator("#referral-choice").select_option(
        "昆山市第一人民医院"
    )  # the fever's referral, as on a vehicle
    page.locator("#roll-input").focus()

    # A reload loses nothing typed, also when the policy (its list of places) comes after the draft.
    page.wait_for_timeout(600)  # the draft is saved 300 ms after the last key
    held: list = []
    page.route("**/api/overview", lambda route: held.append(route) if held is not None else route.continue_())
    page.reload()
    page.wait_for_function("() => document.body.dataset.draft === 'restored'")
    late, held = held, None
    for route in late:
        route.continue_()
    page.wait_for_function("() => (Screen.policy.fever_referrals || []).length > 0")
    expect(page.locator("#roll-list tr[data-n='12']")).to_have_attribute("data-state", "fever")
    expect(page.locator("#roll-list tr[data-n='40']")).to_have_attribute("data-state", "absent")
    expect(page.locator("#temp-1")).to_have_value("36.6")
    page.locator("#roll-input").focus()
    keys(page, "Enter")  # the rest normal
    expect(page.locator("#roll-list tr[data-n='1']")).to_have_attribute("data-state", "normal")
    expect(page.locator("#decide")).to_be_focused()
    screenshot(page, f"bus-roll-call-{lang}")
    keys(page, "Enter")  # decide

    page.wait_for_function("() => document.body.dataset.phase === 'decided'")
    assert page.evaluate("document.body.dataset.outcome") == "RELEASE"
    box = page.locator("#outcome-bus")
    expect(box).to_contain_text(t("bus_counts", RELEASE=41, QUARANTINE=2, MEDICAL_HOLD=1, ABSENT=1, REFUSE=0))
    expect(box.locator(".disp.QUARANTINE")).to_contain_text(MANAGER.name)
    expect(box.locator(".disp.MEDICAL_HOLD")).to_contain_text("工人12")
    expect(box.locator(".disp.ABSENT")).to_contain_text("工人40")
    expect(box.locator(".disp-cell[data-n='7']")).to_have_attribute("data-disposition", "QUARANTINE")
    expect(page.locator("#outcome-reasons")).to_contain_text(
        reasons.describe("QUARANTINE_BY_ENTERPRISE", lang)
    )
    assert page.evaluate("document.body.dataset.sound") in ("RELEASE", "muted")
    screenshot(page, f"bus-outcome-{lang}")
    record = screen["store"].recent(1)[0].record
    assert record["bus"]["manifest"] == claims.bus.digest.hex() and record["referral"] == "昆山市第一人民医院"
    dispositions = [p["disposition"] for p in record["bus"]["passengers"]]
    assert dispositions.count("RELEASE") == 41 and dispositions[11] == "MEDICAL_HOLD"
    assert dispositions[39] == "ABSENT" and dispositions[6] == dispositions[29] == "QUARANTINE"
    assert [o["role"] for o in record["occupants"]] == ["driver", "manager"]


def test_keys_for_a_bus_of_45_all_normal(bus_screen, new_page, issuer_key):
    """From the first scan to the decision, the pass and pages read by the camera: driver 365 Enter, manager
    366 Enter, Enter (checks), Enter (the rest normal), Enter (decide) = 11 keys. Also: someone aboard off the
    manifest ("+" in the roll field) refuses the next bus."""
    from playwright.sync_api import expect

    screen = bus_screen("zh")
    text, pages, _ = bus_pass(issuer_key, passengers(45), per_page=PER_PAGE)
    page = open_page(new_page, screen["url"], "zh")
    camera(screen, text)
    for page_text in pages:
        camera(screen, page_text)
    wait_manifest(page, "complete")
    expect(page.locator("#temp-0")).to_be_focused()
    page.evaluate("window.keyCount = 0")
    keys(page, "365", "Enter", "366", "Enter", "Enter", "Enter", "Enter")
    page.wait_for_function("() => document.body.dataset.phase === 'decided'")
    count = page.evaluate("window.keyCount")
    print(f"keys for a bus of 45, all normal: {count}")
    assert count == 11
    assert page.evaluate("document.body.dataset.outcome") == "RELEASE"
    record = screen["store"].recent(1)[0].record
    assert len(record["bus"]["passengers"]) == 45
    assert all(p["aboard"] and p["temperature_c"] is None for p in record["bus"]["passengers"])

    # The next bus (another pass): someone aboard who is not on the manifest.
    keys(page, "Enter")  # leave the outcome
    other, other_pages, _ = bus_pass(
        issuer_key, passengers(9), pass_id="fedcba9876543210fedcba98", per_page=PER_PAGE
    )
    camera(screen, other)
    for page_text in other_pages:
        camera(screen, page_text)
    wait_manifest(page, "complete")
    keys(page, "365", "Enter", "366", "Enter", "Enter", "+")
    expect(page.locator("#name-2")).to_be_focused()
    keys(page, "赵六", "Enter", "364", "Enter")
    page.locator("#roll-input").focus()
    keys(page, "Enter", "Enter")
    page.wait_for_function("() => document.body.dataset.phase === 'decided'")
    assert page.evaluate("document.body.dataset.outcome") == "REFUSE"
    expect(page.locator("#outcome-reasons")).to_contain_text(reasons.describe("OCCUPANT_NOT_ON_PASS", "zh"))
