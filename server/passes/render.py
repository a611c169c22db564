"""Delivery files for a pass: the QR as PNG and SVG, and a printable PDF card.

The PDF is printed and put behind a windscreen, so its QR is vector, big enough for a webcam reading it
through glass, and the rest of the page yields space to it. A bus pass (issue 14) prints its signed manifest pages
after the card, one sheet each: the page's QR, "第 3/5 页", the pass number and a table of the passengers on it, so
an officer with no network reads the manifest from paper."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
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

__all__ = [
    "BusCard",
    "ManifestRow",
    "ManifestSheet",
    "PassCard",
    "qr_code",
    "qr_version",
    "write_all",
    "write_pdf",
    "write_png",
    "write_svg",
]

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


# A manifest sheet's QR is printed with modules as big as the pass's own (docs/performance.md "Manifest pages"):
# a page is a bigger QR than the pass (v15-16 against v12), and the camera needs the same pixels a module to read
# it, so the page's symbol comes out wider than the pass's 90-100 mm. The passenger table gets what is left below
# it, in two side-by-side halves when one does not fit.
# The smallest a page's QR symbol gets (A5), for passengers who leave no room at the pass's module (long names).
_MANIFEST_QR_MM_MIN = 60.0
_PERSONNEL = "人员运输 personnel transport"


@dataclass(frozen=True)
class BusCard:
    """What the card of a bus pass adds: display strings, already formatted by the caller."""

    stations: str  # "信阳汽车站 → 昆山汽车南站" (站到站)
    seats: int
    manager: str  # name and masked ID number
    passengers: int
    pages: int


@dataclass(frozen=True)
class ManifestRow:
    number: int  # the passenger's number on the whole manifest (1-based), as the roll call counts
    name: str
    id_masked: str
    origin: str  # region name as people read it (the code if the table does not know it)


@dataclass(frozen=True)
class ManifestSheet:
    """One manifest page as printed: its signed text (the QR) and the passengers on it."""

    text: str
    number: int
    pages: int
    rows: tuple[ManifestRow, ...]


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
    bus: BusCard | None = None  # a personnel-transport pass; None for freight
    manifest: tuple[ManifestSheet, ...] = ()  # printed after the card, one page each


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
    if card.bus is not None:
        return _bus_rows(card, card.bus)
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


def _bus_rows(card: PassCard, bus: BusCard) -> list[tuple[str, list[str], float]]:
    """A bus: marked as personnel transport first (the priority lane), the manager in the escorts' place, the
    stations as its route, and how many manifest pages the officer must scan."""
    rows = [
        ("类别 Kind", [_PERSONNEL], 1.3),
        ("车牌 Plate", [f"{card.plate}  {card.plate_colour}"], 1.6),
        ("企业 Enterprise", [card.enterprise], 1.0),
        ("驾驶员 Driver", [card.driver], 1.0),
        ("随车管理 Manager", [bus.manager], 1.0),
        ("站到站 Stations", [bus.stations], 1.0),
        ("座位 Seats", [f"{bus.seats} 座 seats · 乘客 {bus.passengers} 人 passengers"], 1.0),
        ("乘客名单 Manifest", [f"乘客名单共 {bus.pages} 页 / manifest: {bus.pages} pages"], 1.0),
    ]
    if card.cargo:
        rows.append(("货物 Cargo", [card.cargo], 1.0))
    return [
        *rows,
        ("有效期 Valid", [f"{card.valid_from} 至 to {card.valid_until}"], 1.0),
        ("签发 Issuer", [card.issuer], 1.0),
    ]


def _hotline(card: PassCard) -> tuple[str, ...]:
    return (f"24小时交通运输服务热线 24-hour service hotline  {card.hotline}",) if card.hotline else ()


_Line = tuple[float, float, str, float, bool]  # x, baseline y, text, font size, is a label
_Rule = tuple[float, float, float]  # a line under a table row: x from, x to, y


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


def _canvas(path: Path, size: tuple[float, float], card: PassCard) -> Canvas:
    # The canvas's initial font would otherwise be Helvetica, listed in the file and never embedded.
    c = Canvas(
        str(path),
        pagesize=size,
        invariant=True,
        pageCompression=1,
        initialFontName=pdf_font.font_name(),  # type: ignore[arg-type]  # the stubs say float; reportlab takes a name
    )
    c.setTitle(f"车辆通行证 / Vehicle Pass {card.serial}")
    c.setAuthor(card.issuer)
    c.setSubject(f"{card.plate} {card.pass_id}")
    c.setCreator("checkpass")
    return c


def _draw_qr(c: Canvas, matrix: list[list[bool]], left: float, top: float, module: float) -> None:
    # One path for all dark modules, each row's runs merged: a single fill leaves no anti-aliasing
    # seams between neighbouring modules, which some decoders trip over.
    p = c.beginPath()
    for r, row in enumerate(matrix):
        col = 0
        for dark, run in itertools.groupby(row):
            k = len(list(run))
            if dark:
                p.rect(left + col * module, top - (r + 1) * module, k * module, module)
            col += k
    c.setFillColor(black)
    c.drawPath(p, stroke=0, fill=1)


@dataclass(frozen=True)
class _Frame:
    """The layout a card and a manifest sheet share: two centred heading lines, the QR centred below them, the
    page's own block (the details, the passengers) under the QR, and a grey footer at the bottom."""

    pw: float
    ph: float
    scale: float  # A4 is A5 scaled by sqrt(2); scaling keeps the proportions the same
    margin: float
    title: str
    title_size: float
    subtitle: str
    subtitle_size: float
    footer: tuple[str, ...]  # wrapped lines
    foot_size: float

    @property
    def width(self) -> float:
        return self.pw - 2 * self.margin

    @property
    def qr_top(self) -> float:
        return self.ph - self.margin - self.title_size * 1.3 - self.subtitle_size * 1.4

    @property
    def floor(self) -> float:
        """How low the block under the QR may reach: above the footer."""
        return self.margin + (len(self.footer) + 0.6) * self.foot_size * 1.25


