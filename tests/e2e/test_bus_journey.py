"""Issue 14's "done when", end to end in a real browser: an enterprise applies for a chartered bus with 45
passengers imported from a spreadsheet, a reviewer approves, the PDF prints the pass and its manifest pages; a
laptop with no network reads every printed page (rendered with pdftoppm) through the camera path, and the officer
decides the bus with the roll call (one fever, two passengers from the hard-hit area, one not aboard, the rest
normal with one key) under the policy "a fever holds the person, the others go on"; the decision syncs once the
network is back; the enterprise confirms one quarantine arrival and the other task, unconfirmed past the
policy's limit, raises a `quarantine_overdue` alert for the bureau. The officer works in English, the portal in
Chinese."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session
from stdnum.cn import ric

from checkpoint_client.config import get_settings as get_client_settings
from checkpoint_client.screen.words import translate
from checkpoint_client.store import Store
from passcore import manifest, reasons
from tests.e2e.conftest import BIN, _free_port, screenshot
from tests.e2e.screen_fixtures import stop_screen, wait_serving
from tests.e2e.test_portal_basics import sign_in
from tests.integration.client_helpers import DEMO_PASSWORD, Bureau, ServerProcess

PASSENGERS = 45
FEVER, HARD_HIT, ABSENT = 5, (12, 31), 40  # passenger numbers (1-based) as the manifest lists them
HOME_REGION, HARD_HIT_REGION = (
    "411502",
    "420100",
)  # Xinyang's Shihe district; Wuhan (Hubei, the demo's hard-hit)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = ("建国", "秀英", "志强", "丽娟", "海燕", "文博", "春梅", "国庆", "晓东", "桂兰")
DRIVER, MANAGER = 90, 91  # their ID numbers come from the same maker, outside the passengers' numbers
PLATE = "豫S·B4545"
SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLD_FRAMES = 20
KEY_MS = 30  # the officer's typing: quick, but slower than a handheld scanner's burst (the screen tells them apart)


def id_number(n: int) -> str:
    """A valid resident ID (GB 11643) for passenger ``n``: born in Xinyang (413001, its code before 1998) between
    1975 and 1996, a birthday per person."""
    born = date(1975, 1, 1) + timedelta(days=173 * (n % 45))
    body = f"413001{born:%Y%m%d}{n:03d}"
    return body + ric.calc_check_digit(body + "0")  # the function drops the last character


def passengers(count: int = PASSENGERS) -> list[dict[str, str]]:
    """The manifest rows as the spreadsheet holds them; ``HARD_HIT`` passengers came from Wuhan."""
    rows = []
    for n in range(1, count + 1):
        region = HARD_HIT_REGION if n in HARD_HIT else HOME_REGION
        rows.append(
            {
                "name": SURNAMES[n % len(SURNAMES)] + GIVEN[n % len(GIVEN)],
                "id_number": id_number(n),
                "phone": f"139{n:08d}",
                "origin": region,
                "travel_history": region,
            }
        )
    return rows


def write_xlsx(path: Path, rows: list[dict[str, str]]) -> Path:
    """The manifest as an enterprise's clerk types it in a spreadsheet: Chinese headers, one row a passenger."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.worksheets[0])  # the default sheet; ours gets a name, as a clerk's would have
    sheet = book.create_sheet("乘客名单")
    sheet.append(["姓名", "身份证号", "手机号", "出发地", "14天行程"])
    for row in rows:
        sheet.append([row["name"], row["id_number"], row["phone"], row["origin"], row["travel_history"]])
    book.save(path)
    return path


@pytest.fixture(scope="module")
def bureau(tmp_path_factory) -> Iterator[ServerProcess]:
    """The bureau's server on demo data, which the test stops (the laptop is offline) and starts again."""
    server = ServerProcess(tmp_path_factory.mktemp("bus-bureau"), None)
    server.run("demo", "--no-video", "--out", str(server.home / "demo-out"))
    server.run("policy", "set", "--bus-fever", "release-others", "--bus-occupancy", "90")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def keys(page, *presses: str) -> None:
    """The officer types: each item is text (typed key by key) or a named key; a person's pace between them."""
    for press in presses:
        if press in ("Enter", "Escape", "Tab"):
            page.keyboard.press(press)
        else:
            page.keyboard.type(press, delay=KEY_MS)
        page.wait_for_timeout(120)


