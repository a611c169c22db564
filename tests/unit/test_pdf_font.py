"""The PDFs' font: registered once, embeddable, and the judge of which names a pass can print."""

from __future__ import annotations

from pathlib import Path

import pytest

from server import pdf_font


def test_default_font_is_registered_under_one_name() -> None:
    assert pdf_font.use(pdf_font.DEFAULT_FONT) == pdf_font.font_name() == "CheckpassCJK"


@pytest.mark.parametrize(
    "text",
    [
        "张三",
        "阿依古丽·买买提",
        "欧阳娜娜",
        "苏E·A1234",
        "龑 堃 喆 镕 赟 犇 淼 䶮",
        "Zhang San-Li O'Neil",
        "→ 至 —",
    ],
)
def test_ordinary_names_and_pass_text_render(text: str) -> None:
    assert pdf_font.unrenderable(text) == ""


def test_characters_outside_the_font_are_named_once_each_in_order() -> None:
    # U+20000 and U+2A6A5 (CJK Extension B) are not in WenQuanYi Zen Hei; nor is a private-use character.
    assert pdf_font.unrenderable("张\U00020000三\U0002a6a5\U00020000\ue000") == "\U00020000\U0002a6a5\ue000"


def test_line_breaks_are_not_glyphs() -> None:
    assert pdf_font.unrenderable("一\n二\r\n三\t") == ""


def test_a_missing_font_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(pdf_font.FontMissing, match="does not exist"):
        pdf_font.use(tmp_path / "missing.ttf")


def test_a_file_that_is_not_truetype_fails_clearly(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.ttf"
    bogus.write_bytes(b"not a font")
    with pytest.raises(pdf_font.FontMissing, match="cannot be embedded"):
        pdf_font.use(bogus)
    assert pdf_font.font_name() == "CheckpassCJK"  # a failed use() leaves the working font in place


def test_invisible_format_characters_are_not_glyphs_and_are_not_printed() -> None:
    # A registered enterprise name may hold a right-to-left mark or a zero-width space (usable text); the pass
    # prints the name without them rather than as boxes.
    name = "企业\u200f名\u200b称"
    assert pdf_font.unrenderable(name) == ""
    assert pdf_font.printable(name) == "企业名称"
    assert (
        pdf_font.printable("张\U00020000") == "张\U00020000"
    )  # visible but missing: refused earlier, not hidden
