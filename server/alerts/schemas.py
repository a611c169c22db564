"""Request and response bodies of the alerts API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AlertAction", "AlertPage", "AlertPublic"]


class AlertPublic(BaseModel):
    id: int
    kind: str
    status: Literal["open", "acknowledged", "closed"]
    crossing_id: str | None
    device_id: str | None
    pass_id: str | None
    checkpoint_id: int | None
    checkpoint: str | None = Field(description="the checkpoint's name")
    occurred_at: datetime
    created_at: datetime
    detail: dict[str, Any] = Field(description="codes and numbers that explain the finding")
    acted_by: str | None = Field(description="who acted last")
    acted_at: datetime | None
    note: str


class AlertPage(BaseModel):
    alerts: list[AlertPublic]
    next_before: int | None = Field(description="pass as `before` for the next page; null on the last")
    counts: dict[str, int] = Field(description="alerts per status")


class AlertAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000, description="why (required to close)")