def _frame(
    page: str, title: tuple[str, float], subtitle: tuple[str, float], footer: tuple[str, ...]
) -> _Frame:
    """The frame of a ``page`` sheet; heading sizes are given for A5."""
    pw, ph = _PAGES[page]
    scale = pw / A5[0]
    margin = _MARGIN_MM * mm * scale
    foot_size = 6.5 * scale
    lines = tuple(part for text in footer for part in _wrap(text, foot_size, pw - 2 * margin))
    return _Frame(
        pw, ph, scale, margin, title[0], title[1] * scale, subtitle[0], subtitle[1] * scale, lines, foot_size
    )


def _draw_page(
    c: Canvas,
    frame: _Frame,
    matrix: list[list[bool]],
    module: float,
    lines: list[_Line],
    rules: Sequence[_Rule] = (),
) -> None:
    """Draws the sheet: headings, the QR, the block's ``lines`` (grey where flagged: labels, headers) with its
    ``rules`` (x from, x to, y), and the footer."""
    f = frame
    _draw(c, f.pw / 2, f.ph - f.margin - f.title_size, f.title, f.title_size, centred=True)
    subtitle_y = f.ph - f.margin - f.title_size - f.subtitle_size * 1.2
    _draw(c, f.pw / 2, subtitle_y, f.subtitle, f.subtitle_size, centred=True)
    _draw_qr(c, matrix, (f.pw - len(matrix) * module) / 2, f.qr_top, module)
    if rules:
        c.setStrokeColor(_GREY)
        c.setLineWidth(0.4 * f.scale)
        for x0, x1, y in rules:
            c.line(x0, y, x1, y)
    for lx, ly, text, lsize, grey in lines:
        c.setFillColor(_GREY if grey else black)
        _draw(c, lx, ly, text, lsize)
    c.setFillColor(_GREY)
    for j, part in enumerate(reversed(f.footer)):
        _draw(c, f.pw / 2, f.margin + j * f.foot_size * 1.25, part, f.foot_size, centred=True)
    c.showPage()


