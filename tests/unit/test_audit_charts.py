"""The dashboard's charts are readable (issue 13): each axis says what it counts and in which unit, days are
labelled as dates and hours as hours, lines are thick enough to tell apart, and an English chart carries no
full-width punctuation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.audit import charts
from server.audit.stats import Span
from server.web.i18n import translate
from tests.unit.test_english_punctuation import FULL_WIDTH

ZONE = "Asia/Shanghai"
START = datetime(2026, 2, 4, tzinfo=ZoneInfo(ZONE))
NAMES = {1: "G312 昆山东卡口", 2: "G50 武汉卡口"}


def drawn(lang: str) -> dict[str, str]:
    def t(key: str, **values: object) -> str:
        return translate(key, lang, **values)

    week, day = Span(START, START + timedelta(days=7), ZONE), Span(START, START + timedelta(days=1), ZONE)
    hours = {cid: {key: cid + n % 5 for n, key in enumerate(charts.buckets(week, "hour"))} for cid in NAMES}
    days = {
        o: {key: n + 1 for n, key in enumerate(charts.buckets(week, "day"))} for o in ("RELEASE", "REFUSE")
    }
    one_day = {"RELEASE": {key: 2 for key in charts.buckets(day, "hour")}}
    top = [("91320583MA1XY7123X", "苏州精密轴承有限公司", {"RELEASE": 40, "REFUSE": 2})]
    return {
        "per_hour": charts.per_hour(hours, NAMES, week, t),
        "outcomes_week": charts.outcomes(days, week, t, lang),
        "outcomes_day": charts.outcomes(one_day, day, t, lang),
        "escort_waits": charts.escort_waits([3, 5, 0, 1] + [0] * 12, 60, t),
        "fever": charts.fever({1: {"2026-02-05": 1}}, NAMES, week, t),
        "top_enterprises": charts.top_enterprises(top, t),
    }


def texts(svg: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", text) for text in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_axis_says_what_it_counts(lang):
    svgs = drawn(lang)
    crossings = translate("audit.chart.axis.crossings", lang)
    for name in ("per_hour", "outcomes_week", "outcomes_day", "top_enterprises"):
        assert crossings in texts(svgs[name]), name
    assert translate("audit.chart.axis.local_time", lang) in texts(svgs["per_hour"])
    assert translate("audit.chart.axis.day", lang) in texts(svgs["outcomes_week"])
    assert translate("audit.chart.axis.minutes_waited", lang) in texts(svgs["escort_waits"])
    assert translate("audit.chart.axis.held", lang) in texts(svgs["fever"])


def test_days_read_as_dates_and_hours_as_hours():
    svgs = drawn("en")
    assert "2026-02-05" in texts(svgs["per_hour"])  # the midnights of a week: dates, not 02-05 00:00
    assert "2026-02-05" in texts(svgs["outcomes_week"])
    day = texts(svgs["outcomes_day"])
    assert "2026-02-04" in day and "13:00" in day and not any("02-04 13" in text for text in day)


def test_lines_are_thick_and_colours_full():
    svg = drawn("en")["per_hour"]
    assert ".reactive{fill-opacity:1;stroke-opacity:1;stroke-width:2.5}" in svg  # pygal: .7, .8 and 1
    assert 'style="stroke-width: 2.5;stroke-linejoin: round"' in svg or "stroke-width:2.5" in svg


def test_english_charts_use_english_punctuation():
    for name, svg in drawn("en").items():
        wrong = [text for text in texts(svg) if FULL_WIDTH.search(text)]
        assert wrong == [], name
