"""The driver's link in the portal: the enterprise makes and revokes links on its pass's page; the driver's phone
opens ``/d/<token>`` without signing in, and the page asks ``/d/<token>/status`` for the pass's state while online.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path as PathLib
from typing import Annotated

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from server.deps import ClockDep, CurrentUser, PrincipalDep, SessionDep, SettingsDep
from server.driver_links import service as links
from server.passes import render
from server.web.templating import page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)

Token = Annotated[str, Path(max_length=64)]
_WORKER = PathLib(__file__).resolve().parents[1] / "web" / "static" / "driver_sw.js"


def _png_uri(qr_text: str) -> str:
    """The pass's QR as a data: URI, so the page holds it and shows it with no network."""
    out = io.BytesIO()
    qr = render.qr_code(qr_text)
    qr.box_size = 8
    qr.make_image(fill_color="black", back_color="white").save(out)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _link_qr_uri(url: str) -> str:
    """A QR of the link itself, for the driver to scan from the clerk's screen."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image(image_factory=qrcode.image.svg.SvgPathFillImage).save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def link_url(request: Request, public_url: str, token: str) -> str:
    base = public_url.rstrip("/") if public_url else str(request.base_url).rstrip("/")
    return f"{base}/d/{token}"


@web.post("/enterprise/passes/{pass_id}/driver-links", response_class=HTMLResponse)
def create_link(
    request: Request,
    pass_id: str,
    principal: PrincipalDep,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
) -> Response:
    link, token = links.create(session=session, pass_id=pass_id, viewer=user, now=now)
    url = link_url(request, settings.public_url, token)
    # Shown once, in this answer only: the server keeps no copy of the token (and no-store keeps it out of caches).
    return page(request, "driver_links/created.html", principal, link=link, url=url, qr=_link_qr_uri(url))


@web.post("/enterprise/passes/{pass_id}/driver-links/{link_id}/revoke")
def revoke_link(
    pass_id: str,
    link_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
) -> Response:
    link = links.revoke(session=session, pass_id=pass_id, link_id=link_id, viewer=user, now=now)
    return RedirectResponse(f"/enterprise/passes/{link.pass_id}#driver-links", status_code=303)


@web.get("/d/sw.js", include_in_schema=False)
def phone_worker() -> Response:
    """The phone page's service worker, from /d/ so that it may control the pages under /d/."""
    return FileResponse(_WORKER, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@web.get("/d/{token}", response_class=HTMLResponse)
def phone_page(
    request: Request, token: Token, principal: PrincipalDep, session: SessionDep, now: ClockDep
) -> Response:
    found = links.open_link(session=session, token=token, now=now)
    qr = _png_uri(found.view.record.qr_text) if found.shows_qr and found.view.record.qr_text else ""
    return page(request, "driver_links/phone.html", principal, found=found, qr=qr, token=token)


@web.get("/d/{token}/status")
def phone_status(token: Token, session: SessionDep, now: ClockDep) -> dict[str, str]:
    found = links.open_link(session=session, token=token, now=now)
    return {
        "status": found.state,
        "valid_until": found.view.record.valid_until.isoformat(),
        "checked_at": now.isoformat(),
    }
