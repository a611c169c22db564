"""Signing keys for the administrator: the list, rotation and retirement (portal pages).

Each change signs a new trust bundle version at once, so checkpoints learn of it at their next fetch.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server import flows
from server.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep
from server.keyring import service as keyring
from server.keyring.deps import AdminUser
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)


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
