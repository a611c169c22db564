"""Request and response bodies of the release-policy API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from passcore.policy import Policy

__all__ = ["PolicyChangePublic", "PolicyPublic", "PolicyUpdate"]


class PolicyPublic(BaseModel):
    version: int
    effective_from: datetime
    hard_hit: list[str] = Field(
        description="GB/T 2260 region codes; a province or city code covers its parts"
    )
    fever_threshold_c: str = Field(description="decimal °C; at or above: MEDICAL_HOLD")
    pass_mandatory: bool
    hard_hit_without_enterprise: str
    identity_check: str
    escort_wait_limit_minutes: int
    review_answer_hours: int
    max_validity_days: int
    temperature_min_c: str
    temperature_max_c: str
    bundle_stale_hours: int
    retention_days: int
    note: str
    pass_misuse: str = Field(
        description="refuse, or as_no_pass: a misused pass is judged as no pass (alerted)"
    )
    repeat_window_minutes: int = Field(
        description="a pass decided at the same checkpoint within it: a repeat"
    )
    fever_referrals: list[str] = Field(description="where an officer may send a person with fever; [] any")
    service_hotline: str = Field(
        default="", description="the 24-hour service centre's phone, printed on passes; '' none"
    )
    bus_fever: str = Field(
        default="HOLD_BUS",
        description="a fever aboard a bus: HOLD_BUS holds the whole bus; RELEASE_OTHERS holds the person and "
        "judges the others on (a fever of the driver or the manager still holds the bus)",
    )
    bus_occupancy_percent: int = Field(
        default=50, description="seat occupancy (客座率): passengers + manager ≤ seats × this / 100"
    )
    quarantine_confirm_hours: int = Field(
        default=24,
        description="an enterprise confirms each quarantine arrival within this, or an alert is raised",
    )

    @classmethod
    def of(cls, policy: Policy) -> PolicyPublic:
        return cls.model_validate(policy.to_dict(every_knob=True))


class PolicyUpdate(BaseModel):
    """Only the fields given change; the others keep their values in force."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field must not pass silently as "no change"

    hard_hit: list[str] | None = Field(default=None, max_length=5000)
    fever_threshold_c: str | None = Field(default=None, max_length=10)
    pass_mandatory: bool | None = None
    hard_hit_without_enterprise: str | None = Field(default=None, max_length=20)
    identity_check: str | None = Field(default=None, max_length=20)
    escort_wait_limit_minutes: int | None = None
    review_answer_hours: int | None = None
    max_validity_days: int | None = None
    note: str | None = Field(default=None, max_length=500)
    pass_misuse: str | None = Field(default=None, max_length=20)
    repeat_window_minutes: int | None = None
    fever_referrals: list[str] | None = Field(default=None, max_length=50)
    service_hotline: str | None = Field(default=None, max_length=30)
    bus_fever: str | None = Field(default=None, max_length=20)
    bus_occupancy_percent: int | None = None
    quarantine_confirm_hours: int | None = None


class PolicyChangePublic(BaseModel):
    policy: PolicyPublic
    changed: bool = Field(description="false when the values given were those already in force")
    bundle_version: int = Field(description="the trust bundle version that carries the policy")
