"""A bus's manifest read from CSV or XLSX (issue 14): what is taken, and every way a file is refused, row by row,
in both languages, with nothing taken when one row fails."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from openpyxl import Workbook

from server.manifests import templates
from server.manifests.importing import import_manifest
from server.manifests.reading import MAX_FILE_BYTES
from tests.bus_factories import id_number, passengers

HEADER_ZH = ["姓名", "身份证号", "手机号", "出发地", "14天行程"]
HEADER_EN = ["name", "id_number", "phone", "origin", "travel_history"]


def rows(count: int) -> list[list[Any]]:
    return [
        [p["name"], p["id_number"], p["phone"], p["origin"], ";".join(p["travel_history"])]
        for p in passengers(count)
    ]


def csv_bytes(table: list[list[Any]], *, header: list[str] = HEADER_ZH, encoding: str = "utf-8") -> bytes:
    lines = [",".join(header)] + [",".join(str(c) for c in row) for row in table]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(table: list[list[Any]], *, header: list[str] = HEADER_ZH) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in table:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def texts(data: bytes, name: str = "m.csv", lang: str = "zh") -> list[str]:
    result = import_manifest(data, name)
    assert not result.ok and result.passengers == []
    return [p.text(lang) for p in result.problems]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_csv_in_each_encoding_gives_the_passengers_in_order(encoding: str) -> None:
    result = import_manifest(csv_bytes(rows(45), encoding=encoding), "m.csv")
    assert result.ok and len(result.passengers) == 45
    assert result.passengers[0] == passengers(1)[0]
    assert [p["name"] for p in result.passengers][-1] == "乘客45"


def test_an_xlsx_with_english_headers_and_region_names() -> None:
    table = rows(3)
    table[0][3], table[0][4] = "河南省 信阳市", "信阳市、湖北省武汉市"
    result = import_manifest(xlsx_bytes(table, header=HEADER_EN), "m.xlsx")
    assert result.ok
    assert result.passengers[0]["origin"] == "411500"
    assert result.passengers[0]["travel_history"] == ["411500", "420100"]


def test_phone_and_travel_history_columns_may_be_left_out_and_a_serial_column_is_ignored() -> None:
    table = [["1", p["name"], p["id_number"], p["origin"]] for p in passengers(2)]
    result = import_manifest(csv_bytes(table, header=["序号", "姓名", "身份证号", "出发地"]))
    assert result.ok and result.passengers[1]["phone"] == "" and result.passengers[1]["travel_history"] == []


@pytest.mark.parametrize(("lang", "made"), [("zh", templates.csv_template), ("en", templates.xlsx_template)])
def test_the_templates_import_as_their_example_row(lang: str, made: Any) -> None:
    result = import_manifest(made(lang), "template")
    assert result.ok and [p["name"] for p in result.passengers] == ["张三"]


def test_a_bad_check_digit_is_named_with_its_row_in_both_languages() -> None:
    table = rows(4)
    wrong = table[1][1][:-1] + ("0" if table[1][1][-1] != "0" else "1")
    table[1][1] = wrong
    result = import_manifest(csv_bytes(table))
    assert [(p.row, p.column, p.key) for p in result.problems] == [(3, "id_number", "id_check_digit")]
    assert result.problems[0].text("zh") == "第 3 行：身份证号：身份证号校验位不符"
    assert result.problems[0].text("en") == "row 3: ID number: ID number check digit wrong"
    assert result.passengers == []  # nothing is taken when a row fails


def test_every_bad_row_is_listed_not_only_the_first() -> None:
    table = rows(6)
    table[0][0] = ""  # no name
    table[2][3] = "火星"  # no such region
    table[3][3] = "朝阳区"  # two regions of that name
    table[4][1] = table[1][1]  # the same person twice
    table[5][2] = "13900x"  # not a phone number
    found = [(p.row, p.column, p.key) for p in import_manifest(csv_bytes(table)).problems]
    assert found == [
        (2, "name", "name_empty"),
        (4, "origin", "region_unknown"),
        (5, "origin", "region_ambiguous"),
        (6, "id_number", "duplicate_row"),
        (7, "phone", "phone_invalid"),
    ]
    assert "与第 3 行身份证号相同" in texts(csv_bytes(table))[3]


def test_101_passengers_are_too_many() -> None:
    assert texts(csv_bytes(rows(101))) == ["乘客超过 100 人"]
    assert import_manifest(csv_bytes(rows(100))).ok


def test_a_missing_or_unknown_column_is_a_problem_of_the_header() -> None:
    table = [row[:1] + row[2:] for row in rows(2)]
    assert texts(csv_bytes(table, header=["姓名", "手机号", "出发地", "14天行程"])) == [
        "缺少列：身份证号 / id_number"
    ]
    found = texts(csv_bytes(rows(2), header=["姓名", "身份证号", "备注", "出发地", "14天行程"]), lang="en")
    assert found[0].startswith('Unknown column "备注"')


def test_a_formula_is_not_run_and_not_taken_as_a_name() -> None:
    table = rows(2)
    table[0][0] = "=HYPERLINK(A1)"
    assert texts(csv_bytes(table)) == ["第 2 行：姓名：不能以 = + - @ 开头"]
    # In an XLSX, a formula cell gives its stored result (none here: openpyxl never calculated it).
    table = rows(2)
    table[1][0] = '=CONCATENATE("张","三")'
    found = [(p.row, p.column, p.key) for p in import_manifest(xlsx_bytes(table), "m.xlsx").problems]
    assert found == [(3, "name", "name_empty")]


def test_an_id_number_stored_as_a_number_has_lost_digits() -> None:
    table = rows(1)
    table[0][1] = int(table[0][1][:17] + "0")  # Excel keeps 15 significant digits of it
    found = [(p.row, p.key) for p in import_manifest(xlsx_bytes(table), "m.xlsx").problems]
    assert found == [(2, "id_number_as_number")]


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "m.csv", "文件是空的"),
        (b"\xff\xfe\x00\x00garbage\x81", "m.csv", "无法识别文件编码（请使用 UTF-8 或 GB18030）"),
        (b"\xd0\xcf\x11\xe0" + b"\0" * 600, "m.xls", "不支持旧版 .xls 文件，请另存为 .xlsx 或 CSV"),
        (b"PK\x03\x04 not really a zip", "m.xlsx", "不是有效的 .xlsx 文件"),
        (b"a" * (MAX_FILE_BYTES + 1), "m.csv", "文件过大（最大 512 KB）"),
        ("姓名,身份证号,出发地\r\n".encode(), "m.csv", "表头下没有乘客"),
    ],
)
def test_files_that_are_not_a_small_table_are_refused(data: bytes, name: str, message: str) -> None:
    assert texts(data, name) == [message]


def test_a_utf16_file_is_not_guessed_at() -> None:
    assert texts(csv_bytes(rows(2), encoding="utf-16")) == ["无法识别文件编码（请使用 UTF-8 或 GB18030）"]


def _zip(parts: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": b"\0" * (20 * 1024 * 1024)})
    assert len(bomb) < MAX_FILE_BYTES
    assert texts(bomb, "m.xlsx") == ["文件解压后过大，已拒绝"]


def test_a_workbook_with_macros_is_refused() -> None:
    book = xlsx_bytes(rows(2))
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts["xl/vbaProject.bin"] = b"macro"
    assert texts(_zip(parts), "m.xlsm") == ["文件含有宏，已拒绝；请另存为不含宏的 .xlsx"]


def test_an_xml_part_with_entities_is_refused() -> None:
    book = xlsx_bytes(rows(2))
    with zipfile.ZipFile(io.BytesIO(book)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    laughs = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
    parts["xl/sharedStrings.xml"] = laughs + parts.get("xl/sharedStrings.xml", b"<sst/>")
    assert texts(_zip(parts), "m.xlsx") == ["不是有效的 .xlsx 文件"]


def test_chinese_text_and_odd_names_are_checked_as_new_input() -> None:
    table = rows(3)
    table[0][0] = "欧阳·娜娜"
    table[1][0] = "王\u200b五"  # an invisible character
    table[2][0] = "\U00020000"  # a character the pass cannot print
    found = [(p.row, p.key) for p in import_manifest(csv_bytes(table)).problems]
    assert found == [(3, "name_invisible"), (4, "name_unprintable")]


def test_a_manifest_ids_are_made_up_consistently() -> None:
    # The factory's numbers are real-looking: the import takes them, the check digit included.
    assert id_number("411500", "19900101", 1) == passengers(1)[0]["id_number"]