def apply_for_the_bus(clerk, base: str, xlsx: Path, rows: list[dict[str, str]]) -> str:
    """The enterprise's clerk fills the bus application, imports the manifest and submits; the application id."""
    from playwright.sync_api import expect

    clerk.goto(f"{base}/enterprise/applications/new")
    clerk.check("#kind-personnel")
    start = datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    for field, value in (
        ("plate", PLATE),
        ("driver_name", "马建军"),
        ("driver_id_number", id_number(DRIVER)),
        ("driver_licence_number", id_number(DRIVER)),
        ("driver_phone", "13700000090"),
        ("bus_seats", "53"),
        ("bus_departure", "信阳汽车站"),
        ("bus_arrival", "昆山汽车南站"),
        ("manager_name", "陈经理"),
        ("manager_id_number", id_number(MANAGER)),
        ("manager_phone", "13900000091"),
        ("origin", HOME_REGION),
        ("destination", "320583"),
        ("travel_history", HOME_REGION),
        ("valid_from", start.strftime("%Y-%m-%dT%H:%M")),
        ("valid_until", (start + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")),
    ):
        clerk.fill(f"#f-{field}", value)
    clerk.set_input_files("#f-manifest_file", str(xlsx))
    clerk.click("button[name=action][value=import_manifest]")
    expect(clerk.locator("#manifest-imported")).to_be_visible()
    expect(clerk.locator("#passenger-table tbody tr")).to_have_count(PASSENGERS)
    assert clerk.input_value("#f-plate") == PLATE  # the import kept what was typed
    names = clerk.locator("#passenger-table input[name=passenger_name]")
    assert [names.nth(i).input_value() for i in (0, 44)] == [rows[0]["name"], rows[44]["name"]]
    screenshot(clerk, "bus-apply-imported-zh")
    clerk.click("button[name=action][value=submit]")
    clerk.wait_for_url("**/enterprise/applications/*")
    application_id = clerk.url.split("/enterprise/applications/")[1].split("?")[0].split("/")[0]
    assert application_id.isdigit(), clerk.url
    return application_id


def start_offline_screen(bureau: ServerProcess, home: Path, source: Path) -> dict:
    """A laptop enrolled at a new checkpoint while the network is there; `checkpoint run` on ``source`` is
    started by the caller once the bureau is gone."""
    home.mkdir(parents=True, exist_ok=True)
    env = bureau.env | {"CHECKPOINT_HOME": str(home)}
    admin = Bureau(bureau.url)
    code = admin.code(admin.checkpoint("G312 昆山东 大客车道"))
    subprocess.run(
        [
            str(BIN / "checkpoint"),
            "enroll",
            "--server",
            bureau.url,
            "--code",
            code,
            "--name",
            "大客车道 笔记本",
        ],
        env=env,
        cwd=home,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return {"env": env, "home": home, "source": source}


def run_screen(laptop: dict) -> dict:
    port = _free_port()
    command = [str(BIN / "checkpoint"), "run", "--source", str(laptop["source"]), "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--no-browser", "--lang", "en", "--fps", "10"],
        env=laptop["env"],
        cwd=laptop["home"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    wait_serving(url, process)
    return {"url": url, "process": process}


def test_a_bus_of_45_from_the_spreadsheet_to_the_quarantine_alert(bureau, new_page, tmp_path):
    from playwright.sync_api import expect

    base = bureau.url
    rows = passengers()

    # 1. The enterprise applies for the bus, its 45 passengers imported from a spreadsheet.
    clerk = new_page()
    sign_in(clerk, base, "demo-enterprise")
    clerk.wait_for_url("**/enterprise/applications")
    application_id = apply_for_the_bus(clerk, base, write_xlsx(tmp_path / "乘客名单.xlsx", rows), rows)

    # 2. A reviewer approves it.
    reviewer = new_page()
    sign_in(reviewer, base, "demo-reviewer")
    reviewer.goto(f"{base}/review/applications/{application_id}")
    assert rows[0]["id_number"] in reviewer.content()  # the reviewer's screen is where full numbers belong
    reviewer.click(f"form[action='/review/applications/{application_id}/approve'] button")
    reviewer.click("dialog.desk-confirm button.primary")
    reviewer.wait_for_url("**notice=issued**")

    # 3. The enterprise downloads the PDF: the pass and its manifest pages, printed and rendered with pdftoppm.
    clerk.goto(f"{base}/enterprise/applications/{application_id}")
    clerk.click("a[href^='/enterprise/passes/']")
    clerk.wait_for_url("**/enterprise/passes/*")
    pass_id = clerk.url.split("/enterprise/passes/")[1].split("?")[0].split("/")[0]
    assert rows[0]["id_number"] not in clerk.content()  # masked on the enterprise's pages
    with clerk.expect_download() as download:
        clerk.click("a.button.primary[href$='/pdf']")
    pdf = tmp_path / "pass.pdf"
    download.value.save_as(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "page")], check=True)
    printed = sorted(tmp_path.glob("page-*.png"))
    sheets = -(-PASSENGERS // manifest.PASSENGERS_PER_PAGE)
    assert len(printed) == 1 + sheets, "the pass, then one page for each manifest page"

    # 4. A laptop enrolled at a checkpoint loses the network; the camera sees the printed pages, a manifest page
    #    first (in any order), then the pass, then the other pages.
    camera = tmp_path / "camera"
    camera.mkdir()
    order = [printed[2], printed[0], printed[1], *printed[3:]]
    for index, path in enumerate(order):
        # Each sheet held up for 2 s (20 frames at 10 frames/s): the camera loop decodes the newest frame and
        # drops the ones it has no time for, as with a webcam, so a busy machine may skip a few.
        for frame in range(HOLD_FRAMES):
            os.link(path, camera / f"frame-{index:02d}-{frame:02d}.png")
    laptop = start_offline_screen(bureau, tmp_path / "laptop", camera)
    bureau.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/healthz", timeout=2)
    screen = run_screen(laptop)
    t = lambda key, **values: translate(key, "en", **values)  # noqa: E731
    try:
        officer = new_page(lang="en")
        officer.set_viewport_size({"width": 1366, "height": 900})
        officer.goto(screen["url"])
        try:  # every page, read from the folder once at 10 frames a second
            officer.wait_for_function("() => document.body.dataset.manifest === 'complete'", timeout=60_000)
        except Exception:
            screenshot(officer, "bus-journey-pages-missing-en")  # what the officer saw instead
            raise
        expect(officer.locator("#bus-pages")).to_contain_text(t("bus_pages", scanned=sheets, pages=sheets))
        expect(officer.locator("#roll-list tr")).to_have_count(PASSENGERS)
        for n in HARD_HIT:
            expect(officer.locator(f"#roll-list tr[data-n='{n}'] .hard-hit")).to_be_visible()

        # 5. The roll call: driver and manager measured, the checks, one fever, one not aboard, the rest normal.
        expect(officer.locator("#temp-0")).to_be_focused()
        keys(officer, "365", "Enter", "366", "Enter", "Enter")
        expect(officer.locator("#roll-input")).to_be_focused()
        keys(officer, str(FEVER), "Enter", "383", "Enter")
        expect(officer.locator(f"#roll-list tr[data-n='{FEVER}']")).to_have_attribute("data-state", "fever")
        keys(officer, str(ABSENT), "A")
        expect(officer.locator(f"#roll-list tr[data-n='{ABSENT}']")).to_have_attribute("data-state", "absent")
        officer.locator("#roll-input").focus()
        keys(officer, "Enter")  # the rest normal: one key for the other 41
        expect(officer.locator("#decide")).to_be_focused()
        keys(officer, "Enter")
        officer.wait_for_function("() => document.body.dataset.phase === 'decided'")
        assert officer.evaluate("document.body.dataset.outcome") == "RELEASE"
        counts = t("bus_counts", RELEASE=41, QUARANTINE=2, MEDICAL_HOLD=1, ABSENT=1, REFUSE=0)
        expect(officer.locator("#outcome-bus")).to_contain_text(counts)
        for code in ("QUARANTINE_BY_ENTERPRISE", "FEVER_PERSON_HELD", "PASSENGER_ABSENT", "PRIORITY_BUS"):
            expect(officer.locator("#outcome-reasons")).to_contain_text(reasons.describe(code, "en"))
        screenshot(officer, "bus-journey-outcome-en")
        store = Store.open(get_client_settings(home=laptop["home"]).store_path)
        try:
            record = store.recent(1)[0].record  # stored before the outcome was shown
        finally:
            store.close()
        dispositions = [p["disposition"] for p in record["bus"]["passengers"]]
        assert dispositions[FEVER - 1] == "MEDICAL_HOLD" and dispositions[ABSENT - 1] == "ABSENT"
        assert [dispositions[n - 1] for n in HARD_HIT] == ["QUARANTINE", "QUARANTINE"]

        # 6. The network is back: the decision syncs, and the bureau has the bus and two quarantine tasks.
        bureau.start()
        officer.click("#sync-now")
        auditor = httpx.Client(base_url=base, timeout=30)
        token = auditor.post(
            "/api/v1/auth/token", json={"username": "demo-auditor", "password": DEMO_PASSWORD}
        )
        auditor.headers["authorization"] = f"Bearer {token.json()['token']}"
        items: list = []
        for _ in range(150):  # the upload runs in the screen's background thread
            items = auditor.get("/api/v1/audit/crossings", params={"pass": pass_id}).json()["items"]
            if items:
                break
            time.sleep(0.2)
        assert len(items) == 1, "the bus's crossing did not reach the server"
        assert items[0]["outcome"] == "RELEASE" and items[0]["kind"] == "personnel"
        assert items[0]["passengers"] == {"listed": 45, "aboard": 44, "absent": 1, "quarantine": 2, "held": 1}
    finally:
        stop_screen(screen["process"])

    # 7. The enterprise confirms that one of the two arrived at its quarantine place.
    clerk.goto(f"{base}/enterprise/quarantine")
    expect(clerk.locator("#quarantine-tasks tbody tr")).to_have_count(2)
    clerk.click("#quarantine-tasks tbody tr >> nth=0 >> a >> nth=0")
    clerk.fill("#f-place", "昆山精密机械有限公司 员工隔离宿舍 3 号楼")
    # To the minute, as a person types it: the bus was released within this minute, which is not "before release".
    clerk.fill("#f-arrived_at", datetime.now(SHANGHAI).strftime("%Y-%m-%dT%H:%M"))
    clerk.click("#quarantine-confirm button.primary")
    expect(clerk.locator("#quarantine-confirmed")).to_be_visible()
    screenshot(clerk, "bus-quarantine-confirmed-zh")

    # 8. The other is not confirmed in time: the audit's sweep, a day and an hour later, raises the alert.
    from server.alerts import service as alerts
    from server.config import get_settings

    later = datetime.now(UTC) + timedelta(hours=25)
    with Session(bureau.engine()) as session:
        raised = alerts.sweep(
            session=session, now=later, limits=alerts.Limits.of(get_settings(home=bureau.home))
        )
    assert raised == 1
    bureau_page = new_page(lang="en")
    sign_in(bureau_page, base, "demo-auditor", lang="en")
    bureau_page.goto(f"{base}/audit/alerts?lang=en")
    expect(bureau_page.locator("tr.kind-quarantine_overdue")).to_have_count(1)
    screenshot(bureau_page, "bus-quarantine-overdue-alert-en")


def test_an_import_is_not_undone_by_the_draft_keeper(bureau, new_page, tmp_path):
    """The page answering an import shows the imported manifest: the form's draft keeper (form_draft.js) must not
    fill in the empty rows the form had before it (it did, blanking the first imported passengers)."""
    rows = passengers(6)
    clerk = new_page()
    sign_in(clerk, bureau.url, "demo-enterprise")
    clerk.wait_for_url("**/enterprise/applications")
    clerk.goto(f"{bureau.url}/enterprise/applications/new")
    clerk.check("#kind-personnel")
    clerk.set_input_files("#f-manifest_file", str(write_xlsx(tmp_path / "manifest.xlsx", rows)))
    clerk.click("button[name=action][value=import_manifest]")
    clerk.wait_for_selector("#manifest-imported")
    names = clerk.locator("#passenger-table input[name=passenger_name]")
    assert [names.nth(i).input_value() for i in range(6)] == [row["name"] for row in rows]
