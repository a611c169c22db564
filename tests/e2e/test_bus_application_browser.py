"""A bus application in a real browser, in Chinese and English (issue 14, the portal's part): the enterprise's clerk
chooses personnel transport, fills the bus, its stations, the on-board manager, the driver and the route; a bad CSV
(a wrong check digit on row 3, no name on row 5) is refused row by row in the page's language and leaves the table
as it was; a 45-passenger XLSX made here with openpyxl fills the table and the seat use; too few seats for the
policy's occupancy limit are refused at the seats field; the application is submitted; the reviewer sees the full ID
numbers, an approval refused because the policy tightened since names the numbers, and the approval issues the pass.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from server.web.i18n import translate
from tests.bus_factories import MANAGER_ID, XINYANG, id_number
from tests.e2e.conftest import BIN, screenshot
from tests.e2e.test_portal_basics import sign_in
from tests.factories import DRIVER_ID

PASSENGERS = 45
SEATS = 53
PERCENT = 90  # 46 people (45 passengers and the manager) fit 53 seats only above the default 50 %
# Each language's run has its own bus and people: one vehicle holds one live pass, and a person one seat.
PLATES = {"zh": "豫S·B4561", "en": "豫S·B4562"}
BORN = {"zh": "19900101", "en": "19910202"}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡"
# The refused file's row 3 as the page words it (the words' table, read back, would not show a wrong language).
ROW_3 = {"zh": "第 3 行：身份证号：身份证号校验位不符", "en": "row 3: ID number: ID number check digit wrong"}
GIVEN = ("建国", "秀英", "志强", "丽娟", "海燕", "文博")


def t(key: str, lang: str, **values: object) -> str:
    return translate(key, lang, **values)


def rows(lang: str, count: int = PASSENGERS) -> list[list[str]]:
    """The manifest as a clerk types it: name, ID number (valid, GB 11643), phone, origin, travel history."""
    return [
        [
            SURNAMES[n % len(SURNAMES)] + GIVEN[n % len(GIVEN)],
            id_number(XINYANG, BORN[lang], n + 1),
            f"139{n:08d}",
            XINYANG,
            XINYANG,
        ]
        for n in range(count)
    ]


def header(lang: str) -> list[str]:
    """Chinese headers from the Chinese clerk, English from the English one: the import takes either."""
    if lang == "zh":
        return ["姓名", "身份证号", "手机号", "出发地", "14天行程"]
    return ["name", "id_number", "phone", "origin", "travel_history"]


def write_xlsx(path: Path, lang: str) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "乘客名单"
    sheet.append(header(lang))
    for row in rows(lang):
        sheet.append(row)
    book.save(path)
    return path


def write_bad_csv(path: Path, lang: str) -> Path:
    """Five passengers (file rows 2-6): row 3's ID number has a wrong check digit, row 5 has no name."""
    table = rows(lang, 5)
    number = table[1][1]
    table[1][1] = number[:-1] + ("1" if number[-1] != "1" else "2")
    table[3][0] = ""
    text = "\n".join(",".join(row) for row in [header(lang), *table]) + "\n"
    path.write_bytes(text.encode("utf-8-sig"))
    return path


