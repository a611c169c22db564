"""The daily report as a PDF for the bureau's leadership, in Chinese, with its charts.

reportlab draws everything, the charts included (reportlab.graphics: vector, no second renderer, no browser), in
the one embedded CJK font of ``server.pdf_font``: the file prints the same everywhere and no text falls back to a
font the viewer may lack (pdffonts lists that font alone, embedded). Charts: crossings per hour stacked by outcome
(hours 0–23 on the axis, counts in whole numbers), the busiest checkpoints, and escort waits against the limit.
"""

from __future__ import annotations

import io
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from passcore.reasons import ESCORT_REQUIRED, MEDICAL_HOLD, OUTCOMES, REFUSE, RELEASE, describe
from server import pdf_font
from server.audit.report import DailyReport
from server.audit.stats import WAIT_BIN_MINUTES
from server.web.i18n import translate

__all__ = ["render"]

LANG = "zh"  # the leadership's report is in Chinese
OUTCOME_COLOURS = {  # as the dashboard's charts (server/audit/charts.py)
    RELEASE: "#1e7b34",
    ESCORT_REQUIRED: "#c98a00",
    REFUSE: "#b3261e",
    MEDICAL_HOLD: "#6a3fa0",
}
INK, GRID = colors.HexColor("#1b1f24"), colors.HexColor("#d6dae0")
WIDTH = A4[0] - 36 * mm  # the text block


def _t(key: str, **values: Any) -> str:
    return translate(key, LANG, **values)


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=15, textColor=INK, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4),
        "body": base,
        "head": ParagraphStyle("head", parent=base, fontSize=9.5, leading=12),
        "small": ParagraphStyle(
            "small", parent=base, fontSize=9, leading=12, textColor=colors.HexColor("#555b63")
        ),
    }


def _table(rows: list[list[Any]], font: str, widths: list[float] | None = None) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 9.5),
                ("TEXTCOLOR", (0, 0), (-1, -1), INK),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
                ("GRID", (0, 0), (-1, -1), 0.5, GRID),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _axis_text(axis: Any, font: str, size: float = 8) -> None:
    axis.labels.fontName, axis.labels.fontSize, axis.labels.fillColor = font, size, INK
    axis.strokeColor = INK


