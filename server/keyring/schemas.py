"""Response bodies of the signing-keys API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from server.keyring.models import KeyRecord

__all__ = ["KeyChangePublic", "KeyPublic"]


class KeyPublic(BaseModel):
    kid: str
    role: str = Field(description="root (signs trust bundles) or issuer (signs passes)")
    alg: str
    status: str = Field(
        description="active, previous (its passes stay valid) or retired (its passes are void)"
    )
    valid_from: datetime
    valid_until: datetime | None
    public_key: str = Field(description="PEM")
    live_passes: int = Field(description="unexpired, unrevoked passes signed by this key")
    private_store: str = Field(
        description="where the private key is: file (under keys/) or pkcs11 (an HSM token)"
    )

    @classmethod
    def of(cls, record: KeyRecord, live: dict[str, int]) -> KeyPublic:
        return cls(
            kid=record.kid,
            role=record.role,
            alg=record.alg,
            status=record.status,
            valid_from=record.valid_from,
            valid_until=record.valid_until,
            public_key=record.public_key_pem,
            live_passes=live.get(record.kid, 0),
            private_store=record.private_store,
        )


class KeyChangePublic(BaseModel):
    key: KeyPublic
    bundle_version: int = Field(description="the trust bundle version that announces the change")
