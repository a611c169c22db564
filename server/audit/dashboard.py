"""The dashboard page's content for a span: each aggregate from ``stats`` and its chart from ``charts``, and
the range form as the page shows it back."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from server.audit import bus_stats, charts, stats
from server.policy import service as policy_service
from server.web.i18n import translate

__all__ = ["context", "range_form"]


def _svg(svg: str) -> str:
    """A chart as an image source. Inline <img> data keeps the page's strict style policy: the SVG's own styles
    apply only inside the image."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def context(session: Session, span: stats.Span, now: datetime, lang: str) -> dict[str, Any]:
    def t(key: str, **values: Any) -> str:
        return translate(key, lang, **values)

    limit = policy_service.current(session).escort_wait_limit_minutes
    names = stats.checkpoint_names(session)
    hourly = stats.per_hour_by_checkpoint(session, span)
    outcomes = stats.outcomes_over_time(session, span)
    waits = stats.escort_waits(session, span, now)
    fever = stats.fever_by_day(session, span)
    top = stats.top_enterprises(session, span)
    buses = bus_stats.figures(session, span, now)
    return {
        "span": span,
        "limit": limit,
        "names": names,
        "totals": stats.totals(session, span, limit, now),
        "hourly": hourly,
        "outcome_series": outcomes,
        "waits": waits,
        "wait_bin": stats.WAIT_BIN_MINUTES,
        "fever": fever,
        "top": top,
        "bus": buses,
        "bus_wait_bin": bus_stats.WAIT_BIN_MINUTES,
        "charts": {
            "per_hour": _svg(charts.per_hour(hourly, names, span, t)),
            "outcomes": _svg(charts.outcomes(outcomes, span, t, lang)),
            "escort_waits": _svg(charts.escort_waits(waits, limit, t)),
            "fever": _svg(charts.fever(fever, names, span, t)),
            "top_enterprises": _svg(charts.top_enterprises(top, t)),
            "bus_waits": _svg(charts.bus_waits(buses, t)),
        },
    }


def range_form(span: stats.Span, raw: dict[str, str]) -> dict[str, str]:
    zone = ZoneInfo(span.zone)
    return {
        "from": raw.get("from") or span.start.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        "to": raw.get("to") or span.end.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
    }
