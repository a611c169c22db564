"""A shift's tally and log as a printable A4 PDF, in Chinese by default (``shift_report`` gathers the content).

Fonts as the bureau's pass PDFs do it: Chinese in Adobe's CID font STSong-Light (the viewer supplies the glyphs,
no font file ships), runs of Latin text in Helvetica, whose widths every viewer matches.
"""

from __future__ import annotations

import functools
import io
import re

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from checkpoint_client.shift_report import HANDED_OVER, ShiftReport, words

__all__ = ["render"]

_RUN = re.compile(r"[\x00-\xff]+|[^\x00-\xff]+")
_TOKEN = re.compile(r"[\x21-\x7e]+|\s+|.", re.S)
MARGIN = 15 * mm
WIDTH, HEIGHT = A4
# Log columns: (key, width in mm); the reasons take what is left.
COLUMNS = (("time", 34), ("plate", 26), ("outcome", 30), ("reasons", 0), ("officer", 24))
SIZE = 9.0
LINE = SIZE * 1.45


@functools.cache
def _cjk_font() -> str:
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _runs(text: str) -> list[tuple[str, str]]:
    return [("Helvetica" if m[0][0] <= "\xff" else _cjk_font(), m[0]) for m in _RUN.finditer(text)]


def _width(text: str, size: float) -> float:
    return sum(pdfmetrics.stringWidth(run, font, size) for font, run in _runs(text))


def _draw(c: Canvas, x: float, y: float, text: str, size: float = SIZE) -> None:
    for font, run in _runs(text):
        c.setFont(font, size)
        c.drawString(x, y, run)
        x += pdfmetrics.stringWidth(run, font, size)


def _wrap(text: str, width: float, size: float = SIZE) -> list[str]:
    lines: list[str] = []
    line = ""
    for tok in _TOKEN.findall(text):
        if _width(line + tok, size) <= width:
            line += tok
            continue
        if line.strip():
            lines.append(line.rstrip())
        line = "" if tok.isspace() else tok
        while _width(line, size) > width and len(line) > 1:  # one token wider than the column: cut it
            cut = max((k for k in range(1, len(line)) if _width(line[:k], size) <= width), default=1)
            lines.append(line[:cut])
            line = line[cut:]
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


class _Pages:
    """A canvas that starts a new page, with the running header, when the next block does not fit."""

    def __init__(self, report: ShiftReport, lang: str) -> None:
        self.buffer = io.BytesIO()
        self.c = Canvas(self.buffer, pagesize=A4, pageCompression=1)
        self.c.setTitle(
            f"{words('title', lang)} {report.shift.officer} {report.local(report.shift.started_at)}"
        )
        self.report, self.lang, self.page = report, lang, 1
        self.y = HEIGHT - MARGIN

    def need(self, height: float) -> None:
        if self.y - height < MARGIN + 8 * mm:
            self._footer()
            self.c.showPage()
            self.page += 1
            self.y = HEIGHT - MARGIN

    def _footer(self) -> None:
        shift = self.report.shift
        _draw(
            self.c,
            MARGIN,
            MARGIN,
            f"{shift.officer} · {self.report.local(shift.started_at)} · {self.page}",
            8,
        )

    def finish(self) -> bytes:
        self._footer()
        self.c.showPage()
        self.c.save()
        return self.buffer.getvalue()


def _columns() -> list[tuple[str, float, float]]:
    fixed = sum(w for _, w in COLUMNS) * mm
    rest = WIDTH - 2 * MARGIN - fixed
    out, x = [], MARGIN
    for key, w in COLUMNS:
        width = w * mm if w else rest
        out.append((key, x, width - 2 * mm))
        x += width
    return out


def render(report: ShiftReport, lang: str = "zh") -> bytes:
    """The PDF bytes of ``report``."""
    pages = _Pages(report, lang)
    c, shift = pages.c, report.shift
    _draw(c, MARGIN, pages.y - 16, f"{words('title', lang)} · {report.checkpoint}", 16)
    pages.y -= 30
    facts = [
        (words("officer", lang), f"{shift.officer}  {shift.name}"),
        (words("device", lang), shift.device),
        (words("from", lang), report.local(shift.started_at)),
        (words("until", lang), report.local(shift.ended_at) or words("running", lang)),
        (words("generated", lang), report.local(report.generated_at)),
    ]
    for label, value in facts:
        _draw(c, MARGIN, pages.y - LINE, label, SIZE + 1)
        _draw(c, MARGIN + 28 * mm, pages.y - LINE, value, SIZE + 1)
        pages.y -= LINE + 2
    pages.y -= 6
    _draw(c, MARGIN, pages.y - 12, words("tally", lang), 12)
    pages.y -= 18
    tally = report.tally()
    total = sum(v for k, v in tally.items() if k != HANDED_OVER)
    for kind, count in [*tally.items(), ("", total)]:
        label = report.kind_words(kind, lang) if kind else words("total", lang)
        _draw(c, MARGIN, pages.y - LINE, label, SIZE + 1)
        _draw(c, MARGIN + 80 * mm, pages.y - LINE, str(count), SIZE + 1)
        pages.y -= LINE + 1
    pages.y -= 8
    _draw(c, MARGIN, pages.y - 12, words("log", lang), 12)
    pages.y -= 16
    columns = _columns()

    def header() -> None:
        for key, x, _w in columns:
            _draw(c, x, pages.y - LINE, words(key, lang), SIZE)
        pages.y -= LINE + 2
        c.line(MARGIN, pages.y, WIDTH - MARGIN, pages.y)
        pages.y -= 2

    header()
    if not report.entries:
        _draw(c, MARGIN, pages.y - LINE, words("none", lang))
        pages.y -= LINE
    for entry in report.entries:
        cells = {
            "time": report.local(entry.at, "%m-%d %H:%M:%S"),
            "plate": entry.plate,
            "outcome": report.kind_words(entry.kind, lang),
            "reasons": report.reason_words(entry, lang),
            "officer": entry.officer,
        }
        wrapped = {key: _wrap(cells[key], width) for key, _x, width in columns}
        height = max(len(lines) for lines in wrapped.values()) * LINE + 3
        page = pages.page
        pages.need(height)
        if pages.page != page:
            header()
        for key, x, _w in columns:
            for i, line in enumerate(wrapped[key]):
                _draw(c, x, pages.y - LINE * (i + 1), line)
        pages.y -= height
        c.setLineWidth(0.2)
        c.line(MARGIN, pages.y + 1, WIDTH - MARGIN, pages.y + 1)
    pages.need(30)
    _draw(c, MARGIN, pages.y - 28, words("signature", lang), SIZE + 1)
    return pages.finish()
