"""Use cases that span domains: a change to the keys or the policy and the signed trust bundle announcing it.

The bundle is built from the keys and the policy (``server.bundles.service`` imports both), so the use cases that
change one of them and publish the bundle in the same transaction live here, above all three, instead of a domain
service importing the bundle inside a function to dodge the cycle. Each flow commits once: the change and the
bundle version that announces it are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from passcore.policy import Policy
from server.bundles import service as bundles
from server.bundles.models import BundleVersion
from server.config import Settings
from server.keyring import service as keyring
from server.keyring.models import KeyRecord
from server.policy import service as policy_service

__all__ = ["KeyChange", "PolicyChange", "retire_issuer", "rotate_issuer", "update_policy"]


@dataclass(frozen=True)
class KeyChange:
    key: KeyRecord
    bundle: BundleVersion  # the trust bundle version that announces the change


@dataclass(frozen=True)
class PolicyChange:
    policy: Policy  # the policy in force afterwards
    bundle: BundleVersion  # the trust bundle version that carries it
    changed: bool  # False when the values given were those already in force: no new version


def rotate_issuer(*, session: Session, settings: Settings, now: datetime) -> KeyChange:
    """Rotate (administrator's page and API) and sign the trust bundle that tells the checkpoints, in one commit."""
    record = keyring.rotate(session=session, settings=settings, now=now)
    bundle = bundles.refresh(session=session, settings=settings, now=now)
    session.commit()
    return KeyChange(record, bundle)


def retire_issuer(*, session: Session, settings: Settings, kid: str, now: datetime) -> KeyChange:
    """Retire a previous issuer key: passes it signed stop verifying once checkpoints hold the new bundle."""
    record = keyring.retirable_issuer(session, kid)
    keyring.retire(session=session, kid=record.kid, now=now)
    bundle = bundles.refresh(session=session, settings=settings, now=now)
    session.commit()
    return KeyChange(record, bundle)


def update_policy(
    *, session: Session, settings: Settings, changes: Mapping[str, Any], now: datetime, by: str
) -> PolicyChange:
    """A new policy version effective now, and the signed trust bundle carrying it, committed together."""
    policy = policy_service.revise(session=session, changes=changes, now=now, by=by)
    if policy is None:
        current = policy_service.current(session)
        return PolicyChange(current, bundles.publish(session=session, settings=settings, now=now), False)
    bundle = bundles.refresh(session=session, settings=settings, now=now)
    session.commit()
    return PolicyChange(policy, bundle, True)
