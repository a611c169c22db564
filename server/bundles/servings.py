"""Which trust-bundle versions the server handed to which enrolled device, and when: recorded on every fetch that
came with a device token, read by the audit to choose the context a device's record is replayed under."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from server.bundles.models import BundleServing, BundleVersion
from server.checkpoints.models import Device

__all__ = ["GRANULARITY", "Served", "record", "served_to"]

# A device polls every 30 s; one row per version and this long is all the audit needs (it allows for it).
GRANULARITY = timedelta(minutes=10)

# (version, policy version, served at)
Served = tuple[int, int, datetime]


def record(*, session: Session, device_id: str, version: int, now: datetime) -> None:
    """Note that ``device_id`` was answered ``version`` (an enrolled, unrevoked device only). Committed."""
    device = session.get(Device, device_id)
    if device is None or device.revoked_at is not None:
        return
    last = session.exec(
        select(BundleServing)
        .where(BundleServing.device_id == device_id)
        .order_by(col(BundleServing.served_at).desc(), col(BundleServing.id).desc())
        .limit(1)
    ).first()
    if last is not None and last.version == version and now - last.served_at < GRANULARITY:
        return
    session.add(BundleServing(device_id=device_id, version=version, served_at=now))
    session.commit()


def served_to(session: Session, device_ids: Iterable[str]) -> dict[str, list[Served]]:
    """Every serving to these devices, oldest first, with each version's policy."""
    ids = set(device_ids)
    if not ids:
        return {}
    query = (
        select(
            BundleServing.device_id,
            BundleServing.version,
            BundleVersion.policy_version,
            BundleServing.served_at,
        )
        .join(BundleVersion, col(BundleVersion.version) == col(BundleServing.version))
        .where(col(BundleServing.device_id).in_(ids))
        .order_by(col(BundleServing.served_at), col(BundleServing.id))
    )
    found: dict[str, list[Served]] = {device_id: [] for device_id in ids}
    for device_id, version, policy_version, served_at in session.exec(query):
        found[device_id].append((version, policy_version, served_at))
    return found
