"""JSON shapes of the officers API: for the bureau (never a PIN hash) and for the checkpoint's devices."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from passcore.pins import NUMBER_PATTERN

__all__ = ["DeviceOfficer", "DeviceOfficerList", "OfficerCreate", "OfficerPin", "OfficerPublic"]

_PIN = Field(
    min_length=4, max_length=8, pattern=r"^[0-9]{4,8}$", description="4-8 digits; only its hash is kept"
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OfficerCreate(Strict):
    number: str = Field(min_length=1, max_length=16, pattern=NUMBER_PATTERN)
    name: str = Field(min_length=1, max_length=50)
    pin: str = _PIN


class OfficerPin(Strict):
    pin: str = _PIN


class OfficerPublic(BaseModel):
    id: int
    checkpoint_id: int
    number: str
    name: str
    active: bool
    created_at: datetime
    updated_at: datetime
    pin_set_at: datetime
    deactivated_at: datetime | None


class DeviceOfficer(BaseModel):
    number: str
    name: str
    active: bool
    pin_hash: str = Field(description="passcore.pins: scrypt$n=…,r=…,p=…$salt$key (base64); checked offline")
    updated_at: datetime


class DeviceOfficerList(BaseModel):
    server_time: datetime
    checkpoint_id: int
    officers: list[DeviceOfficer] = Field(
        description="every officer of the device's checkpoint, deactivated ones included (active false)"
    )
