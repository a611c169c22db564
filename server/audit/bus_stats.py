"""The dashboard's bus figures (issue 14): buses and passengers checked per local day, the priority lane's waits
(median and 95th percentile of decided_at − first scan) and the quarantine tasks of the range.

Read from the crossing's bus columns (migration 0023: kind, bus_wait_seconds, passenger counts) through the
(kind, decided_at) index: buses are a small share of the crossings, so no roll-up is kept for them. The waits are
grouped by their value in whole seconds in the database and the percentiles taken from those counts, so Python
reads at most one row per distinct wait, never the crossings.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from server.audit.stats import Span
from server.crossings.models import KIND_PERSONNEL, Crossing
from server.quarantine.models import CONFIRMED, OPEN, QuarantineTask

__all__ = ["WAIT_BINS", "WAIT_BIN_MINUTES", "BusFigures", "figures", "percentile"]

WAIT_BIN_MINUTES = 5
WAIT_BINS = 13  # 0–5, 5–10, … 55–60 and a last bin for an hour and more


@dataclass
class BusFigures:
    buses: int = 0
    passengers: int = 0  # aboard and checked
    absent: int = 0
    quarantined: int = 0
    held: int = 0
    per_day: dict[str, tuple[int, int]] = field(
        default_factory=dict
    )  # local day -> (buses, passengers aboard)
    waited: int = 0  # buses with a known wait
    wait_median: int | None = None  # seconds
    wait_p95: int | None = None
    wait_bins: list[int] = field(default_factory=lambda: [0] * WAIT_BINS)
    tasks_open: int = 0  # quarantine tasks of the range's crossings not confirmed yet
    tasks_overdue: int = 0  # of those, past due
    tasks_confirmed: int = 0


def percentile(counts: Sequence[tuple[int, int]], share: float) -> int | None:
    """The value below which ``share`` of the counted values lie (nearest rank), from (value, count) pairs in
    ascending order; None when there are none."""
    total = sum(count for _, count in counts)
    if total == 0:
        return None
    rank = max(math.ceil(round(share * total, 9)), 1)  # (rounded first: 0.95 * 20 must be 19, not 19.000…01)
    seen = 0
    for value, count in counts:
        seen += count
        if seen >= rank:
            return value
    return counts[-1][0]


def figures(session: Session, span: Span, now: datetime) -> BusFigures:
    found = BusFigures()
    in_range = (
        col(Crossing.kind) == KIND_PERSONNEL,
        col(Crossing.decided_at) >= span.start,
        col(Crossing.decided_at) < span.end,
    )
    day = span.bucket(col(Crossing.decided_at), "day")
    per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rows = session.connection().execute(
        core_select(
            day,
            func.count(),
            func.sum(col(Crossing.passengers_aboard)),
            func.sum(col(Crossing.passengers_absent)),
            func.sum(col(Crossing.passengers_quarantined)),
            func.sum(col(Crossing.passengers_held)),
        )
        .where(*in_range)
        .group_by(day)
    )
    for bucket, buses, aboard, absent, quarantined, held in rows:
        counted = per_day[span.key(bucket, "day")]
        counted[0] += int(buses)
        counted[1] += int(aboard or 0)
        found.buses += int(buses)
        found.passengers += int(aboard or 0)
        found.absent += int(absent or 0)
        found.quarantined += int(quarantined or 0)
        found.held += int(held or 0)
    found.per_day = {key: (buses, aboard) for key, (buses, aboard) in sorted(per_day.items())}
    wait = col(Crossing.bus_wait_seconds)
    waits = [
        (int(value or 0), int(count))
        for value, count in session.connection().execute(
            core_select(wait, func.count()).where(*in_range, wait.is_not(None)).group_by(wait).order_by(wait)
        )
    ]
    found.waited = sum(count for _, count in waits)
    found.wait_median = percentile(waits, 0.5)
    found.wait_p95 = percentile(waits, 0.95)
    for value, count in waits:
        found.wait_bins[min(max(value, 0) // (WAIT_BIN_MINUTES * 60), WAIT_BINS - 1)] += count
    status = col(QuarantineTask.status)
    overdue = (status == OPEN) & (col(QuarantineTask.due_at) < now)
    tasks = session.exec(
        select(
            func.coalesce(func.sum(case((status == OPEN, 1), else_=0)), 0),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
            func.coalesce(func.sum(case((status == CONFIRMED, 1), else_=0)), 0),
        ).where(col(QuarantineTask.decided_at) >= span.start, col(QuarantineTask.decided_at) < span.end)
    ).one()
    found.tasks_open, found.tasks_overdue, found.tasks_confirmed = (int(n) for n in tasks)
    return found
