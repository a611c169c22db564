"""The service discipline of a problem on the holiday calendar: 3 working days, forwarding the same (local) day, 5
working days from the forwarding, overdue the day after."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.problems import deadlines

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    """A local Shanghai time, as an aware UTC moment like the database keeps."""
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=SHANGHAI).astimezone(UTC)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (at("2026-03-02"), date(2026, 3, 5)),  # a Monday: Thursday
        (at("2026-03-06"), date(2026, 3, 11)),  # a Friday: over the weekend to Wednesday
        (at("2026-03-07"), date(2026, 3, 11)),  # a Saturday counts from Monday
        # Before National Day: the holiday week is not counted, Saturday 10 October is worked in exchange.
        (at("2026-09-30"), date(2026, 10, 10)),
    ],
)
def test_the_bureau_answers_within_three_working_days(received, due):
    assert deadlines.first_due(received) == due


@pytest.mark.parametrize(
    ("received", "forwarded", "late"),
    [
        (at("2026-03-02", 9), at("2026-03-02", 17), False),
        (at("2026-03-02", 9), at("2026-03-02", 23, 59), False),
        (
            at("2026-03-02", 9),
            at("2026-03-03", 0, 1),
            True,
        ),  # local midnight, though still 16:01 UTC the day before
        (
            at("2026-03-02", 0, 30),
            at("2026-03-02", 23),
            False,
        ),  # 16:30 UTC the day before is the same local day
        (at("2026-03-06", 9), at("2026-03-09", 9), True),  # the next working day is too late as well
    ],
)
def test_forwarding_is_late_after_the_local_day_of_receipt(received, forwarded, late):
    assert deadlines.forward_is_late(received, forwarded) is late


def test_a_forwarded_problem_is_overdue_on_the_sixth_working_day():
    forwarded = at("2026-03-02", 15)
    due = deadlines.forwarded_due(forwarded)
    assert due == date(2026, 3, 9)
    fifth = at("2026-03-09", 23, 59)
    sixth = at("2026-03-10", 0, 1)
    assert not deadlines.is_overdue(due, fifth, answered=False)
    assert deadlines.is_overdue(due, sixth, answered=False)
    assert not deadlines.is_overdue(due, sixth + timedelta(days=30), answered=True)