def _whole_steps(axis: Any, highest: int) -> None:
    """Counts have no fractions: a value axis with whole steps, at most about six labels."""
    step = max(1, -(-highest // 5))
    axis.valueMin, axis.valueStep = 0, step
    axis.valueMax = max(step, -(-highest // step) * step)
    axis.labelTextFormat = "%d"


def _legend(drawing: Drawing, items: list[tuple[str, str]], font: str, y: float) -> None:
    x = 40.0
    for label, colour in items:
        drawing.add(String(x + 12, y, label, fontName=font, fontSize=8.5, fillColor=INK))
        swatch = Rect(x, y - 1, 9, 9)
        swatch.fillColor, swatch.strokeColor = colors.HexColor(colour), None
        drawing.add(swatch)
        x += 12 + stringWidth(label, font, 8.5) + 18


def _title(drawing: Drawing, text: str, font: str) -> None:
    drawing.add(String(0, drawing.height - 12, text, fontName=font, fontSize=11, fillColor=INK))


def _hourly_chart(report: DailyReport, font: str) -> Drawing:
    drawing = Drawing(WIDTH, 200, initialFontName=font)
    _title(drawing, _t("report.chart.hourly"), font)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 45, int(WIDTH) - 55, 120
    chart.data = [report.hourly[outcome] for outcome in OUTCOMES]
    chart.categoryAxis.style = "stacked"
    chart.categoryAxis.categoryNames = [f"{hour}" for hour in range(24)]
    _axis_text(chart.categoryAxis, font)
    _axis_text(chart.valueAxis, font)
    chart.valueAxis.visibleGrid, chart.valueAxis.gridStrokeColor = True, GRID
    highest = max((sum(values) for values in zip(*chart.data, strict=True)), default=0)
    _whole_steps(chart.valueAxis, highest)
    for number, outcome in enumerate(OUTCOMES):
        chart.bars[number].fillColor = colors.HexColor(OUTCOME_COLOURS[outcome])
        chart.bars[number].strokeColor = None
    chart.barSpacing, chart.groupSpacing = 0, 3
    drawing.add(chart)
    drawing.add(
        String(
            WIDTH - 15,
            20,
            _t("report.chart.hour_axis"),
            fontName=font,
            fontSize=8,
            fillColor=INK,
            textAnchor="end",
        )
    )
    drawing.add(String(0, 172, _t("report.chart.count_axis"), fontName=font, fontSize=8, fillColor=INK))
    _legend(drawing, [(_t("audit.outcome." + o), OUTCOME_COLOURS[o]) for o in OUTCOMES], font, 6)
    return drawing


def _top_chart(report: DailyReport, font: str) -> Drawing:
    rows = list(reversed(report.top))  # reportlab draws the first category at the bottom: the busiest on top
    height = 60 + 18 * max(len(rows), 1)
    drawing = Drawing(WIDTH, height, initialFontName=font)
    _title(drawing, _t("report.chart.top"), font)
    chart = HorizontalBarChart()
    # The category labels sit left of the chart: room for the longest name, up to half the width.
    names = max((stringWidth(row.name, font, 8.5) for row in rows), default=30.0)
    label_width = int(min(names + 10, WIDTH / 2))
    chart.x, chart.y = label_width, 30
    chart.width, chart.height = int(WIDTH) - label_width - 20, 18 * max(len(rows), 1)
    chart.data = [[row.counts.get(outcome, 0) for row in rows] or [0] for outcome in OUTCOMES]
    chart.categoryAxis.style = "stacked"
    chart.categoryAxis.categoryNames = [row.name for row in rows] or [""]
    _axis_text(chart.categoryAxis, font, 8.5)
    _axis_text(chart.valueAxis, font)
    chart.valueAxis.visibleGrid, chart.valueAxis.gridStrokeColor = True, GRID
    _whole_steps(chart.valueAxis, max((row.total for row in rows), default=0))
    for number, outcome in enumerate(OUTCOMES):
        chart.bars[number].fillColor = colors.HexColor(OUTCOME_COLOURS[outcome])
        chart.bars[number].strokeColor = None
    drawing.add(chart)
    _legend(drawing, [(_t("audit.outcome." + o), OUTCOME_COLOURS[o]) for o in OUTCOMES], font, 4)
    return drawing


def _waits_chart(report: DailyReport, font: str) -> Drawing:
    drawing = Drawing(WIDTH, 190, initialFontName=font)
    _title(drawing, _t("report.chart.waits", limit=report.wait_limit), font)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 45, int(WIDTH) - 55, 110
    bins = report.wait_bins
    limit = report.wait_limit
    over = [(number + 1) * WAIT_BIN_MINUTES > limit for number in range(len(bins))]
    chart.data = [
        [None if beyond else count for count, beyond in zip(bins, over, strict=True)],
        [count if beyond else None for count, beyond in zip(bins, over, strict=True)],
    ]
    chart.categoryAxis.style = "stacked"
    chart.categoryAxis.categoryNames = [
        f"≥{number * WAIT_BIN_MINUTES}" if number == len(bins) - 1 else str(number * WAIT_BIN_MINUTES)
        for number in range(len(bins))
    ]
    _axis_text(chart.categoryAxis, font)
    _axis_text(chart.valueAxis, font)
    chart.valueAxis.visibleGrid, chart.valueAxis.gridStrokeColor = True, GRID
    _whole_steps(chart.valueAxis, max(bins, default=0))
    chart.bars[0].fillColor, chart.bars[1].fillColor = colors.HexColor("#1e7b34"), colors.HexColor("#b3261e")
    chart.bars[0].strokeColor = chart.bars[1].strokeColor = None
    drawing.add(chart)
    drawing.add(
        String(
            WIDTH - 15,
            20,
            _t("report.chart.wait_axis"),
            fontName=font,
            fontSize=8,
            fillColor=INK,
            textAnchor="end",
        )
    )
    drawing.add(String(0, 162, _t("report.chart.count_axis"), fontName=font, fontSize=8, fillColor=INK))
    _legend(
        drawing,
        [
            (_t("report.within_limit", limit=limit), "#1e7b34"),
            (_t("report.over_limit", limit=limit), "#b3261e"),
        ],
        font,
        6,
    )
    return drawing


def _median(values: list[int]) -> int:
    if not values:
        return 0
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) // 2


def render(report: DailyReport) -> bytes:
    """The report as PDF bytes (A4, Chinese, one embedded font)."""
    font = pdf_font.font_name()
    style = _styles(font)
    totals = report.totals
    made = report.made_at.astimezone(ZoneInfo(report.zone)).strftime("%Y-%m-%d %H:%M")
    story: list[Any] = [
        Paragraph(_t("report.title", day=report.day.isoformat()), style["title"]),
        Paragraph(_t("report.made", made=made, zone=report.zone), style["small"]),
        Spacer(1, 6),
        Paragraph(_t("report.summary.heading"), style["h2"]),
        _table(
            [
                [_t("report.col.item"), _t("report.col.count")],
                [_t("report.total"), totals["total"]],
                *[[_t("audit.outcome." + o), totals[o]] for o in OUTCOMES],
                [_t("report.fevers"), report.fevers],
                [_t("report.escorts"), totals["escorts"]],
                [_t("report.escorts_over", limit=report.wait_limit), totals["escorts_over"]],
                [_t("report.wait_median"), _median(report.waits)],
                [_t("report.wait_longest"), max(report.waits, default=0)],
                [_t("report.refusals"), report.refusals],
                [_t("report.alerts"), sum(count for _, count in report.alerts)],
                [_t("report.alerts_open"), report.alerts_open],
                [_t("report.conflicts"), totals["conflicts"]],
            ],
            font,
            [WIDTH * 0.6, WIDTH * 0.2],
        ),
        Paragraph(_t("report.hourly.heading"), style["h2"]),
        _hourly_chart(report, font),
        Paragraph(_t("report.checkpoints.heading"), style["h2"]),
    ]
    if report.checkpoints:
        story.append(
            _table(
                [
                    [
                        # Headers wrap inside their narrow columns rather than run into the next one.
                        *(
                            Paragraph(words, style["head"])
                            for words in (
                                _t("report.col.checkpoint"),
                                _t("report.total"),
                                *(_t("audit.outcome." + o) for o in OUTCOMES),
                                _t("report.escorts"),
                                _t("report.col.over"),
                            )
                        ),
                    ],
                    *[
                        [
                            Paragraph(row.name, style["body"]),
                            row.total,
                            *(row.counts.get(o, 0) for o in OUTCOMES),
                            row.escorts,
                            row.escorts_over,
                        ]
                        for row in report.checkpoints
                    ],
                ],
                font,
                [WIDTH * 0.3, *([WIDTH * 0.7 / 7] * 7)],
            )
        )
        story += [Spacer(1, 8), _top_chart(report, font)]
    else:
        story.append(Paragraph(_t("report.none"), style["body"]))
    story += [Paragraph(_t("report.escorts.heading"), style["h2"]), _waits_chart(report, font)]
    story.append(Paragraph(_t("report.refusals.heading"), style["h2"]))
    if report.refusal_reasons:
        story.append(
            _table(
                [[_t("report.col.reason"), _t("report.col.code"), _t("report.col.count")]]
                + [
                    [Paragraph(describe(code, LANG), style["body"]), code, count]
                    for code, count in report.refusal_reasons
                ],
                font,
                [WIDTH * 0.5, WIDTH * 0.32, WIDTH * 0.18],
            )
        )
    else:
        story.append(Paragraph(_t("report.none"), style["body"]))
    story.append(Paragraph(_t("report.alerts.heading"), style["h2"]))
    if report.alerts:
        story.append(
            _table(
                [[_t("report.col.alert"), _t("report.col.count")]]
                + [[_t(f"alerts.kind.{kind}"), count] for kind, count in report.alerts],
                font,
                [WIDTH * 0.6, WIDTH * 0.2],
            )
        )
    else:
        story.append(Paragraph(_t("report.none"), style["body"]))
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=_t("report.title", day=report.day.isoformat()),
        author=_t("report.author"),
        # The canvas would start in Helvetica, listed (unembedded) in the file though no text uses it.
        initialFontName=font,
    )
    document.build(story)
    return buffer.getvalue()
