"""A problem an enterprise raised, and every step it went through (the timeline the enterprise sees)."""

from datetime import date, datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

OPEN, FORWARDED, ANSWERED = "open", "forwarded", "answered"
STATUSES = (OPEN, FORWARDED, ANSWERED)
# What the enterprise says went wrong: held or refused at a checkpoint, a pass not recognised, anything else.
HELD, REFUSED, NOT_RECOGNISED, OTHER = "held", "refused", "not_recognised", "other"
KINDS = (HELD, REFUSED, NOT_RECOGNISED, OTHER)
RAISED, FORWARDED_EVENT, ANSWERED_EVENT = "raised", "forwarded", "answered"


class Problem(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    enterprise_uscc: str = Field(foreign_key="enterprise.uscc", index=True, max_length=18)
    raised_by: int = Field(foreign_key="app_user.id")
    kind: str = Field(max_length=16)
    # What it concerns, one of the enterprise's own crossings or passes. Plain ids, not foreign keys: retention
    # may purge a crossing or a pass while the problem is kept.
    crossing_id: str | None = Field(default=None, index=True, max_length=36)
    pass_id: str | None = Field(default=None, index=True, max_length=24)
    checkpoint_id: int | None = Field(default=None)
    plate: str = Field(default="", max_length=10)
    description: str = Field(sa_type=Text)
    status: str = Field(default=OPEN, index=True, max_length=12)
    received_at: datetime = Field(sa_type=UTCDateTime, index=True)
    # The last local date on which the answer is on time: 3 working days from receipt, then 5 from forwarding.
    due_on: date = Field(index=True)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    forwarded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    forwarded_late: bool = False  # passed on after the day it was received (the discipline says the same day)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answer: str = Field(default="", sa_type=Text)


class ProblemEvent(SQLModel, table=True):
    __tablename__ = "problem_event"

    id: int | None = Field(default=None, primary_key=True)
    problem_id: int = Field(foreign_key="problem.id", index=True)
    action: str = Field(max_length=12)  # raised | forwarded | answered
    at: datetime = Field(sa_type=UTCDateTime)
    by: int = Field(foreign_key="app_user.id")
    department_id: int | None = Field(default=None, foreign_key="department.id")  # forwarded to / answered by
    text: str = Field(default="", sa_type=Text)  # the forwarding note or the answer
