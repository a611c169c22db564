"""The service discipline of a problem, on the holiday calendar (seed 002, 首问负责制): the bureau, asked first,
answers within 3 working days, or passes the problem on the day it received it to the department responsible,
which then has 5 working days from the forwarding.

Forwarding on a later day is allowed but marked late, on the enterprise's timeline and the bureau's list: refusing
it would leave a problem that belongs to another department with nobody able to answer it.
"""

from __future__ import annotations

from datetime import date, datetime

from server import workdays

__all__ = ["first_due", "forward_is_late", "forwarded_due", "is_overdue"]


def first_due(received: datetime) -> date:
    """The last local day on which the bureau's own answer is on time."""
    return workdays.deadline(received, workdays.APPLICATION_DAYS)


def forward_is_late(received: datetime, now: datetime) -> bool:
    """Passed on after the local day the problem was received."""
    return workdays.local_day(now) > workdays.local_day(received)


def forwarded_due(forwarded: datetime) -> date:
    """The last local day on which the department's answer is on time, counted from the forwarding."""
    return workdays.deadline(forwarded, workdays.FORWARDED_DAYS)


def is_overdue(due: date, now: datetime, *, answered: bool) -> bool:
    return workdays.is_overdue(due, now, answered=answered)
