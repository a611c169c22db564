"""JSON shapes of the crossings API: the crossing record a checkpoint uploads, and escort requests.

The record is documented in docs/api.md; the checkpoint client (issue 4) produces exactly this shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, SkipValidation

from passcore.rules import MAX_OCCUPANTS
from server.checkpoints.service import usable_text

__all__ = [
    "MAX_RECORDS",
    "Checks",
    "CrossingBatch",
    "CrossingRecord",
    "EscortEnterprise",
    "EscortList",
    "EscortPublic",
    "HandoverRequest",
    "IngestResponse",
    "Moment",
    "Occupant",
    "RecordResult",
]

MAX_RECORDS = 500
FIRST_YEAR, LAST_YEAR = 2000, 2100
OUTCOMES = Literal["RELEASE", "ESCORT_REQUIRED", "REFUSE", "MEDICAL_HOLD"]


def _text(value: str) -> str:
    if not usable_text(value):
        raise ValueError("control characters are not allowed")
    return value


def _plausible(moment: datetime) -> datetime:
    # Also keeps UTC conversion from overflowing at the ends of the calendar (year 1, year 9999).
    if not FIRST_YEAR <= moment.replace(tzinfo=None).year <= LAST_YEAR:
        raise ValueError(f"a time between {FIRST_YEAR} and {LAST_YEAR}")
    return moment


def _aware_iso(value: str) -> str:
    # Kept as the device wrote it (the hash covers these characters); only checked here.
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("give the time zone, e.g. 2026-02-10T08:00:00+08:00")
    _plausible(moment)
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_plausible)]


Region = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="GB/T 2260 region code")]
Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_text)]
ReasonCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,39}$")]


class Strict(BaseModel):
    # strict: no coercion, so the validated values are the very values the device hashed
    model_config = ConfigDict(extra="forbid", strict=True)


class Occupant(Strict):
    role: Literal["driver", "escort", "passenger"]
    name: Name
    temperature_c: float = Field(ge=30, le=45, allow_inf_nan=False, description="°C, e.g. 36.5")
    origin: Region | None
    travel_history: list[Region] = Field(max_length=30, description="14-day travel history")


class Checks(Strict):
    """What the officer checked against a pass; all null for a vehicle without one. No ID digits are kept."""

    identity_confirmed: bool | None = Field(description="the driver is the person on the pass")
    licence_confirmed: bool | None = Field(description="the driving licence matches the pass")
    id_last4_matched: bool | None = Field(description="the typed last 4 ID characters matched the pass")


class CrossingRecord(Strict):
    """One decision made at a checkpoint, as the device stored and hash-chained it. Every key is required."""

    id: str = Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        description="UUID made by the device (lower-case, hyphenated)",
    )
    seq: int = Field(ge=1, le=2**31 - 1, description="the device's record counter, from 1, no gaps")
    prev_hash: Hex64 = Field(description="the previous record's hash; 64 zeros for seq 1")
    hash: Hex64 = Field(description="SHA-256 of the canonical JSON of this record without `hash`")
    decided_at: Annotated[str, Field(max_length=40), AfterValidator(_aware_iso)] = Field(
        description="ISO 8601 with zone"
    )
    plate: str = Field(min_length=1, max_length=20, description="the plate the decision was made for")
    pass_id: str | None = Field(pattern=r"^[0-9a-f]{24}$", description="the pass read, if any")
    enterprise: str | None = Field(
        pattern=r"^[0-9A-Z]{18}$", description="USCC of the receiving enterprise, if any"
    )
    outcome: OUTCOMES
    reasons: list[ReasonCode] = Field(max_length=30)
    policy_version: int = Field(ge=1, le=2**31 - 1)
    bundle_version: int = Field(ge=0, le=2**31 - 1, description="0 when no trust bundle was loaded")
    occupants: list[Occupant] = Field(min_length=1, max_length=MAX_OCCUPANTS)
    vehicle_origin: Region | None
    verification: ReasonCode | None = Field(
        description="the pass verification's code (PASS_VALID, PASS_REVOKED, …); null when no pass was read"
    )
    checks: Checks


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
    uscc: str
    name: str
    phone: str


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
