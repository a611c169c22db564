"""Response and request bodies of the passes API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from server.passes.views import PassView

__all__ = [
    "BusPublic",
    "DriverPublic",
    "EnterprisePublic",
    "PassPublic",
    "PersonPublic",
    "RegionPublic",
    "RevocationPublic",
    "RevokeRequest",
    "Status",
]

Status = Literal["valid", "not_yet_valid", "expired", "revoked"]


class PersonPublic(BaseModel):
    name: str
    id_number: str = Field(description="masked, e.g. 320583********1234")


class DriverPublic(PersonPublic):
    licence_number: str = Field(description="masked")


class RegionPublic(BaseModel):
    code: str
    name: str


class EnterprisePublic(BaseModel):
    uscc: str
    name: str


class BusPublic(BaseModel):
    seats: int = Field(description="passenger seats, the driver's not counted")
    departure: str = Field(description="departure station (站到站)")
    arrival: str = Field(description="arrival station")
    manager: PersonPublic = Field(description="the enterprise's manager on board (ID number masked)")
    manifest_digest: str = Field(description="32 hex digits: the digest of the manifest the pass binds")
    pages: int = Field(description="manifest pages, each its own signed QR")
    passengers: int


_BUREAU = "交通运输局"  # who revoked a pass, for an enterprise, when it was the bureau's staff


class RevocationPublic(BaseModel):
    revoked_at: datetime
    reason: str
    revoked_by: str = Field(
        description=f"the account; to an enterprise, its own accounts by name and the bureau's staff as {_BUREAU!r}"
    )


class PassPublic(BaseModel):
    pass_id: str
    serial: str = Field(description="issuing region code and serial, printed on the card")
    status: Status
    plate: str
    plate_colour: str
    enterprise: EnterprisePublic
    driver: DriverPublic
    escorts: list[PersonPublic]
    origin: RegionPublic
    destination: RegionPublic
    travel_history: list[RegionPublic]
    cargo: str
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    kid: str = Field(description="the issuer key that signed the pass")
    application_id: int | None
    revocation: RevocationPublic | None
    qr_text: str = Field(description="the signed pass as the QR carries it (masked numbers only)")
    kind: Literal["freight", "personnel"] = Field(default="freight", description="personnel: a bus")
    bus: BusPublic | None = Field(
        default=None, description="a personnel-transport pass's bus; null for freight"
    )
    manifest: list[str] = Field(
        default_factory=list,
        description="a bus pass's signed manifest pages (CPM1 texts) in order; in a pass's own detail only",
    )

    @classmethod
    def of(cls, view: PassView) -> PassPublic:
        record, claims, revocation = view.record, view.claims, view.revocation
        return cls(
            pass_id=record.pass_id,
            serial=record.serial,
            status=view.status,  # type: ignore[arg-type]
            plate=claims["plate"],
            plate_colour=claims["plate_colour"],
            enterprise=EnterprisePublic(uscc=record.enterprise_uscc, name=view.enterprise_name),
            driver=DriverPublic(**claims["driver"]),
            escorts=[PersonPublic(**p) for p in claims["escorts"]],
            origin=RegionPublic(**claims["origin"]),
            destination=RegionPublic(**claims["destination"]),
            travel_history=[RegionPublic(**r) for r in claims["travel_history"]],
            cargo=view.cargo,
            issued_at=record.issued_at,
            valid_from=record.valid_from,
            valid_until=record.valid_until,
            kid=record.kid,
            application_id=record.application_id,
            revocation=RevocationPublic(
                revoked_at=revocation.revoked_at,
                reason=revocation.reason,
                revoked_by=view.revoked_by or _BUREAU,
            )
            if revocation
            else None,
            qr_text=record.qr_text,
            kind=view.kind,  # type: ignore[arg-type]
            bus=_bus(claims.get("bus")),
            manifest=list(view.manifest),
        )


def _bus(bus: Any) -> BusPublic | None:
    if not isinstance(bus, dict):
        return None
    return BusPublic(
        seats=bus["seats"],
        departure=bus.get("departure", ""),
        arrival=bus.get("arrival", ""),
        manager=PersonPublic(**bus["manager"]),
        manifest_digest=bus["manifest"],
        pages=bus["pages"],
        passengers=bus["passengers"],
    )


class RevokeRequest(BaseModel):
    reason: str = Field(max_length=2000, description="required: why the pass is revoked (kept for the audit)")
