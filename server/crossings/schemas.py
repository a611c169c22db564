"""JSON shapes of the crossings API: a batch of crossing records as a checkpoint uploads it, the answer, and
escort requests.

The record itself is ``passcore.crossing.CrossingRecord``, the contract the checkpoint builds its records with
(documented in docs/api.md "Crossing records"); this module only wraps it in the upload's envelope.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, SkipValidation

from passcore.crossing import CrossingRecord, plausible

__all__ = [
    "MAX_RECORDS",
    "CrossingBatch",
    "EscortEnterprise",
    "EscortList",
    "EscortPublic",
    "HandoverPublic",
    "HandoverRequest",
    "IngestResponse",
    "Moment",
    "RecordResult",
]

MAX_RECORDS = 500
Moment = Annotated[AwareDatetime, AfterValidator(plausible)]


class CrossingBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Records are validated one by one by the service (SkipValidation keeps the raw JSON for the hash), so one
    # bad record is answered `invalid` instead of failing its whole batch and blocking the device's outbox.
    records: list[SkipValidation[CrossingRecord]] = Field(min_length=1, max_length=MAX_RECORDS)


class RecordResult(BaseModel):
    index: int = Field(description="position in the batch")
    id: str | None
    status: Literal["accepted", "duplicate", "conflict", "invalid"]
    code: str | None = Field(default=None, description="why, for conflict and invalid")
    detail: str | None = None


class IngestResponse(BaseModel):
    accepted: int
    duplicate: int
    conflict: int
    invalid: int
    results: list[RecordResult]


class EscortEnterprise(BaseModel):
    """Who receives the vehicle, for the checkpoint it waits at: the public trust bundle carries only the code
    and name, so the contact person and phone reach the checkpoint here, over its device token."""

    uscc: str
    name: str
    contact: str
    phone: str


class HandoverPublic(BaseModel):
    """Who took the vehicle over, as the checkpoint recorded it ('' / null when a device before issue 12 did)."""

    staff_name: str
    staff_id_last4: str
    officer: str | None
    waited_minutes: int = Field(description="the total wait: from the request to the hand-over")


class EscortPublic(BaseModel):
    id: int
    crossing_id: str
    checkpoint_id: int
    plate: str
    status: Literal["open", "answered", "handed_over", "cancelled"]
    requested_at: datetime
    enterprise: EscortEnterprise | None
    staff_name: str
    staff_phone: str
    eta: datetime | None
    answered_at: datetime | None
    handed_over_at: datetime | None
    handover: HandoverPublic | None = Field(default=None, description="once handed over")


class EscortList(BaseModel):
    server_time: datetime = Field(description="send it back as `since` next time (the server's clock)")
    escorts: list[EscortPublic]
    more: bool = Field(
        default=False,
        description="more requests follow: ask again with the same `since` and `after` = the last id here "
        "(and keep the first page's `server_time` for next time)",
    )


class HandoverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: Moment = Field(description="when the enterprise's staff took the vehicle over (ISO with zone)")
    # Optional so that devices before issue 12, which send only `at`, keep working; checked by the service
    # (passcore.handover) so the errors name the field.
    staff_name: str | None = Field(
        default=None,
        max_length=200,
        description="the staff member who took the vehicle over (1–50 characters)",
    )
    staff_id_last4: str | None = Field(
        default=None,
        max_length=20,
        description="the last four characters of their ID: three digits, a digit or X",
    )
    officer: str | None = Field(
        default=None,
        max_length=40,
        description="the officer signed in on the device (letters, digits, -; ≤ 16)",
    )
