"""Delivery files for a pass: the QR as PNG and SVG, and a printable PDF card.

The PDF is printed and put behind a windscreen, so its QR is vector, big enough for a webcam reading it
through glass, and the rest of the page yields space to it."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import qrcode
import qrcode.constants
import qrcode.image.svg
from qrcode.util import MODE_ALPHA_NUM, QRData
from reportlab.lib.colors import HexColor, black
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from server import pdf_font

__all__ = ["PassCard", "qr_code", "qr_version", "write_all", "write_pdf", "write_png", "write_svg"]

_PAGES = {"A5": A5, "A4": A4}
_BORDER = 4  # modules of quiet zone; scanners need it to find the finder patterns
# Printed width of the symbol itself (quiet zone not included) on A5; A4 gets sqrt(2) times this.
# 90 mm is the floor for a webcam reading through a windscreen; the extra is headroom for long details.
_QR_MM_A5 = (100.0, 95.0, 90.0)
_MARGIN_MM = 8.0
_GREY = HexColor("#555555")
_EQUAL = "纸质与电子通行证同等有效 / printed and electronic passes are equally valid"
# ASCII runs (ID numbers, plates, English words) stay whole; every other character is a break chance,
# which is how Chinese text wraps.
_TOKEN = re.compile(r"[\x21-\x7e]+|\s+|.", re.S)


@dataclass(frozen=True)
class PassCard:
    """Display strings for the card, already formatted by the caller; printed as given."""

    serial: str
    pass_id: str
    plate: str
    plate_colour: str
    enterprise: str
    driver: str
    escorts: tuple[str, ...]
    route: str
    cargo: str
    valid_from: str
    valid_until: str
    issuer: str
    hotline: str = ""  # the 24-hour service centre's phone (the policy's service_hotline); "" prints none


def _qr_data(text: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(version=None, error_correction=qrcode.constants.ERROR_CORRECT_M, border=_BORDER)
    # Forcing the mode makes non-Base45 text an error instead of a silent fall back to byte mode,
    # which would need a noticeably bigger symbol.
    qr.add_data(QRData(text, mode=cast(Literal[2], MODE_ALPHA_NUM)))
    return qr


def qr_code(text: str) -> qrcode.QRCode:
    """Smallest QR (ECC M) holding ``text`` in alphanumeric mode; ValueError if text is not Base45."""
    qr = _qr_data(text)
    qr.make(fit=True)
    return qr


def qr_version(text: str) -> int:
    """The version ``qr_code`` would choose, without building the symbol (choosing its mask is slow)."""
    return int(_qr_data(text).best_fit())


def write_png(text: str, path: Path, *, box_size: int = 8) -> None:
    _png(qr_code(text), Path(path), box_size)


def write_svg(text: str, path: Path) -> None:
    _svg(qr_code(text), Path(path))


def write_pdf(text: str, card: PassCard, path: Path, *, page: str = "A5") -> None:
    _pdf(qr_code(text), card, Path(path), page)


def write_all(text: str, card: PassCard, out_dir: Path, *, page: str = "A5") -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    qr = qr_code(text)  # choosing the mask is the slow part; do it once for all three files
    paths = {"png": out_dir / "pass.png", "svg": out_dir / "pass.svg", "pdf": out_dir / "pass.pdf"}
    _png(qr, paths["png"], 8)
    _svg(qr, paths["svg"])
    _pdf(qr, card, paths["pdf"], page)
    return paths


def _png(qr: qrcode.QRCode, path: Path, box_size: int) -> None:
    qr.box_size = box_size
    qr.make_image(fill_color="black", back_color="white").save(path)


def _svg(qr: qrcode.QRCode, path: Path) -> None:
    # The Fill variant of SvgPathImage paints the quiet zone white; a transparent one vanishes on a
    # dark page or a phone in dark mode.
    with path.open("wb") as out:
        qr.make_image(image_factory=qrcode.image.svg.SvgPathFillImage).save(out)


def _runs(text: str) -> list[tuple[str, str]]:
    """(font, run) pairs. One embedded font sets everything, Latin too: a viewer's Helvetica is not embedded
    either, and a pass is to print the same everywhere (server/pdf_font.py). Invisible format characters (a
    right-to-left mark, a zero-width space in a registered name) have no glyph and would print as boxes: dropped."""
    text = pdf_font.printable(text)
    return [(pdf_font.font_name(), text)] if text else []


def _width(text: str, size: float) -> float:
    return sum(pdfmetrics.stringWidth(run, font, size) for font, run in _runs(text))


def _draw(c: Canvas, x: float, y: float, text: str, size: float, *, centred: bool = False) -> None:
    if centred:
        x -= _width(text, size) / 2
    for font, run in _runs(text):
        c.setFont(font, size)
        c.drawString(x, y, run)
        x += pdfmetrics.stringWidth(run, font, size)


def _wrap(text: str, size: float, width: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for tok in _TOKEN.findall(text):
        if _width(line + tok, size) <= width:
            line += tok
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = ""
        if tok.isspace():
            continue
        while _width(tok, size) > width:  # a single token wider than the column: cut it anywhere
            cut = max((k for k in range(1, len(tok)) if _width(tok[:k], size) <= width), default=1)
            lines.append(tok[:cut])
            tok = tok[cut:]
        line = tok
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def _rows(card: PassCard) -> list[tuple[str, list[str], float]]:
    """(label, paragraphs, size factor) for the details block, in reading order for the officer."""
    return [
        ("车牌 Plate", [f"{card.plate}  {card.plate_colour}"], 1.6),
        ("企业 Enterprise", [card.enterprise], 1.0),
        ("驾驶员 Driver", [card.driver], 1.0),
        ("押运员 Escorts", list(card.escorts) or ["无 none"], 1.0),
        ("路线 Route", [card.route], 1.0),
        ("货物 Cargo", [card.cargo], 1.0),
        ("有效期 Valid", [f"{card.valid_from} 至 to {card.valid_until}"], 1.0),
        ("签发 Issuer", [card.issuer], 1.0),
    ]


def _hotline(card: PassCard) -> tuple[str, ...]:
    return (f"24小时交通运输服务热线 24-hour service hotline  {card.hotline}",) if card.hotline else ()


_Line = tuple[float, float, str, float, bool]  # x, baseline y, text, font size, is a label


def _layout_details(
    card: PassCard, x: float, top: float, width: float, size: float
) -> tuple[list[_Line], float]:
    """Lines of the details block at font ``size`` and the y where the block ends."""
    label_size = size * 0.8
    label_w = max(_width(label, label_size) for label, _, _ in _rows(card)) + size
    out: list[_Line] = []
    y = top
    for label, paragraphs, factor in _rows(card):
        vsize = size * factor
        first = True
        for para in paragraphs:
            for text in _wrap(para, vsize, width - label_w):
                y -= vsize * 1.25
                if first:
                    out.append((x, y, label, label_size, True))
                    first = False
                out.append((x + label_w, y, text, vsize, False))
        y -= size * 0.35
    return out, y


def _pdf(qr: qrcode.QRCode, card: PassCard, path: Path, page: str) -> None:
    if page not in _PAGES:
        raise ValueError(f"page must be one of {sorted(_PAGES)}, not {page!r}")
    pw, ph = _PAGES[page]
    scale = pw / A5[0]  # A4 is A5 scaled by sqrt(2); scaling keeps the proportions the same
    margin = _MARGIN_MM * mm * scale
    matrix = qr.get_matrix()  # includes the quiet zone
    n = len(matrix)

    title_size, serial_size = 15 * scale, 24 * scale
    qr_top = ph - margin - title_size * 1.3 - serial_size * 1.4
    width = pw - 2 * margin
    foot_size = 6.5 * scale
    footer = [
        part
        for text in (_EQUAL, f"通行证编号 Pass ID  {card.pass_id}", *_hotline(card))
        for part in _wrap(text, foot_size, width)
    ]
    details_floor = margin + (len(footer) + 0.6) * foot_size * 1.25

    # Shrink the text first; only if it still does not fit does the QR give up its headroom, never
    # going below 90 mm. Refusing beats clipping: a pass missing an escort fails at the checkpoint.
    modules = [min(q * mm * scale / (n - 2 * _BORDER), pw / n) for q in _QR_MM_A5]
    for module, size in ((m, (10 - 0.5 * step) * scale) for m in modules for step in range(9)):
        lines, end = _layout_details(card, margin, qr_top - n * module, width, size)
        if end >= details_floor:
            break
    else:
        raise ValueError(f"pass details do not fit on one {page} page; use page='A4' or shorten them")

    # The canvas's initial font would otherwise be Helvetica, listed in the file and never embedded.
    c = Canvas(
        str(path),
        pagesize=(pw, ph),
        invariant=True,
        pageCompression=1,
        initialFontName=pdf_font.font_name(),  # type: ignore[arg-type]  # the stubs say float; reportlab takes a name
    )
    c.setTitle(f"车辆通行证 / Vehicle Pass {card.serial}")
    c.setAuthor(card.issuer)
    c.setSubject(f"{card.plate} {card.pass_id}")
    c.setCreator("checkpass")

    _draw(c, pw / 2, ph - margin - title_size, "车辆通行证 / Vehicle Pass", title_size, centred=True)
    _draw(c, pw / 2, ph - margin - title_size - serial_size * 1.2, card.serial, serial_size, centred=True)

    # One path for all dark modules, each row's runs merged: a single fill leaves no anti-aliasing
    # seams between neighbouring modules, which some decoders trip over.
    left = (pw - n * module) / 2
    p = c.beginPath()
    for r, row in enumerate(matrix):
        col = 0
        for dark, run in itertools.groupby(row):
            k = len(list(run))
            if dark:
                p.rect(left + col * module, qr_top - (r + 1) * module, k * module, module)
            col += k
    c.setFillColor(black)
    c.drawPath(p, stroke=0, fill=1)

    for lx, ly, text, lsize, is_label in lines:
        c.setFillColor(_GREY if is_label else black)
        _draw(c, lx, ly, text, lsize)
    c.setFillColor(_GREY)
    for j, part in enumerate(reversed(footer)):
        _draw(c, pw / 2, margin + j * foot_size * 1.25, part, foot_size, centred=True)
    c.showPage()
    c.save()