def set_occupancy(server: dict, percent: int) -> None:
    """The policy's seat-occupancy limit, as an administrator sets it (a new signed policy version)."""
    subprocess.run(
        [str(BIN / "checkpass"), "policy", "set", "--bus-occupancy", str(percent)],
        env=server["env"],
        cwd=server["home"],
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def bus_server(server) -> Iterator[dict]:
    set_occupancy(server, PERCENT)
    yield server


def passenger_column(page, column: str) -> list[str]:
    """The table's column as the clerk sees it, once the page's scripts (the draft keeper among them) have run."""
    page.wait_for_load_state("load")
    cells = page.locator(f"#passenger-table input[name=passenger_{column}]")
    return [cells.nth(i).input_value() for i in range(cells.count())]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_clerk_applies_for_a_bus_and_the_reviewer_approves_it(bus_server, new_page, tmp_path, lang):
    base = bus_server["url"]
    clerk = new_page(lang=lang)
    sign_in(clerk, base, "demo-enterprise", lang=lang)
    clerk.wait_for_url("**/enterprise/applications")

    # 1. The form: personnel transport, the bus, its stations, the manager, the driver, the route.
    clerk.goto(f"{base}/enterprise/applications/new?lang={lang}")
    clerk.check("#kind-personnel")
    expect(clerk.locator("#f-bus_seats")).to_be_visible()
    for name, value in (
        ("plate", PLATES[lang]),
        ("driver_name", "马建军"),
        ("driver_id_number", DRIVER_ID),
        ("driver_licence_number", DRIVER_ID),
        ("driver_phone", "13700000090"),
        ("bus_seats", str(SEATS)),
        ("bus_departure", "信阳汽车站"),
        ("bus_arrival", "昆山汽车南站"),
        ("manager_name", "陈经理"),
        ("manager_id_number", MANAGER_ID),
        ("manager_phone", "13900000091"),
        ("origin", XINYANG),
        ("destination", "320583"),
        ("travel_history", XINYANG),
    ):
        clerk.fill(f"#f-{name}", value)
    # One passenger typed by hand before any import: what a refused file must leave alone.
    typed = rows(lang, 1)[0]
    for column, value in zip(("name", "id_number", "phone", "origin"), typed, strict=False):
        clerk.locator(f"#passenger-table input[name=passenger_{column}]").first.fill(value)
    before = passenger_column(clerk, "name")

    # 2. A bad CSV: every bad row named in the page's language, nothing imported, the table as it was.
    clerk.set_input_files("#f-manifest_file", str(write_bad_csv(tmp_path / "bad.csv", lang)))
    clerk.click("button[name=action][value=import_manifest]")
    problems = clerk.locator("#manifest-problems li")
    expect(problems).to_have_count(2)
    check_digit = t(
        "manifest.row",
        lang,
        row=3,
        column=t("manifest.column.id_number", lang),
        message=t("manifest.invalid.id_check_digit", lang),
    )
    expect(problems.nth(0)).to_have_text(check_digit)
    expect(problems.nth(1)).to_contain_text(
        t("manifest.row", lang, row=5, column=t("manifest.column.name", lang), message="")
    )
    expect(clerk.locator("#manifest-problems")).to_contain_text(t("bus.import_failed", lang))
    assert check_digit == ROW_3[lang]
    assert passenger_column(clerk, "name") == before
    assert passenger_column(clerk, "id_number")[0] == typed[1]
    assert clerk.input_value("#f-plate") == PLATES[lang]
    expect(clerk.locator("#manifest-imported")).to_have_count(0)
    screenshot(clerk, f"bus-apply-bad-csv-{lang}")

    # 3. The 45-passenger XLSX: the table filled (replacing the typed row), the seat use shown.
    clerk.set_input_files("#f-manifest_file", str(write_xlsx(tmp_path / "乘客名单.xlsx", lang)))
    clerk.click("button[name=action][value=import_manifest]")
    expect(clerk.locator("#manifest-imported")).to_have_text(t("bus.imported", lang, n=PASSENGERS))
    expect(clerk.locator("#passenger-table tbody tr")).to_have_count(PASSENGERS)
    expected = rows(lang)
    assert passenger_column(clerk, "name") == [row[0] for row in expected]
    assert passenger_column(clerk, "id_number") == [row[1] for row in expected]
    assert passenger_column(clerk, "phone") == [row[2] for row in expected]
    use = t("bus.seat_use", lang, aboard=PASSENGERS + 1, seats=SEATS, percent=PERCENT)
    expect(clerk.locator("#seat-use")).to_contain_text(use)
    assert clerk.input_value("#f-plate") == PLATES[lang]  # the import kept what was typed
    assert clerk.input_value("#f-manager_id_number") == MANAGER_ID
    screenshot(clerk, f"bus-apply-imported-{lang}")

    # 4. Too few seats for 46 people at 90 %: refused at the seats field with the numbers, nothing lost.
    clerk.fill("#f-bus_seats", "40")
    clerk.click("button[name=action][value=submit]")
    limit = t("bus.seat_limit_exceeded", lang, aboard=PASSENGERS + 1, allowed=36, seats=40, percent=PERCENT)
    expect(clerk.locator("#e-bus_seats")).to_have_text(limit)
    expect(clerk.locator("#f-bus_seats")).to_have_attribute("aria-invalid", "true")
    expect(clerk.locator("#passenger-table tbody tr")).to_have_count(PASSENGERS)
    assert passenger_column(clerk, "id_number") == [row[1] for row in expected]
    screenshot(clerk, f"bus-apply-seat-limit-{lang}")

    # 5. With the bus's real seats the application goes in.
    clerk.fill("#f-bus_seats", str(SEATS))
    clerk.click("button[name=action][value=submit]")
    clerk.wait_for_url("**/enterprise/applications/*?notice=submitted")
    application_id = clerk.url.split("/enterprise/applications/")[1].split("?")[0]
    assert application_id.isdigit(), clerk.url
    expect(clerk.locator("#manifest tbody tr")).to_have_count(PASSENGERS)
    expect(clerk.locator("#seat-use")).to_have_text(use)
    assert expected[0][1] not in clerk.content()  # the enterprise's own pages show the numbers masked

    # 6. The reviewer sees every full ID number; an approval after the policy tightened is refused with numbers.
    reviewer = new_page(lang=lang)
    sign_in(reviewer, base, "demo-reviewer", lang=lang)
    reviewer.wait_for_url("**/review/**")
    reviewer.goto(f"{base}/review/applications/{application_id}?lang={lang}")
    numbers = reviewer.locator("#manifest tbody tr td:nth-child(3)")
    expect(numbers).to_have_count(PASSENGERS)
    assert numbers.all_inner_texts() == [row[1] for row in expected]
    assert MANAGER_ID in reviewer.content()
    approve = f"form[action='/review/applications/{application_id}/approve'] button.primary"
    set_occupancy(bus_server, 50)
    try:
        reviewer.click(approve)
        reviewer.click("dialog.desk-confirm button.primary")
        refusal = t(
            "bus.seat_limit_exceeded", lang, aboard=PASSENGERS + 1, allowed=26, seats=SEATS, percent=50
        )
        expect(reviewer.locator("p.alert[role=alert]")).to_have_text(refusal)
        screenshot(reviewer, f"bus-review-seat-limit-{lang}")
    finally:
        set_occupancy(bus_server, PERCENT)

    # 7. Under the limit again, the approval issues the pass.
    reviewer.goto(f"{base}/review/applications/{application_id}?lang={lang}")
    reviewer.click(approve)
    reviewer.click("dialog.desk-confirm button.primary")
    reviewer.wait_for_url("**notice=issued**")
    clerk.goto(f"{base}/enterprise/applications/{application_id}?lang={lang}")
    expect(clerk.locator("a[href^='/enterprise/passes/']").first).to_be_visible()
