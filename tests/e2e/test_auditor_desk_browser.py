"""The auditor's desk in a real browser, both languages (issue 13): part of a plate finds the vehicle, the CSV
names the pass by its number with the people in their own columns, and the daily report downloads as a Chinese
PDF from the daily summary page."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_audit_browser import CHECKPOINT, crossings  # noqa: F401  (the module's fixture)
from tests.e2e.test_portal_basics import sign_in

HEADERS = {
    "zh": ("通行证号", "驾驶员姓名", "驾驶员身份证号（脱敏）", "接车请求时间"),
    "en": ("Pass number", "Driver", "Driver's ID number (masked)", "Escort requested"),
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_part_of_a_plate_finds_the_vehicle_and_the_csv_has_its_pass_number(server, new_page, crossings, lang):  # noqa: F811
    page = new_page(lang)
    sign_in(page, server["url"], "demo-auditor", lang=lang)
    page.wait_for_url("**/review/queue")
    page.goto(f"{server['url']}/audit/crossings")
    page.select_option("#f-checkpoint", label=CHECKPOINT)
    page.fill("#f-plate", "a1234")  # 苏E·A1234 without its province, dot or capitals
    page.click("#filter-submit")
    page.wait_for_url("**/audit/crossings?*plate=a1234*")
    rows = page.locator("table.crossings tbody tr")
    # The release and the fever (苏E·A1234) and the vehicle without a pass (浙A·12345): A1234 anywhere.
    assert rows.count() == 3
    plates = sorted(rows.nth(n).locator("td").nth(2).inner_text().strip() for n in range(3))
    assert plates == ["浙A·12345", "苏E·A1234", "苏E·A1234"]
    screenshot(page, f"auditor-desk-partial-plate-{lang}")

    with page.expect_download() as download:
        page.click("#export-csv")
    content = download.value.path().read_bytes().decode("utf-8-sig")
    header, *lines = list(csv.reader(io.StringIO(content)))
    pass_number, driver, driver_id, _ = HEADERS[lang]
    assert all(name in header for name in HEADERS[lang])
    table = [dict(zip(header, line, strict=True)) for line in lines]
    assert {row[header[-1]] for row in table} == {
        crossings[name]["id"] for name in ("release", "fever", "no-pass")
    }
    release = next(row for row in table if row[header[-1]] == crossings["release"]["id"])
    assert release[pass_number] == "320583-000001"  # the printed number, not the pass's internal id
    assert release[driver] == crossings["release"]["occupants"][0]["name"] and "*" in release[driver_id]

    bad = page.goto(f"{server['url']}/audit/crossings?plate=A")
    assert bad is not None and bad.status == 422
    message = {"zh": "不是有效的车牌号或车牌号的一部分", "en": "Not a plate number or part of one"}[lang]
    assert message in page.content()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_daily_report_downloads_from_the_daily_summary(server, new_page, crossings, lang, tmp_path):  # noqa: F811
    page = new_page(lang)
    sign_in(page, server["url"], "demo-auditor", lang=lang)
    page.wait_for_url("**/review/queue")
    page.goto(f"{server['url']}/audit/daily")
    heading = {"zh": "日报（PDF）", "en": "Daily report (PDF)"}[lang]
    assert page.locator("#daily-report h2").inner_text() == heading
    # The demo's crossings were decided today (local time), at the moment the fixture ran.
    decided = datetime.fromisoformat(crossings["release"]["decided_at"]).astimezone(UTC)
    day = decided.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    page.fill("#report-day", day)
    screenshot(page, f"auditor-desk-daily-report-{lang}")
    with page.expect_download() as download:
        page.click("#download-report")
    assert download.value.suggested_filename == f"daily-report-{day}.pdf"
    path = tmp_path / "report.pdf"
    download.value.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert (
        f"卡口通行日报（{day}）" in text and CHECKPOINT in text
    )  # Chinese in both languages: the leadership's


def test_a_reviewer_is_not_offered_the_report(server, new_page, crossings):  # noqa: F811
    page = new_page()
    sign_in(page, server["url"], "demo-reviewer")
    page.wait_for_url("**/review/queue")
    page.goto(f"{server['url']}/audit/daily")
    assert page.locator("#daily-report").count() == 0
    answer = page.goto(f"{server['url']}/audit/report.pdf?day=2026-12-04")
    assert answer is not None and answer.status == 403
