"""Rendering portal pages: the template environment, the user's language, CSRF token and display helpers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from passcore import ids
from server import pdf_font
from server.deps import CSRF_COOKIE, Principal, csrf_value, secure_cookies
from server.web.i18n import LANGS, translate

__all__ = ["LANG_COOKIE", "lang_of", "page", "templates"]

LANG_COOKIE = "cp_lang"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")  # autoescape is on for .html
# The characters of a name the printed pass cannot show, for the message beside the field (server/pdf_font.py).
templates.env.globals["unprintable"] = lambda text: pdf_font.unrenderable(str(text or ""))


def lang_of(request: Request, principal: Principal | None = None) -> str:
    for candidate in (
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        principal.user.lang if principal and principal.user else None,
    ):
        if candidate in LANGS:
            return candidate  # type: ignore[return-value]
    return "zh"


def _local(moment: datetime | None, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") if moment else ""


def _region(code: str | None) -> str:
    return f"{ids.region_name(code)} ({code})" if code else ""


def _unread_notices(request: Request, principal: Principal) -> int:
    """The signed-in user's unread notices, for the bell in the header (asked only by pages that show it)."""
    from server.notices.service import unread_count  # the notices import the catalogue from this package

    if principal.user is None or principal.user.id is None:
        return 0
    with Session(request.app.state.engine) as session:
        return unread_count(session, principal.user.id)


def page(
    request: Request, name: str, principal: Principal, *, status: int = 200, **context: Any
) -> HTMLResponse:
    lang = lang_of(request, principal)
    zone = request.app.state.settings.timezone
    csrf = csrf_value(request, principal)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": lambda key, **values: translate(key, lang, **values),
            "user": principal.user,
            "csrf": csrf,
            "local": lambda moment: _local(moment, zone),
            "region": _region,
            "plate": lambda p: ids.format_plate(p) if p else "",
            "errors": {},
            "unread_notices": lambda: _unread_notices(request, principal),
            **context,
        },
        status_code=status,
    )
    if principal.web is None and request.cookies.get(CSRF_COOKIE) != csrf:
        response.set_cookie(
            CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=secure_cookies(request)
        )
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", secure=secure_cookies(request)
        )
    return response
