"""Release-policy versions: read the one in force, add a new one."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from passcore.errors import InputError
from passcore.policy import Policy
from server.policy.models import PolicyVersion

__all__ = ["current", "ensure_default", "set_policy"]


def _latest(session: Session) -> PolicyVersion | None:
    return session.exec(select(PolicyVersion).order_by(PolicyVersion.version.desc())).first()  # type: ignore[attr-defined]


def current(session: Session) -> Policy:
    row = _latest(session)
    if row is None:
        raise InputError("no policy yet: run `checkpass init`", code="POLICY_MISSING")
    return Policy.from_dict(json.loads(row.body_json))


def by_version(session: Session, version: int) -> Policy:
    row = session.get(PolicyVersion, version)
    if row is None:
        raise InputError(f"no policy version {version}", code="POLICY_MISSING")
    return Policy.from_dict(json.loads(row.body_json))


def _store(session: Session, policy: Policy, now: datetime, by: str) -> Policy:
    session.add(
        PolicyVersion(
            version=policy.version,
            body_json=json.dumps(policy.to_dict(), ensure_ascii=False),
            effective_from=policy.effective_from,
            created_at=now,
            created_by=by,
        )
    )
    session.flush()
    return policy


def ensure_default(*, session: Session, now: datetime) -> bool:
    if _latest(session) is not None:
        return False
    _store(session, Policy(version=1, effective_from=now), now, "checkpass init")
    return True


def set_policy(*, session: Session, changes: dict[str, Any], now: datetime, by: str) -> Policy:
    """A new version with ``changes`` applied, effective now; the old versions stay for replay."""
    old = current(session)
    data = old.to_dict() | changes
    data["version"] = old.version + 1
    data["effective_from"] = now.isoformat()
    return _store(session, Policy.from_dict(data), now, by)
