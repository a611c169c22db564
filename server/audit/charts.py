"""The dashboard's charts as SVG, drawn on the server with pygal from the aggregates in ``stats``.

The SVG needs nothing from outside (pygal's tooltip script, which it would fetch from a CDN, is switched off), so
the charts render on a bureau network with no internet. Words come in the viewer's language through ``t``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pygal
from pygal.style import Style

from passcore.reasons import ESCORT_REQUIRED, MEDICAL_HOLD, OUTCOMES, REFUSE, RELEASE
from server.audit import bus_stats
from server.audit.stats import WAIT_BIN_MINUTES, WAIT_BINS, Span

__all__ = [
    "CHARTS",
    "OUTCOME_COLOURS",
    "buckets",
    "bus_waits",
    "escort_waits",
    "fever",
    "outcomes",
    "per_hour",
    "top_enterprises",
]

Translate = Callable[..., str]
CHARTS = ("per_hour", "outcomes", "escort_waits", "fever", "top_enterprises", "bus_waits")
OUTCOME_COLOURS = {
    RELEASE: "#1e7b34",
    ESCORT_REQUIRED: "#c98a00",
    REFUSE: "#b3261e",
    MEDICAL_HOLD: "#6a3fa0",
}
SERIES_COLOURS = ("#0b5cab", "#e07b00", "#1e7b34", "#b3261e", "#6a3fa0", "#00838f", "#8d6e63", "#9e9e9e")
MAX_SERIES = 7  # more lines than this cannot be told apart: the rest are summed as "others"
MAX_LABEL = 24  # characters of an enterprise name on the chart (the table below has the whole name)
WIDE_CHAR_PX = 6.5
FONT = '"Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'


def _style(colours: tuple[str, ...] = SERIES_COLOURS) -> Style:
    return Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#1b1f24",
        foreground_strong="#1b1f24",
        foreground_subtle="#d6dae0",
        font_family=FONT,
        title_font_family=FONT,
        legend_font_family=FONT,
        label_font_family=FONT,
        major_label_font_family=FONT,
        value_font_family=FONT,
        tooltip_font_family=FONT,
        title_font_size=18,
        legend_font_size=13,
        label_font_size=12,
        major_label_font_size=12,
        colors=colours,
        # Full colour, not pygal's translucent default, and light grid lines: the data stand out from the grid.
        opacity="1",
        opacity_hover=".85",
        stroke_opacity="1",
        stroke_opacity_hover="1",
        guide_stroke_color="#d6dae0",
        major_guide_stroke_color="#b8bec6",
        guide_stroke_dasharray="3,3",
        stroke_width="2.5",
        stroke_width_hover="3.5",
    )


def _chart(
    kind: type[pygal.graph.graph.Graph], title: str, colours: tuple[str, ...] = SERIES_COLOURS, **options
):  # type: ignore[no-untyped-def]
    return kind(
        js=[],  # no tooltip script from a CDN: the chart must draw offline
        disable_xml_declaration=True,
        style=_style(colours),
        title=title,
        width=960,
        height=440,  # room for the axis titles and the legend below
        # pygal places the legend below the x axis's title without counting the title's height: this keeps the
        # legend inside the picture.
        margin_bottom=36,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        truncate_legend=24,
        no_data_text=options.pop("no_data_text", ""),
        print_zeroes=False,
        **options,
    )


def _whole_numbers(chart: Any, highest: int) -> None:
    """Counts have no fractions: for small counts, label the axis 0, 1, 2, … instead of 0.1, 0.2, …"""
    if 0 < highest <= 10:  # (an empty chart shows its "no data" text, and pygal cannot place labels on it)
        chart.y_labels = list(range(highest + 1))


def buckets(span: Span, unit: str) -> list[str]:
    """Every local hour ("2026-02-10 16") or day ("2026-02-10") of the span, in order, as stats keys them."""
    zone = ZoneInfo(span.zone)
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    moment = span.start.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        moment = moment.replace(hour=0)
    found = []
    while moment < span.end:
        found.append(moment.strftime("%Y-%m-%d %H" if unit == "hour" else "%Y-%m-%d"))
        moment = (moment.astimezone(zone) + step).astimezone(zone)
    return found


def _wide(text: str) -> int:
    return sum(1 for ch in text if ord(ch) > 0x2E80)


def _label(key: str) -> str:
    """A bucket as the axis names it: a day as a date (2026-02-10), an hour as 14:00 — the first hour of a day
    as its date, so a chart over several days reads as dates and one over a day as hours."""
    if len(key) == 10:
        return key
    return key[:10] if key.endswith(" 00") else f"{key[11:13]}:00"


def _top(
    series: dict[int, dict[str, int]], names: dict[int, str], others: str
) -> list[tuple[str, dict[str, int]]]:
    ranked = sorted(series.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    shown = [(names.get(cid, f"#{cid}"), counts) for cid, counts in ranked[:MAX_SERIES]]
    rest: dict[str, int] = {}
    for _, counts in ranked[MAX_SERIES:]:
        for key, count in counts.items():
            rest[key] = rest.get(key, 0) + count
    return [*shown, (others, rest)] if rest else shown


def per_hour(data: dict[int, dict[str, int]], names: dict[int, str], span: Span, t: Translate) -> str:
    keys = buckets(span, "hour")
    chart = _chart(
        pygal.Line,
        t("audit.chart.per_hour"),
        show_dots=False,
        fill=False,
        stroke_style={"width": 2.5, "linejoin": "round"},  # thin lines vanish on a projector
        x_title=t("audit.chart.axis.local_time"),
        y_title=t("audit.chart.axis.crossings"),
        show_minor_x_labels=False,
        x_labels_major=[_label(k) for k in keys if k.endswith(" 00")] or None,  # midnights: the dates
        x_label_rotation=30,
        no_data_text=t("audit.chart.no_data"),
    )
    chart.x_labels = [_label(k) for k in keys]
    highest = 0
    for name, counts in _top(data, names, t("audit.chart.others")):
        chart.add(name, [counts.get(k, 0) for k in keys])
        highest = max([highest, *counts.values()])
    _whole_numbers(chart, highest)
    return str(chart.render(is_unicode=True))


def outcomes(data: dict[str, dict[str, int]], span: Span, t: Translate, lang: str) -> str:
    keys = buckets(span, span.unit)
    chart = _chart(
        pygal.StackedBar,
        t("audit.chart.outcomes_" + span.unit),
        tuple(OUTCOME_COLOURS[o] for o in OUTCOMES),
        x_title=t("audit.chart.axis.local_time" if span.unit == "hour" else "audit.chart.axis.day"),
        y_title=t("audit.chart.axis.crossings"),
        show_minor_x_labels=len(keys) <= 31,
        x_labels_major_every=max(len(keys) // 12, 1),
        x_label_rotation=30,
        no_data_text=t("audit.chart.no_data"),
    )
    chart.x_labels = [_label(k) for k in keys]
    for outcome in OUTCOMES:
        chart.add(t("audit.outcome." + outcome), [data.get(outcome, {}).get(k, 0) for k in keys])
    _whole_numbers(chart, max((sum(data.get(o, {}).get(k, 0) for o in OUTCOMES) for k in keys), default=0))
    return str(chart.render(is_unicode=True))


def escort_waits(counts: list[int], limit: int, t: Translate) -> str:
    chart = _chart(
        pygal.StackedBar,
        t("audit.chart.escort_waits", limit=limit),
        ("#1e7b34", "#b3261e"),
        x_title=t("audit.chart.axis.minutes_waited"),
        y_title=t("audit.chart.axis.escorts"),
        no_data_text=t("audit.chart.no_data"),
    )
    labels, within, over = [], [], []
    for number, count in enumerate(counts):
        low, high = number * WAIT_BIN_MINUTES, (number + 1) * WAIT_BIN_MINUTES
        labels.append(f"≥{low}" if number == WAIT_BINS - 1 else str(low))  # each bar: from this minute on
        beyond = high > limit  # the bin holds waits past the limit (all of it, or the bin the limit falls in)
        within.append(None if beyond else count)
        over.append(count if beyond else None)
    chart.x_labels = labels
    chart.add(t("audit.chart.within_limit", limit=limit), within)
    chart.add(t("audit.chart.over_limit", limit=limit), over)
    _whole_numbers(chart, max(counts, default=0))
    return str(chart.render(is_unicode=True))


def fever(data: dict[int, dict[str, int]], names: dict[int, str], span: Span, t: Translate) -> str:
    keys = buckets(span, "day")
    chart = _chart(
        pygal.StackedBar,
        t("audit.chart.fever"),
        x_title=t("audit.chart.axis.day"),
        y_title=t("audit.chart.axis.held"),
        x_label_rotation=30,
        show_minor_x_labels=len(keys) <= 31,
        x_labels_major_every=max(len(keys) // 12, 1),
        no_data_text=t("audit.chart.no_fever"),
    )
    chart.x_labels = [_label(k) for k in keys]
    series = _top(data, names, t("audit.chart.others"))
    for name, counts in series:
        chart.add(name, [counts.get(k, 0) for k in keys])
    _whole_numbers(chart, max((sum(c.get(k, 0) for _, c in series) for k in keys), default=0))
    return str(chart.render(is_unicode=True))


def top_enterprises(rows: list[tuple[str, str, dict[str, int]]], t: Translate) -> str:
    ordered = list(reversed(rows))  # pygal draws the first label at the bottom: the busiest goes on top
    labels = [(name or uscc)[:MAX_LABEL] for uscc, name, _ in ordered]
    chart = _chart(
        pygal.HorizontalStackedBar,
        t("audit.chart.top_enterprises"),
        tuple(OUTCOME_COLOURS[o] for o in OUTCOMES),
        y_title=t("audit.chart.axis.crossings"),  # a horizontal chart's values run along its y axis
        truncate_label=-1,
        # pygal sizes the label column as if every character were half a square wide; Chinese ones are square.
        margin_left=int(WIDE_CHAR_PX * max((_wide(label) for label in labels), default=0)),
        no_data_text=t("audit.chart.no_data"),
    )
    chart.x_labels = labels
    for outcome in OUTCOMES:
        chart.add(t("audit.outcome." + outcome), [counts.get(outcome, 0) for _, _, counts in ordered])
    return str(chart.render(is_unicode=True))


def _minutes(seconds: int | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f}"


def bus_waits(figures: bus_stats.BusFigures, t: Translate) -> str:
    """How long buses waited in the priority lane (first scan to decision), in bins of minutes; the title gives
    the median and the 95th percentile."""
    chart = _chart(
        pygal.Bar,
        t(
            "audit.chart.bus_waits",
            median=_minutes(figures.wait_median),
            p95=_minutes(figures.wait_p95),
        ),
        ("#0b5cab",),
        x_title=t("audit.chart.axis.bus_minutes_waited"),
        y_title=t("audit.chart.axis.buses"),
        no_data_text=t("audit.chart.no_data"),
    )
    step, last = bus_stats.WAIT_BIN_MINUTES, bus_stats.WAIT_BINS - 1
    chart.x_labels = [f"≥{n * step}" if n == last else str(n * step) for n in range(bus_stats.WAIT_BINS)]
    chart.add(t("audit.chart.buses"), [count or None for count in figures.wait_bins])
    _whole_numbers(chart, max(figures.wait_bins, default=0))
    return str(chart.render(is_unicode=True))
