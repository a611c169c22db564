"""JSON shapes of the quarantine API (/api/v1/quarantine)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from server.crossings.schemas import Moment

__all__ = ["ConfirmRequest", "TaskCounts", "TaskList", "TaskPublic"]


class TaskPublic(BaseModel):
    id: int
    crossing_id: str = Field(description="the bus's crossing the person was released from")
    passenger: int = Field(description="the person's number on the bus's manifest")
    name: str = Field(description="'' once retention has removed it")
    enterprise_uscc: str | None = Field(description="the pass's enterprise, which arranges the quarantine")
    pass_id: str | None
    plate: str
    checkpoint_id: int
    checkpoint: str = Field(description="the checkpoint's name")
    decided_at: datetime = Field(description="released at the checkpoint")
    due_at: datetime = Field(
        description="the arrival is to be confirmed by then (policy quarantine_confirm_hours)"
    )
    status: Literal["open", "confirmed"]
    overdue: bool = Field(description="open and past due_at")
    place: str = Field(description="the quarantine place the enterprise named ('' until confirmed)")
    arrived_at: datetime | None
    confirmed_at: datetime | None
    late: bool = Field(description="confirmed after due_at")


class TaskCounts(BaseModel):
    open: int
    overdue: int
    confirmed: int


class TaskList(BaseModel):
    counts: TaskCounts
    tasks: list[TaskPublic] = Field(description="open first by due time (the overdue at the top), 100 a page")
    page: int = Field(description="this page (1-based)")
    next_page: int | None = Field(description="the next page's number when more tasks follow, else null")


class ConfirmRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    place: str = Field(max_length=400, description="where the person is quarantined (2–100 characters)")
    arrived_at: Moment = Field(
        description="when they arrived there (ISO 8601 with zone): not before the crossing, not in the future"
    )
