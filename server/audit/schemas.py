"""JSON shapes of the audit API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

__all__ = [
    "BusCountsPublic",
    "BusPublic",
    "ClaimedPublic",
    "CrossingDetailPublic",
    "CrossingPage",
    "CrossingSummary",
    "DailyRowPublic",
    "Dashboard",
    "EscortTimelinePublic",
    "OccupantPublic",
    "PassengerPublic",
    "ReasonPublic",
    "ReplayContextPublic",
    "ReplayPublic",
]


class ReasonPublic(BaseModel):
    code: str
    message: str


class BusCountsPublic(BaseModel):
    listed: int  # on the manifest
    aboard: int
    absent: int
    quarantine: int
    held: int


class PassengerPublic(BaseModel):
    number: int
    name: str  # "" once purged
    id_number: str  # masked (320583********1234); "" once the pass's people are purged
    origin: str | None
    travel_history: list[str]
    aboard: bool
    measured: str  # "normal", "typed" or "absent" (an enterprise: "" for anyone aboard)
    temperature_c: float | None  # a typed reading; null when measured normal, absent, or for an enterprise
    fever: bool | None  # null for an enterprise
    disposition: str | None  # RELEASE, QUARANTINE, MEDICAL_HOLD, ABSENT, REFUSE; null when not shown
    hard_hit: str | None


class BusPublic(BaseModel):
    manifest: str
    pages: int | None
    seats: int | None
    departure: str
    arrival: str
    manager_name: str
    manager_id_number: str  # masked
    arrived_at: datetime | None
    wait_seconds: int | None
    passengers: list[PassengerPublic]


class CrossingSummary(BaseModel):
    id: str
    decided_at: datetime
    checkpoint_id: int
    checkpoint: str
    plate: str
    outcome: str
    reasons: list[str]
    pass_id: str | None
    enterprise_uscc: str | None
    enterprise: str | None
    device_id: str
    seq: int
    # Bureau only (null for an enterprise): the device's name and the officer signed in when deciding (null for
    # records from devices before officers were recorded).
    device_name: str | None = None
    officer: str | None = None
    # Issue 14: "freight" or "personnel" (a bus); a bus's passenger counts and its wait (first scan to decision).
    kind: str = "freight"
    passengers: BusCountsPublic | None = None
    bus_wait_seconds: int | None = None


class CrossingPage(BaseModel):
    items: list[CrossingSummary]
    next_cursor: str | None  # pass as `after` for the next page; null on the last page


class OccupantPublic(BaseModel):
    role: str
    name: str
    temperature_c: float | None  # null for an enterprise (and once purged)
    fever: bool | None  # null for an enterprise: it sees the crossing's outcome, not who had a fever
    origin: str | None
    travel_history: list[str]


class EscortTimelinePublic(BaseModel):
    id: int
    status: str
    requested_at: datetime
    answered_at: datetime | None
    staff_name: str
    eta: datetime | None
    handed_over_at: datetime | None
    waited_minutes: int  # to the hand-over once handed over: the total wait
    limit_minutes: int
    over_limit: bool
    # Who took the vehicle over ('' before it, or from a device that did not say); the ID ending and the officer
    # only for the bureau (null for an enterprise).
    handover_staff_name: str = ""
    handover_staff_id_last4: str | None = None
    handover_officer: str | None = None


class ReplayContextPublic(BaseModel):
    """The bundle and instant the server replayed under: the record's claim unless what the device was served
    says otherwise (docs/design.md, section 7)."""

    bundle_version: int
    policy_version: int | None
    at: datetime
    claimed_bundle_version: int
    claimed_policy_version: int
    claimed_at: datetime
    differs: bool  # the server set the claim aside
    known: bool  # the server had served this device bundles before the record arrived
    problems: list[str]  # why: OLDER_BUNDLE, NOT_SERVED, AFTER_RECEIPT, BEFORE_LAST_FETCH, …


class ReplayPublic(BaseModel):
    matches: bool
    replayable: bool  # false once the record's personal data was purged
    outcome: str | None  # what the server computes
    reasons: list[str]
    detail: str  # "" when it matches, else a code: OUTCOME_DIFFERS, REASONS_DIFFER, PURGED, PASS_PURGED, …
    message: str
    context: ReplayContextPublic | None = None


class ConflictPublic(BaseModel):
    received_at: datetime
    device_id: str
    differing: list[str]


class ClaimedPublic(BaseModel):
    """What a pass that did not verify claimed, as the checkpoint kept it (never trusted; names blank once purged)."""

    reason: str | None
    serial: str | None
    plate: str | None
    names: list[str]
    kid: str | None
    pass_id: str | None


class CrossingDetailPublic(CrossingSummary):
    received_at: datetime
    reasons_in_words: list[ReasonPublic]
    verification: str | None
    checks: dict[str, Any]
    vehicle_origin: str | None
    occupants: list[OccupantPublic]
    policy_version: int
    bundle_version: int
    prev_hash: str
    record_hash: str
    body_intact: bool  # sha256 of the stored body equals record_hash (false after a purge)
    purged_at: datetime | None
    pass_serial: str | None
    escort: EscortTimelinePublic | None
    conflicts: list[ConflictPublic]
    replay: ReplayPublic | None
    # Added in issue 12. claimed, referral and repeat_of are for the bureau only (null for an enterprise).
    claimed: ClaimedPublic | None = None
    referral: str | None = None
    repeat_of: str | None = None
    absent: list[str] = []  # on the pass, nobody of that name aboard
    unlisted: list[str] = []  # aboard, not on the pass as issued
    bus: BusPublic | None = None  # a bus's roll (issue 14); null for freight


class DailyRowPublic(BaseModel):
    day: str
    checkpoint_id: int
    checkpoint: str
    total: int
    outcomes: dict[str, int]
    escorts: int
    escorts_over: int


class Dashboard(BaseModel):
    start: datetime
    end: datetime
    unit: str  # "hour" or "day": the bucket of `outcomes`
    escort_wait_limit_minutes: int
    totals: dict[str, int]
    per_hour_by_checkpoint: dict[str, dict[str, int]]  # checkpoint id -> local hour -> crossings
    outcomes: dict[str, dict[str, int]]  # outcome -> local hour or day -> crossings
    fever_by_day: dict[str, dict[str, int]]  # checkpoint id -> local day -> crossings held for fever
    escort_wait_bins_minutes: int
    escort_waits: list[int]  # requests per bin; the last bin is open-ended
    top_enterprises: list[dict[str, Any]]
