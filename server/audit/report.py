"""The daily report's numbers for one local day: crossings by outcome and checkpoint, fevers, escorts (count and
waits), refusals and their reasons, alerts, the busiest checkpoints, and crossings hour by hour.

Crossings are counted from the roll-ups through ``stats`` (as the dashboard counts them); escort requests, the
day's refusals (for their reasons) and alerts are read from their own tables — a day holds few of them. Nothing
personal: counts, checkpoint names, reason and alert codes.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from passcore.reasons import MEDICAL_HOLD, OUTCOMES, REFUSE
from server.alerts.models import Alert
from server.audit import stats
from server.crossings.models import Crossing, EscortRequest
from server.errors import BadRequest
from server.policy import service as policy_service

__all__ = ["CheckpointDay", "DailyReport", "gather", "parse_day", "yesterday"]

TOP_CHECKPOINTS = 10
TOP_REASONS = 10
_FIRST, _LAST = date(2000, 1, 1), date(2100, 12, 31)


@dataclass(frozen=True)
class CheckpointDay:
    name: str
    counts: dict[str, int]  # outcome -> crossings
    escorts: int = 0
    escorts_over: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class DailyReport:
    day: date
    zone: str
    made_at: datetime
    wait_limit: int  # minutes an escort may take (policy)
    totals: dict[str, int]  # outcome -> crossings, and total, escorts, escorts_over, conflicts
    checkpoints: list[CheckpointDay]  # busiest first
    hourly: dict[str, list[int]]  # outcome -> crossings in each local hour 0..23
    waits: list[int]  # minutes each escort request of the day waited (until now when not handed over)
    wait_bins: list[int]  # as the dashboard bins them (stats.WAIT_BIN_MINUTES each)
    refusal_reasons: list[tuple[str, int]]  # reason code -> refusals, most frequent first
    alerts: list[tuple[str, int]] = field(default_factory=list)  # kind -> alerts raised that day
    alerts_open: int = 0  # of those, still open when the report was made

    @property
    def fevers(self) -> int:
        return self.totals[MEDICAL_HOLD]

    @property
    def refusals(self) -> int:
        return self.totals[REFUSE]

    @property
    def top(self) -> list[CheckpointDay]:
        return [row for row in self.checkpoints if row.total][:TOP_CHECKPOINTS]


def parse_day(text: str) -> date:
    """A day as YYYY-MM-DD; ``BadRequest`` (422, field ``day``) otherwise."""
    try:
        day = date.fromisoformat(text.strip())
        if len(text.strip()) != 10 or not _FIRST <= day <= _LAST:
            raise ValueError("out of range")
    except ValueError as err:
        raise BadRequest(
            "the day must be a date such as 2026-12-04",
            code="REPORT_DAY_INVALID",
            fields={"day": "report_day_invalid"},
        ) from err
    return day


def yesterday(now: datetime, zone: str) -> date:
    """The last whole local day before ``now``: what a morning's report is about."""
    return now.astimezone(ZoneInfo(zone)).date() - timedelta(days=1)


def _span(day: date, zone: str) -> stats.Span:
    local = ZoneInfo(zone)
    return stats.Span(
        datetime.combine(day, time(), local), datetime.combine(day + timedelta(days=1), time(), local), zone
    )


def _hourly(session: Session, span: stats.Span) -> dict[str, list[int]]:
    keys = [f"{span.start.astimezone(ZoneInfo(span.zone)):%Y-%m-%d} {hour:02d}" for hour in range(24)]
    by_outcome = stats.outcomes_over_time(session, span)  # a one-day span is cut in hours
    return {outcome: [by_outcome.get(outcome, {}).get(key, 0) for key in keys] for outcome in OUTCOMES}


def _waits(session: Session, span: stats.Span, now: datetime) -> list[int]:
    rows = session.exec(
        select(EscortRequest.requested_at, EscortRequest.handed_over_at).where(
            col(EscortRequest.requested_at) >= span.start, col(EscortRequest.requested_at) < span.end
        )
    ).all()
    return sorted(max(int(((handed or now) - asked).total_seconds() // 60), 0) for asked, handed in rows)


def _refusal_reasons(session: Session, span: stats.Span) -> list[tuple[str, int]]:
    # The outcome's own index (outcome, decided_at, id) finds the day's refusals; only their reason codes are read.
    bodies = session.exec(
        select(Crossing.body_json).where(
            Crossing.outcome == REFUSE,
            col(Crossing.decided_at) >= span.start,
            col(Crossing.decided_at) < span.end,
        )
    )
    counted: Counter[str] = Counter()
    for body in bodies:
        try:
            reasons = json.loads(body).get("reasons", [])
        except (ValueError, AttributeError):
            continue
        counted.update(str(code) for code in reasons if isinstance(code, str))
    return sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]


def _alerts(session: Session, span: stats.Span) -> tuple[list[tuple[str, int]], int]:
    rows = session.exec(
        select(Alert.kind, Alert.status).where(
            col(Alert.occurred_at) >= span.start, col(Alert.occurred_at) < span.end
        )
    ).all()
    kinds = Counter(kind for kind, _ in rows)
    return sorted(kinds.items(), key=lambda item: (-item[1], item[0])), sum(
        status == "open" for _, status in rows
    )


def gather(session: Session, *, day: date, zone: str, now: datetime) -> DailyReport:
    """Everything the report shows for ``day`` (a local day in ``zone``), as of ``now``."""
    span = _span(day, zone)
    limit = policy_service.current(session).escort_wait_limit_minutes
    names = stats.checkpoint_names(session)
    per_checkpoint = {
        row.checkpoint_id: row for row in stats.daily_summary(session, span, limit, now)
    }  # one local day: one row per checkpoint with crossings or escorts
    checkpoints = [
        CheckpointDay(names.get(cid, f"#{cid}"), dict(row.counts), row.escorts, row.escorts_over)
        for cid, row in per_checkpoint.items()
    ]
    checkpoints.sort(key=lambda row: (-row.total, row.name))
    waits = _waits(session, span, now)
    bins = stats.escort_waits(session, span, now)
    alerts, alerts_open = _alerts(session, span)
    return DailyReport(
        day=day,
        zone=zone,
        made_at=now,
        wait_limit=limit,
        totals=stats.totals(session, span, limit, now),
        checkpoints=checkpoints,
        hourly=_hourly(session, span),
        waits=waits,
        wait_bins=bins,
        refusal_reasons=_refusal_reasons(session, span),
        alerts=alerts,
        alerts_open=alerts_open,
    )
