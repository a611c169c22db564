"""Delivery files of a pass: PNG/SVG/PDF, checked the way a checkpoint sees them (decoded by zxing-cpp,
the PDF rasterised by poppler as a printer would)."""

from __future__ import annotations

import math
import random
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import base45
import PIL.Image
import pytest
import qrcode
import qrcode.constants
import qrcode.exceptions
import zxingcpp
from qrcode.util import MODE_ALPHA_NUM

from checkpoint_client.decoding import decode_image_file
from server.passes.render import (
    BusCard,
    ManifestRow,
    ManifestSheet,
    PassCard,
    qr_code,
    qr_version,
    write_all,
    write_pdf,
    write_png,
    write_svg,
)

DPI = 150
PT_PER_PX = 72 / DPI
MM_PER_PX = 25.4 / DPI
A5_PT, A4_PT = (419.53, 595.28), (595.28, 841.89)

CARD = PassCard(
    serial="320583-000123",
    pass_id="65a1f0c2d4e5b6a7c8d9e0f1",
    plate="苏E·A1234",
    plate_colour="蓝牌",
    enterprise="昆山精密机械有限公司",
    driver="张三  320583********1234",
    escorts=("李四  320583********5678",),
    route="江苏省 苏州市 昆山市 → 上海市",
    cargo="精密机床零部件 12 箱",
    valid_from="2026-02-10 08:00",
    valid_until="2026-02-24 08:00",
    issuer="昆山市交通运输局",
)
LONG_CARD = replace(
    CARD,
    enterprise="昆山" + "高新园区精密机械制造与国际物流供应链" * 3 + "有限公司",
    escorts=tuple(f"押运员{i}  320583********567{i}" for i in range(6)),
)


@pytest.fixture(scope="module")
def text() -> str:
    # A realistic signed pass is ~300 bytes of COSE; Base45 makes it 446 chars, plus the prefix 450.
    t = "CP1:" + base45.b45encode(random.Random(20260210).randbytes(297)).decode()
    assert len(t) == 450
    return t


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} not found: install Debian's poppler-utils (apt-get install -y poppler-utils)")
    return path


def _pdfinfo(pdf: Path) -> dict[str, str]:
    out = subprocess.run([_poppler("pdfinfo"), str(pdf)], check=True, capture_output=True, text=True).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def _rasterise(pdf: Path) -> PIL.Image.Image:
    prefix = pdf.with_suffix("")
    subprocess.run(
        [_poppler("pdftoppm"), "-r", str(DPI), "-png", "-singlefile", str(pdf), str(prefix)], check=True
    )
    return PIL.Image.open(prefix.with_suffix(".png")).convert("L")


