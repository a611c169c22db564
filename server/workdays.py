"""Working days on the Chinese public-holiday calendar, for the service discipline's deadlines (seed 002: a department
answers within 3 working days, or 5 when the matter was passed to it).

A deadline is a local date (Asia/Shanghai): the last day on which an answer is on time. Something that arrives on a
Saturday or at 23:00 is counted from the next working day, as an office would. The calendar comes from
``chinese-calendar``, which carries each year's State Council arrangement (holidays and the weekend days worked in
exchange); for a year it does not know yet, Monday to Friday are working days and ``calendar_known`` says so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = [
    "APPLICATION_DAYS",
    "FORWARDED_DAYS",
    "LOCAL",
    "calendar_known",
    "deadline",
    "is_overdue",
    "is_working_day",
    "local_day",
    "working_days_after",
]

LOCAL = ZoneInfo("Asia/Shanghai")
APPLICATION_DAYS = 3  # the first department's answer
FORWARDED_DAYS = 5  # the department a matter was passed to
_MAX_DAYS = 366  # no deadline is further than a year of working days; also bounds the loop


def calendar_known(day: date) -> bool:
    """Whether the holiday table covers ``day``'s year (else weekends are the only days off)."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_working_day(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def local_day(moment: datetime) -> date:
    """The date in China of an aware moment (a naive one is taken as UTC, as the database stores it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL).date()


def working_days_after(day: date, count: int) -> date:
    """The ``count``-th working day after ``day`` (``day`` itself not counted); ``count`` 0 is ``day``."""
    if not 0 <= count <= _MAX_DAYS:
        raise ValueError(f"count must be 0..{_MAX_DAYS}")
    current = day
    while count:
        current += timedelta(days=1)
        if is_working_day(current):
            count -= 1
    return current


def deadline(received: datetime, working_days: int) -> date:
    """The last local date on which an answer to something received at ``received`` is on time."""
    return working_days_after(local_day(received), working_days)


def is_overdue(due: date, now: datetime, *, answered: bool = False) -> bool:
    """Unanswered after the end of the local day ``due``."""
    return not answered and local_day(now) > due