def _pdf(qr: qrcode.QRCode, card: PassCard, path: Path, page: str) -> None:
    if page not in _PAGES:
        raise ValueError(f"page must be one of {sorted(_PAGES)}, not {page!r}")
    pw, ph = _PAGES[page]
    c = _canvas(path, (pw, ph), card)
    module = _pass_page(c, qr, card, page)
    for sheet in card.manifest:
        _manifest_page(c, sheet, card, page, module)
    c.save()


def _pass_page(c: Canvas, qr: qrcode.QRCode, card: PassCard, page: str) -> float:
    """Draws the card; answers the size of the QR's modules as printed (points)."""
    footer = (_EQUAL, f"通行证编号 Pass ID  {card.pass_id}", *_hotline(card))
    frame = _frame(page, ("车辆通行证 / Vehicle Pass", 15), (card.serial, 24), footer)
    matrix = qr.get_matrix()  # includes the quiet zone
    n = len(matrix)

    # Shrink the text first; only if it still does not fit does the QR give up its headroom, never
    # going below 90 mm. Refusing beats clipping: a pass missing an escort fails at the checkpoint.
    modules = [min(q * mm * frame.scale / (n - 2 * _BORDER), frame.pw / n) for q in _QR_MM_A5]
    for module, size in ((m, (10 - 0.5 * step) * frame.scale) for m in modules for step in range(9)):
        lines, end = _layout_details(card, frame.margin, frame.qr_top - n * module, frame.width, size)
        if end >= frame.floor:
            break
    else:
        raise ValueError(f"pass details do not fit on one {page} page; use page='A4' or shorten them")
    _draw_page(c, frame, matrix, module, lines)
    return module


# Manifest table headers, in column order (number, name, ID number, origin): Chinese over English, two lines.
_HEADERS = (("序号", "No."), ("姓名", "Name"), ("身份证号", "ID number"), ("出发地", "Origin"))


def _wrap_at_spaces(text: str, size: float, width: float) -> list[str]:
    """``_wrap``, breaking between the space-separated parts where each fits (an origin's "省 市 县" stays whole
    names), and inside a part only when the part alone is wider than the column."""
    lines: list[str] = []
    for part in text.split():
        if lines and _width(f"{lines[-1]} {part}", size) <= width:
            lines[-1] = f"{lines[-1]} {part}"
        else:
            lines.extend(_wrap(part, size, width))
    return lines or [""]


def _columns(rows: tuple[ManifestRow, ...], size: float, width: float) -> list[float] | None:
    """Column widths: the number and the ID number as wide as their widest cell (they never wrap), the name as
    wide as its widest up to half of what is left, the origin the rest (it wraps); None if the origin would get
    less than four characters a line."""
    pad, head = size * 0.5, size * 0.85

    def widest(cells: list[str], header: tuple[str, ...]) -> float:
        return max([_width(cell, size) for cell in cells] + [_width(line, head) for line in header]) + pad

    number = widest([str(r.number) for r in rows], _HEADERS[0])
    ident = widest([r.id_masked for r in rows], _HEADERS[2])
    rest = width - number - ident
    name = min(widest([r.name for r in rows], _HEADERS[1]), rest / 2)
    if rest - name < 4 * size + pad:
        return None
    return [number, name, ident, rest - name]


