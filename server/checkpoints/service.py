"""Checkpoints and their devices: registration, one-time enrolment codes, enrolment, revocation.

Each use case commits its own work. An enrolment code (``passcore.enrolment``) is a random secret (80 bits) and the
root key's fingerprint, shown once; only the secret's SHA-256 is stored. A device's credential is an ordinary API
token bound to the device (``ApiToken.device_id``).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from passcore import enrolment, ids
from passcore.errors import InputError
from server.accounts import service as accounts
from server.accounts.models import User
from server.checkpoints.models import Checkpoint, Device, EnrolmentCode
from server.config import Settings
from server.errors import AppError, BadRequest, Conflict, NotFound
from server.keyring import service as keyring
from server.regions import table as regions

__all__ = [
    "CodeExpired",
    "Enrolment",
    "code_hash",
    "create_enrolment_code",
    "devices_of",
    "enrol",
    "enrolment_codes_of",
    "list_checkpoints",
    "register_checkpoint",
    "revoke_device",
    "touch_device",
]

SEEN_GRANULARITY = timedelta(minutes=1)


class CodeExpired(AppError):
    status, code, title = 410, "CODE_EXPIRED", "Gone"


@dataclass(frozen=True)
class Enrolment:
    device: Device
    token: str  # shown once: only its hash is stored
    checkpoint: Checkpoint


def _coordinate(value: str | float | None, low: float, high: float) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = float(value)  # ValueError for text that is not a number
    if not math.isfinite(number) or not low <= number <= high:
        raise ValueError(f"outside {low}..{high}")
    return number


def register_checkpoint(
    *,
    session: Session,
    name: str,
    region: str,
    location: str,
    latitude: str | float | None,
    longitude: str | float | None,
    now: datetime,
) -> Checkpoint:
    fields: dict[str, str] = {}
    clean_name, clean_location = name.strip(), location.strip()
    if not 2 <= len(clean_name) <= 100 or not ids.usable_text(clean_name):
        fields["name"] = "checkpoint_name_invalid"
    try:
        region = regions.check_exists(region)  # new input: only codes in the current table (server/regions)
    except InputError as err:
        fields["region"] = err.code.lower()
    if len(clean_location) > 200 or not ids.usable_text(clean_location):
        fields["location"] = "checkpoint_location_invalid"
    coordinates: dict[str, float | None] = {}
    for key, value, bound in (("latitude", latitude, 90.0), ("longitude", longitude, 180.0)):
        try:
            coordinates[key] = _coordinate(value, -bound, bound)
        except (TypeError, ValueError):
            fields[key] = f"{key}_invalid"
    if not fields and (coordinates["latitude"] is None) != (coordinates["longitude"] is None):
        # One without the other is useless for the distance checks of the audit (cloned passes).
        missing = "latitude" if coordinates["latitude"] is None else "longitude"
        fields[missing] = "coordinates_pair"
    if fields:
        raise BadRequest("please correct the marked fields", code="CHECKPOINT_INVALID", fields=fields)
    checkpoint = Checkpoint(
        name=clean_name,
        region=region,
        location=clean_location,
        latitude=coordinates["latitude"],
        longitude=coordinates["longitude"],
        created_at=now,
    )
    session.add(checkpoint)
    session.commit()
    return checkpoint


def list_checkpoints(session: Session) -> list[tuple[Checkpoint, int]]:
    """Every checkpoint with its number of devices that are not revoked."""
    active = (
        select(Device.checkpoint_id, func.count().label("devices"))
        .where(col(Device.revoked_at).is_(None))
        .group_by(col(Device.checkpoint_id))
        .subquery()
    )
    query = (
        select(Checkpoint, func.coalesce(active.c.devices, 0))
        .outerjoin(active, active.c.checkpoint_id == Checkpoint.id)
        .order_by(col(Checkpoint.id))
    )
    return [(checkpoint, int(count)) for checkpoint, count in session.exec(query)]


def devices_of(session: Session, checkpoint_id: int) -> list[Device]:
    query = select(Device).where(Device.checkpoint_id == checkpoint_id).order_by(col(Device.enrolled_at))
    return list(session.exec(query))


def enrolment_codes_of(session: Session, checkpoint_id: int, limit: int = 20) -> list[EnrolmentCode]:
    query = (
        select(EnrolmentCode)
        .where(EnrolmentCode.checkpoint_id == checkpoint_id)
        .order_by(col(EnrolmentCode.created_at).desc())
        .limit(limit)
    )
    return list(session.exec(query))


def code_hash(code: str) -> str:
    """What is stored of a code: the SHA-256 of its normalised secret. InputError CODE_MALFORMED for a code in
    another format (one made before the root fingerprint was part of it)."""
    return hashlib.sha256(enrolment.parse_code(code).secret.encode()).hexdigest()


def create_enrolment_code(
    *, session: Session, checkpoint: Checkpoint, user: User, settings: Settings, now: datetime
) -> tuple[str, EnrolmentCode]:
    """A new one-time code for ``checkpoint``; the returned text is the only copy of it."""
    if not checkpoint.active:
        raise Conflict("this checkpoint is closed", code="CHECKPOINT_INACTIVE")
    # Guessing one of the few live secrets is hopeless (80 bits), so unknown and wrong codes may both say 404.
    code = enrolment.make_code(secrets.token_bytes(enrolment.SECRET_BYTES), keyring.root_public(session))
    row = EnrolmentCode(
        code_hash=code_hash(code),
        checkpoint_id=checkpoint.id or 0,
        created_by=user.id,
        created_at=now,
        expires_at=now + timedelta(hours=settings.enrolment_code_hours),
    )
    session.add(row)
    session.commit()
    return code, row


def enrol(*, session: Session, code: str, name: str, now: datetime) -> Enrolment:
    """Spend a one-time code on a new device of the code's checkpoint and give the device its token."""
    clean_name = name.strip()
    if not 1 <= len(clean_name) <= 100 or not ids.usable_text(clean_name):
        raise BadRequest(
            "give the device a name of 1-100 characters",
            code="DEVICE_NAME_INVALID",
            fields={"name": "device_name_invalid"},
        )
    digest = code_hash(code)
    row = session.get(EnrolmentCode, digest)
    if row is None:
        raise NotFound("unknown enrolment code", code="CODE_UNKNOWN")
    if row.used_at is not None:
        raise Conflict("this enrolment code has already been used", code="CODE_USED")
    if row.expires_at <= now:
        raise CodeExpired("this enrolment code has expired; ask the bureau for a new one")
    checkpoint = session.get(Checkpoint, row.checkpoint_id)
    if checkpoint is None or not checkpoint.active:
        raise Conflict("this checkpoint is closed", code="CHECKPOINT_INACTIVE")
    device_id = secrets.token_hex(16)
    # The conditional update is the lock: of two devices racing with one code, only one changes the row.
    claimed = session.exec(
        update(EnrolmentCode)
        .where(col(EnrolmentCode.code_hash) == digest, col(EnrolmentCode.used_at).is_(None))
        .values(used_at=now, device_id=device_id)
    )
    if claimed.rowcount != 1:
        session.rollback()
        raise Conflict("this enrolment code has already been used", code="CODE_USED")
    device = Device(id=device_id, checkpoint_id=checkpoint.id or 0, name=clean_name, enrolled_at=now)
    session.add(device)
    session.flush()
    # create_api_token commits: the code, the device and its token become visible together or not at all.
    token = accounts.create_api_token(
        session=session, now=now, name=f"device {device.name}", device_id=device_id
    )
    return Enrolment(device=device, token=token, checkpoint=checkpoint)


def revoke_device(*, session: Session, device: Device, now: datetime) -> Device:
    """The device can no longer upload or fetch; its token is kept so it is told 403 (re-enrol), not 401."""
    if device.revoked_at is None:
        device.revoked_at = now
        session.add(device)
        session.commit()
    return device


def touch_device(*, session: Session, device: Device, now: datetime) -> None:
    """Note that the device was in contact; coarse, so that a device polling often does not write every time."""
    if device.last_seen_at is None or now - device.last_seen_at > SEEN_GRANULARITY:
        device.last_seen_at = now
        session.add(device)
        session.commit()
