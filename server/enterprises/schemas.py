"""Response bodies of the enterprise administration API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from server.enterprises.models import Enterprise

__all__ = ["EnterpriseAdmin", "Refusal"]


class EnterpriseAdmin(BaseModel):
    uscc: str
    name: str
    contact: str
    phone: str
    region: str
    verified: bool
    verified_at: datetime | None
    verified_by: str | None
    rejected_at: datetime | None = None
    rejected_reason: str = ""
    created_at: datetime

    @classmethod
    def of(cls, enterprise: Enterprise, verified_by: str | None) -> EnterpriseAdmin:
        return cls(**enterprise.model_dump(exclude={"verified_by", "rejected_by"}), verified_by=verified_by)


class Refusal(BaseModel):
    """An administrator's reason for rejecting an enterprise's verification (the enterprise sees it)."""

    reason: str = Field(max_length=2000)