def _words(pdf: Path) -> list[tuple[float, float, float, float, str]]:
    """Word boxes (x0, y0, x1, y1 in points, y down) as laid out in the PDF."""
    out = subprocess.run(
        [_poppler("pdftotext"), "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    return [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(pattern, out)]


def _check_printed_pass(pdf: Path, text: str, page_pt: tuple[float, float]) -> float:
    """Everything a printed pass must satisfy; returns the printed QR symbol width in mm."""
    assert pdf.read_bytes().startswith(b"%PDF-")
    info = _pdfinfo(pdf)
    assert info["Pages"] == "1"
    w, h = (float(x) for x in info["Page size"].split()[0:3:2])
    assert (w, h) == pytest.approx(page_pt, abs=0.05)
    assert info["Title"].startswith("车辆通行证 / Vehicle Pass")

    image = _rasterise(pdf)
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [b.text for b in found] == [text]
    pos = found[0].position
    symbol_px = math.dist((pos.top_left.x, pos.top_left.y), (pos.top_right.x, pos.top_right.y))
    module_px = symbol_px / qr_code(text).modules_count

    # The 4-module quiet zone must come out white on the page (inset a pixel for anti-aliasing).
    x0, y0, x1, y1 = pos.top_left.x, pos.top_left.y, pos.bottom_right.x, pos.bottom_right.y
    qz = 4 * module_px
    ox, oy = round(x0 - qz + 1), round(y0 - qz + 1)
    ring = image.crop((ox, oy, round(x1 + qz - 1), round(y1 + qz - 1)))
    ring.paste(255, (round(x0 - 1) - ox, round(y0 - 1) - oy, round(x1 + 1) - ox, round(y1 + 1) - oy))
    assert ring.getextrema()[0] > 200, "quiet zone is not clean"

    # No text leaves the page's margins, enters the QR's quiet zone, or overlaps other text.
    qr_box = tuple(v * PT_PER_PX for v in (x0 - qz, y0 - qz, x1 + qz, y1 + qz))
    words = _words(pdf)
    assert "车辆通行证" in {word[4] for word in words}, "Chinese not extractable: is poppler-data installed?"
    for i, (a0, b0, a1, b1, word) in enumerate(words):
        assert 5 <= a0 and a1 <= w - 5 and 5 <= b0 and b1 <= h - 5, f"{word!r} off the page"
        assert a1 <= qr_box[0] or a0 >= qr_box[2] or b1 <= qr_box[1] or b0 >= qr_box[3], f"{word!r} on QR"
        for c0, d0, c1, d1, other in words[i + 1 :]:
            assert a1 <= c0 or c1 <= a0 or b1 <= d0 or d1 <= b0, f"{word!r} overlaps {other!r}"
    return symbol_px * MM_PER_PX


def test_qr_is_smallest_alphanumeric_version_at_ecc_m(text: str) -> None:
    qr = qr_code(text)
    assert qr.error_correction == qrcode.constants.ERROR_CORRECT_M
    assert qr.border == 4
    assert [d.mode for d in qr.data_list] == [MODE_ALPHA_NUM]
    assert qr_version(text) == qr.version == 13
    smaller = qrcode.QRCode(version=qr.version - 1, error_correction=qrcode.constants.ERROR_CORRECT_M)
    smaller.add_data(qr.data_list[0])
    with pytest.raises(qrcode.exceptions.DataOverflowError):
        smaller.make(fit=False)


def test_text_outside_base45_alphabet_is_rejected() -> None:
    with pytest.raises(ValueError):
        qr_code("CP1:lowercase")


def test_png_decodes_to_the_text(text: str, tmp_path: Path) -> None:
    write_png(text, tmp_path / "p.png", box_size=4)
    with PIL.Image.open(tmp_path / "p.png") as image:
        assert image.size == ((qr_version(text) * 4 + 17 + 8) * 4,) * 2
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [b.text for b in found] == [text]
    assert found[0].ec_level == "M"


def test_svg_is_a_standalone_svg(text: str, tmp_path: Path) -> None:
    write_svg(text, tmp_path / "p.svg")
    root = ET.parse(tmp_path / "p.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox")
    assert root.findall(".//{http://www.w3.org/2000/svg}path")


def test_a5_pdf_scans_and_qr_is_at_least_90mm(text: str, tmp_path: Path) -> None:
    write_pdf(text, CARD, tmp_path / "pass.pdf")
    assert _check_printed_pass(tmp_path / "pass.pdf", text, A5_PT) >= 90


def test_a4_pdf_has_a_bigger_qr(text: str, tmp_path: Path) -> None:
    write_pdf(text, CARD, tmp_path / "a5.pdf")
    write_pdf(text, CARD, tmp_path / "a4.pdf", page="A4")
    a5 = _check_printed_pass(tmp_path / "a5.pdf", text, A5_PT)
    assert _check_printed_pass(tmp_path / "a4.pdf", text, A4_PT) >= 1.3 * a5


@pytest.mark.parametrize("page, size", [("A5", A5_PT), ("A4", A4_PT)])
def test_many_escorts_and_long_enterprise_stay_on_one_page(
    text: str, tmp_path: Path, page: str, size: tuple[float, float]
) -> None:
    assert len(LONG_CARD.enterprise) == 60
    write_pdf(text, LONG_CARD, tmp_path / "pass.pdf", page=page)
    assert _check_printed_pass(tmp_path / "pass.pdf", text, size) >= 90
    printed = "".join(word[4] for word in _words(tmp_path / "pass.pdf"))
    assert all(e.split()[0] in printed for e in LONG_CARD.escorts)
    assert "有限公司" in printed


def test_details_that_cannot_fit_are_an_error_not_a_clipped_page(text: str, tmp_path: Path) -> None:
    crowd = replace(CARD, escorts=tuple(f"押运员{i}  320583********{i:04d}" for i in range(80)))
    with pytest.raises(ValueError, match="A4"):
        write_pdf(text, crowd, tmp_path / "pass.pdf")
    assert not (tmp_path / "pass.pdf").exists()


def test_unknown_page_size_is_rejected(text: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_pdf(text, CARD, tmp_path / "pass.pdf", page="Letter")


def test_write_all_creates_the_three_files(text: str, tmp_path: Path) -> None:
    out = tmp_path / "nested" / "dir"
    paths = write_all(text, CARD, out)
    assert paths == {"png": out / "pass.png", "svg": out / "pass.svg", "pdf": out / "pass.pdf"}
    assert all(p.stat().st_size > 0 for p in paths.values())
    with PIL.Image.open(paths["png"]) as image:
        assert [b.text for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)] == [
            text
        ]
    _check_printed_pass(paths["pdf"], text, A5_PT)


# --- a bus pass's manifest sheets (issue 14) -------------------------------------------------------------------


def _page_text(chars: int, seed: int) -> str:
    """A manifest page's size of QR text: 580 characters is version 15, as most pages; 640 version 16."""
    t = "CPM1:" + base45.b45encode(random.Random(seed).randbytes((chars - 5) // 3 * 2)).decode()
    return t


def _rows(first: int, origin: str, names: tuple[str, ...]) -> tuple[ManifestRow, ...]:
    return tuple(
        ManifestRow(first + i, name, f"411503********{first + i:04d}", origin) for i, name in enumerate(names)
    )


XINYANG, YINING = "河南省 信阳市 平桥区", "新疆维吾尔自治区 伊犁哈萨克自治州 伊宁县"
SHEETS = (
    ManifestSheet(_page_text(580, 1), 1, 2, _rows(1, XINYANG, ("王伟", "欧阳建国", "李秀英", "张敏") * 2)),
    ManifestSheet(_page_text(640, 2), 2, 2, _rows(9, YINING, ("阿依古丽", "买买提", "欧阳晓明", "刘洋") * 2)),
)
BUS_CARD = replace(
    CARD,
    escorts=(),
    bus=BusCard("信阳汽车站 → 昆山汽车南站", 53, "周经理  320583********3215", 16, 2),
    manifest=SHEETS,
)


def _sheet_image(pdf: Path, number: int, dpi: int) -> Path:
    prefix = pdf.parent / f"{pdf.stem}-{number}-{dpi}"
    subprocess.run(
        [_poppler("pdftoppm"), "-r", str(dpi), "-f", str(number), "-l", str(number), "-png", "-singlefile",
         str(pdf), str(prefix)],
        check=True,
    )  # fmt: skip
    return prefix.with_suffix(".png")


def _module_mm(image: Path, text: str) -> tuple[float, tuple[float, ...]]:
    """(the printed module in mm, the QR's box with its quiet zone in points) on a 150 dpi image."""
    found = zxingcpp.read_barcodes(PIL.Image.open(image).convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [b.text for b in found] == [text]
    pos = found[0].position
    module_px = math.dist((pos.top_left.x, pos.top_left.y), (pos.top_right.x, pos.top_right.y)) / (
        17 + 4 * qr_version(text)
    )
    qz = 4 * module_px
    box = (pos.top_left.x - qz, pos.top_left.y - qz, pos.bottom_right.x + qz, pos.bottom_right.y + qz)
    return module_px * MM_PER_PX, tuple(v * PT_PER_PX for v in box)


def _page_words(pdf: Path, number: int) -> list[tuple[float, float, float, float, str]]:
    out = subprocess.run(
        [_poppler("pdftotext"), "-bbox", "-f", str(number), "-l", str(number), str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    return [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(pattern, out)]


@pytest.mark.parametrize("page, size", [("A5", A5_PT), ("A4", A4_PT)])
def test_manifest_sheets_print_their_qr_with_the_pass_s_modules(
    text: str, tmp_path: Path, page: str, size: tuple[float, float]
) -> None:
    """Every sheet's QR (v15, v16) has modules at least as big as the pass's own, reads at 150 and at 100 dpi,
    and its eight passengers fit below it on the same page: names whole, nothing on the QR or on other text."""
    pdf = tmp_path / "bus.pdf"
    write_pdf(text, BUS_CARD, pdf, page=page)
    assert _pdfinfo(pdf)["Pages"] == "3"
    pass_module, _ = _module_mm(_sheet_image(pdf, 1, DPI), text)
    w, h = size
    for number, sheet in enumerate(SHEETS, 2):
        module, qr_box = _module_mm(_sheet_image(pdf, number, DPI), sheet.text)
        assert module >= pass_module * 0.98, (number, module, pass_module)  # a pixel of measuring error
        symbol_mm = module * (17 + 4 * qr_version(sheet.text))
        assert symbol_mm > 100 * w / A5_PT[0]  # wider than the pass's symbol (100 mm on A5)
        assert decode_image_file(_sheet_image(pdf, number, 100)) == [sheet.text]
        words = _page_words(pdf, number)
        printed = {word[4] for word in words}
        assert all(row.name in printed for row in sheet.rows)
        assert all(row.id_masked in printed for row in sheet.rows)
        assert f"{sheet.number}/{sheet.pages}" in printed
        for i, (a0, b0, a1, b1, word) in enumerate(words):
            assert 5 <= a0 and a1 <= w - 5 and 5 <= b0 and b1 <= h - 5, f"{word!r} off the page"
            assert a1 <= qr_box[0] or a0 >= qr_box[2] or b1 <= qr_box[1] or b0 >= qr_box[3], f"{word!r} on QR"
            for c0, d0, c1, d1, other in words[i + 1 :]:
                assert a1 <= c0 or c1 <= a0 or b1 <= d0 or d1 <= b0, f"{word!r} overlaps {other!r}"
        heights = [b1 - b0 for _, b0, _, b1, word in words if word in {row.name for row in sheet.rows}]
        assert min(heights) >= 5.5 * (w / A5_PT[0])  # names stay readable: 6 pt on A5 at the least


def test_a_sheet_of_32_character_names_still_prints(text: str, tmp_path: Path) -> None:
    """Names as long as a name may be: the QR gives up size for the table rather than the PDF failing."""
    names = tuple(("阿卜杜热合曼买买提艾力" * 3)[k : k + 32] for k in range(8))
    sheet = ManifestSheet(_page_text(1350, 3), 1, 1, _rows(1, YINING, names))
    pdf = tmp_path / "long.pdf"
    write_pdf(text, replace(BUS_CARD, manifest=(sheet,)), pdf)
    assert decode_image_file(_sheet_image(pdf, 2, DPI)) == [sheet.text]
    printed = "".join(word[4] for word in _page_words(pdf, 2))
    assert all(name[:8] in printed and name[-8:] in printed for name in names)
