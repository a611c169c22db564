"""JSON shapes of the checkpoints API: enrolment, checkpoints, enrolment codes, devices."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CheckpointCreate",
    "CheckpointPublic",
    "CheckpointRef",
    "DevicePublic",
    "EnrolRequest",
    "EnrolResponse",
    "EnrolmentCodePublic",
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrolRequest(Strict):
    code: str = Field(
        min_length=1,
        max_length=64,
        description="the one-time code from the bureau (any case; hyphens and spaces ignored)",
    )
    name: str = Field(
        min_length=1, max_length=100, description="a name for this device, e.g. the laptop's label"
    )


class CheckpointRef(BaseModel):
    id: int
    name: str
    region: str = Field(description="GB/T 2260 code")
    region_name: str


class EnrolResponse(BaseModel):
    device_id: str
    token: str = Field(description="bearer token of the device; shown only this once")
    checkpoint: CheckpointRef
    root_public_key: str = Field(description="PEM of the bureau's root key: pin it to verify trust bundles")
    bundle_url: str = Field(description="where to fetch the signed trust bundle")
    enrolled_at: datetime


class CheckpointCreate(Strict):
    name: str = Field(min_length=2, max_length=100)
    region: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")
    location: str = Field(default="", max_length=200)
    latitude: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)


class CheckpointPublic(BaseModel):
    id: int
    name: str
    region: str
    region_name: str
    location: str
    latitude: float | None
    longitude: float | None
    active: bool
    devices: int = Field(description="devices enrolled and not revoked")
    created_at: datetime


class EnrolmentCodePublic(BaseModel):
    code: str = Field(description="the one-time code; only its hash is stored, so this is the only copy")
    checkpoint_id: int
    expires_at: datetime


class DevicePublic(BaseModel):
    id: str
    checkpoint_id: int
    name: str
    enrolled_at: datetime
    last_seen_at: datetime | None
    revoked_at: datetime | None
