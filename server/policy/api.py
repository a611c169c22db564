"""The release policy as JSON: the policy in force, and the administrator's change.

Each change is a new, dated version, carried to the checkpoints by a new signed trust bundle at once.
"""

from __future__ import annotations

from fastapi import APIRouter

from server import flows
from server.deps import ClockDep, CurrentUser, SessionDep, SettingsDep
from server.policy import service as policy_service
from server.policy.deps import AdminUser
from server.policy.schemas import PolicyChangePublic, PolicyPublic, PolicyUpdate

__all__ = ["api"]

api = APIRouter(prefix="/api/v1", tags=["policy"])


@api.get("/policy", response_model=PolicyPublic, responses={401: {}})
def api_policy(user: CurrentUser, session: SessionDep) -> PolicyPublic:
    """The release policy in force (the same as in the trust bundle)."""
    return PolicyPublic.of(policy_service.current(session))


@api.put("/policy", response_model=PolicyChangePublic, responses={401: {}, 403: {}, 422: {}})
def api_policy_update(
    body: PolicyUpdate, admin: AdminUser, session: SessionDep, settings: SettingsDep, now: ClockDep
) -> PolicyChangePublic:
    """A new policy version effective now, signed into a new trust bundle version (administrators)."""
    changes = body.model_dump(exclude_none=True)
    change = flows.update_policy(
        session=session, settings=settings, changes=changes, now=now, by=admin.username
    )
    return PolicyChangePublic(
        policy=PolicyPublic.of(change.policy), changed=change.changed, bundle_version=change.bundle.version
    )
