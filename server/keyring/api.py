"""The signing-keys JSON API for the administrator: the list, rotation and retirement.

Each change signs a new trust bundle version at once, so checkpoints learn of it at their next fetch.
"""

from __future__ import annotations

from fastapi import APIRouter

from server import flows
from server.deps import ClockDep, SessionDep, SettingsDep
from server.keyring import service as keyring
from server.keyring.deps import AdminUser
from server.keyring.schemas import KeyChangePublic, KeyPublic

__all__ = ["api"]

api = APIRouter(prefix="/api/v1", tags=["keys"])


@api.get("/keys", response_model=list[KeyPublic], responses={401: {}, 403: {}})
def api_key_list(admin: AdminUser, session: SessionDep, now: ClockDep) -> list[KeyPublic]:
    """The root and issuer keys with status and validity (administrators)."""
    live = keyring.live_passes_by_key(session, now)
    return [KeyPublic.of(record, live) for record in keyring.list_keys(session)]


@api.post("/keys/rotate", response_model=KeyChangePublic, responses={401: {}, 403: {}})
def api_key_rotate(
    admin: AdminUser, session: SessionDep, settings: SettingsDep, now: ClockDep
) -> KeyChangePublic:
    """A new issuer key signs new passes; the old one's passes stay valid until it is retired."""
    change = flows.rotate_issuer(session=session, settings=settings, now=now)
    return KeyChangePublic(key=KeyPublic.of(change.key, {}), bundle_version=change.bundle.version)


@api.post(
    "/keys/{kid}/retire", response_model=KeyChangePublic, responses={401: {}, 403: {}, 404: {}, 409: {}}
)
def api_key_retire(
    kid: str, admin: AdminUser, session: SessionDep, settings: SettingsDep, now: ClockDep
) -> KeyChangePublic:
    """Retire a previous issuer key: every pass it signed stops verifying with the next trust bundle."""
    change = flows.retire_issuer(session=session, settings=settings, kid=kid, now=now)
    live = keyring.live_passes_by_key(session, now)
    return KeyChangePublic(key=KeyPublic.of(change.key, live), bundle_version=change.bundle.version)
