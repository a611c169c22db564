"""A printed pass carries its own font: pdffonts lists every font as embedded, and the Chinese comes back as text."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from server.passes.render import PassCard, write_pdf

CARD = PassCard(
    serial="320583-000123",
    pass_id="65a1f0c2d4e5b6a7c8d9e0f1",
    plate="苏E·A1234",
    plate_colour="绿牌 green",
    enterprise="昆山精密机械有限公司",
    driver="阿依古丽·买买提  650102********1234",
    escorts=("龑堃  320583********5678",),
    route="江苏省 苏州市 昆山市 → 上海市",
    cargo="精密机床零部件 12 箱",
    valid_from="2026-02-10 08:00",
    valid_until="2026-02-24 08:00",
    issuer="昆山市交通运输局",
)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install Debian's poppler-utils")
    return path


def test_every_font_of_a_printed_pass_is_embedded(tmp_path: Path) -> None:
    pdf = tmp_path / "pass.pdf"
    write_pdf("CP1:ABC", CARD, pdf)
    out = subprocess.run([_tool("pdffonts"), str(pdf)], check=True, capture_output=True, text=True).stdout
    rows = out.splitlines()[2:]  # after the header and its dashes
    assert rows, out
    # Columns: name type encoding emb sub uni object-id; "emb" is the 4th from the right.
    assert all(row.split()[-5] == "yes" for row in rows), out
    assert any("WenQuanYiZenHei" in row for row in rows), out

    text = subprocess.run(
        [_tool("pdftotext"), str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "阿依古丽·买买提" in text and "龑堃" in text


def test_the_server_does_not_start_without_its_pdf_font(tmp_path: Path) -> None:
    from server.config import get_settings
    from server.main import create_app
    from server.pdf_font import DEFAULT_FONT, FontMissing, use

    settings = get_settings(home=tmp_path, pdf_font=tmp_path / "gone.ttf")
    try:
        with pytest.raises(FontMissing, match=r"gone\.ttf does not exist"):
            create_app(settings)
    finally:
        use(DEFAULT_FONT)  # the font of the other tests in this process