def _table_band(
    rows: tuple[ManifestRow, ...], x: float, top: float, width: float, size: float
) -> tuple[list[_Line], list[_Rule], float] | None:
    """One table of ``rows`` in ``width`` at font ``size``: its lines, its rules and where it ends (None: the
    columns do not fit)."""
    columns = _columns(rows, size, width)
    if columns is None:
        return None
    lefts = list(itertools.accumulate([x, *columns]))
    pad = size * 0.5
    header = [
        [line for part in parts for line in _wrap(part, size * 0.85, w - pad)]
        for parts, w in zip(_HEADERS, columns, strict=True)
    ]
    body = [
        [
            _wrap(str(row.number), size, columns[0] - pad),
            _wrap(row.name, size, columns[1] - pad),
            _wrap(row.id_masked, size, columns[2] - pad),
            _wrap_at_spaces(row.origin, size, columns[3] - pad),
        ]
        for row in rows
    ]
    out: list[_Line] = []
    rules: list[_Rule] = []
    y = top
    for index, wrapped in enumerate([header, *body]):
        cell_size = size * (0.85 if index == 0 else 1.0)
        for k in range(max(len(lines) for lines in wrapped)):
            y -= size * (1.1 if index == 0 else 1.3)
            for column, lines in enumerate(wrapped):
                if k < len(lines):
                    out.append((lefts[column], y, lines[k], cell_size, index == 0))
        y -= size * 0.45
        rules.append((x, x + width, y))
    return out, rules, y


def _table_lines(
    rows: tuple[ManifestRow, ...], x: float, top: float, width: float, size: float, *, halves: bool
) -> tuple[list[_Line], list[_Rule], float] | None:
    """The passenger table at font ``size``, in one band or (``halves``) the first half of the rows on the left
    and the rest on the right, numbers reading down each: its lines, rules and lowest y (None: does not fit)."""
    if not halves or len(rows) < 2:
        return _table_band(rows, x, top, width, size)
    gutter = size * 1.5
    band = (width - gutter) / 2
    split = (len(rows) + 1) // 2
    left = _table_band(rows[:split], x, top, band, size)
    right = _table_band(rows[split:], x + band + gutter, top, band, size)
    if left is None or right is None:
        return None
    return left[0] + right[0], left[1] + right[1], min(left[2], right[2])


def _manifest_page(c: Canvas, sheet: ManifestSheet, card: PassCard, page: str, pass_module: float) -> None:
    """One manifest sheet: title, "第 3/5 页", the page's QR with modules as big as the pass's (``pass_module``,
    points; never wider than the paper) and the passengers' table below it."""
    footer = (
        f"{card.plate} · 通行证编号 Pass ID  {card.pass_id}",
        "逐页扫描二维码核对乘客 / scan every page's QR to check the passengers",
    )
    number = f"第 {sheet.number}/{sheet.pages} 页 page {sheet.number}/{sheet.pages}"
    frame = _frame(page, (f"乘客名单 Passenger manifest · {card.serial}", 13), (number, 20), footer)
    matrix = qr_code(sheet.text).get_matrix()
    n = len(matrix)

    # The QR keeps the pass's module size (no wider than the paper); the table shrinks to fit (9 pt down to 6 pt on
    # A5), at each size in one band first, then in two halves side by side. Only a page the table cannot share at
    # that size (long names on many lines, or a QR too big for the paper: a name may have 32 characters) gives up
    # QR size, in tenths, down to a 60 mm symbol; beyond that refusing beats clipping a passenger.
    largest = min(pass_module, frame.pw / n)
    smallest = min(largest, _MANIFEST_QR_MM_MIN * mm * frame.scale / (n - 2 * _BORDER))
    modules = [m for m in (largest * (1 - 0.1 * k) for k in range(10)) if m > smallest] + [smallest]
    sizes = [((9 - 0.5 * step) * frame.scale, halves) for step in range(7) for halves in (False, True)]
    for module, (size, halves) in ((m, s) for m in modules for s in sizes):
        top = frame.qr_top - n * module
        table = _table_lines(sheet.rows, frame.margin, top, frame.width, size, halves=halves)
        if table is not None and table[2] >= frame.floor:
            break
    else:
        raise ValueError(
            f"manifest page {sheet.number}'s passengers do not fit beside its QR on one {page} page"
        )
    lines, rules, _ = table
    _draw_page(c, frame, matrix, module, lines, rules)
