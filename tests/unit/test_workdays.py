"""Deadlines on the Chinese holiday calendar (server.workdays)."""

from datetime import UTC, date, datetime

import pytest

from server import workdays


def test_a_plain_week_counts_monday_to_friday() -> None:
    # Received on Monday 2026-12-07 (Beijing): 3 working days later is Thursday.
    assert workdays.deadline(datetime(2026, 12, 7, 2, tzinfo=UTC), 3) == date(2026, 12, 10)
    # Received on Friday: the weekend does not count.
    assert workdays.deadline(datetime(2026, 12, 11, 2, tzinfo=UTC), 3) == date(2026, 12, 16)


def test_national_day_holiday_and_its_make_up_saturday() -> None:
    # 2026: 1-7 October off; Saturday 10 October is worked in exchange.
    assert not workdays.is_working_day(date(2026, 10, 1))
    assert workdays.is_working_day(date(2026, 10, 10))
    # Received on 30 September: 8, 9 and (the worked Saturday) 10 October.
    assert workdays.deadline(datetime(2026, 9, 30, 2, tzinfo=UTC), 3) == date(2026, 10, 10)


def test_late_evening_in_beijing_is_already_the_next_day() -> None:
    # 17:00 UTC on Friday is 01:00 on Saturday in Beijing: counted from Saturday.
    assert workdays.local_day(datetime(2026, 12, 11, 17, tzinfo=UTC)) == date(2026, 12, 12)
    assert workdays.deadline(datetime(2026, 12, 11, 17, tzinfo=UTC), 3) == date(2026, 12, 16)


def test_overdue_from_the_day_after_the_deadline() -> None:
    due = date(2026, 12, 10)
    assert not workdays.is_overdue(due, datetime(2026, 12, 10, 15, 59, tzinfo=UTC))  # 23:59 in Beijing
    assert workdays.is_overdue(due, datetime(2026, 12, 10, 16, 0, tzinfo=UTC))  # 00:00 on the 11th
    assert not workdays.is_overdue(due, datetime(2026, 12, 11, 3, tzinfo=UTC), answered=True)


def test_a_forwarded_matter_is_overdue_on_the_sixth_working_day() -> None:
    forwarded = datetime(2026, 12, 7, 2, tzinfo=UTC)  # Monday
    due = workdays.deadline(forwarded, workdays.FORWARDED_DAYS)
    assert due == date(2026, 12, 14)  # Tue..Fri, then Monday
    sixth = workdays.working_days_after(date(2026, 12, 7), 6)
    assert sixth == date(2026, 12, 15)
    assert workdays.is_overdue(due, datetime(2026, 12, 15, 2, tzinfo=UTC))


def test_a_year_the_table_does_not_know_falls_back_to_weekdays() -> None:
    far = date(2099, 3, 2)  # a Monday
    assert not workdays.calendar_known(far)
    assert workdays.is_working_day(far)
    assert not workdays.is_working_day(date(2099, 3, 7))


def test_counts_are_bounded() -> None:
    with pytest.raises(ValueError):
        workdays.working_days_after(date(2026, 1, 1), -1)
