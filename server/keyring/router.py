"""Signing keys for the administrator: the list, rotation and retirement (portal and API).

Each change signs a new trust bundle version at once, so checkpoints learn of it at their next fetch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from server import flows
from server.accounts.models import ROLE_ADMIN, User
from server.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep, require
from server.keyring import service as keyring
from server.keyring.models import KeyRecord
from server.web.pages import page

web = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["keys"])

AdminUser = Annotated[User, Depends(require(ROLE_ADMIN))]


@web.get("/admin/keys", response_class=HTMLResponse)
def key_list(
    request: Request,
    principal: PrincipalDep,
    admin: AdminUser,
    session: SessionDep,
    now: ClockDep,
    done: str = "",
    bundle: int = 0,
) -> Response:
    return page(
        request,
        "admin/keys.html",
        principal,
        keys=keyring.list_keys(session),
        live=keyring.live_passes_by_key(session, now),
        done=done if done in ("rotated", "retired") else "",
        bundle=bundle,
    )


@web.post("/admin/keys/rotate")
def key_rotate(admin: AdminUser, session: SessionDep, settings: SettingsDep, now: ClockDep) -> Response:
    change = flows.rotate_issuer(session=session, settings=settings, now=now)
    return RedirectResponse(f"/admin/keys?done=rotated&bundle={change.bundle.version}", status_code=303)


@web.post("/admin/keys/{kid}/retire")
def key_retire(
    kid: str, admin: AdminUser, session: SessionDep, settings: SettingsDep, now: ClockDep
) -> Response:
    change = flows.retire_issuer(session=session, settings=settings, kid=kid, now=now)
    return RedirectResponse(f"/admin/keys?done=retired&bundle={change.bundle.version}", status_code=303)


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
        )


class KeyChangePublic(BaseModel):
    key: KeyPublic
    bundle_version: int = Field(description="the trust bundle version that announces the change")


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
