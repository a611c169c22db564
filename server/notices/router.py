"""The notices' portal pages: every user's notification list; the enterprise's notice settings (e-mail addresses,
webhook) with its deliveries; the administrator's log of every delivery. The ``web`` router also carries the
sender thread (``server.notices.sender``) into the serving app.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from server.accounts.models import ROLE_ADMIN, ROLE_ENTERPRISE, User
from server.deps import ClockDep, CurrentUser, PrincipalDep, SessionDep, SettingsDep, require
from server.errors import AppError
from server.notices import channels, sender
from server.notices import service as notices
from server.notices.models import CHANNELS, DELIVERY_STATES, Notice, NoticeConfig
from server.web.templating import lang_of, page

__all__ = ["web"]

web = APIRouter(include_in_schema=False, lifespan=sender.lifespan)

EnterpriseUser = Annotated[User, Depends(require(ROLE_ENTERPRISE))]
AdminUser = Annotated[User, Depends(require(ROLE_ADMIN))]
DeliveryId = Annotated[int, Path(ge=1, le=2**31 - 1)]
LIVE_SECONDS = 20


def _safe_link(link: str) -> str:
    return link if link.startswith("/") and not link.startswith("//") else ""


def _texts(request: Request, principal: PrincipalDep) -> dict[str, Any]:
    lang = lang_of(request, principal)

    def text(notice: Notice) -> tuple[str, str]:
        return notices.render(notice.kind, json.loads(notice.params), lang)

    return {"notice_text": text, "safe_link": _safe_link}


@web.get("/notices", response_class=HTMLResponse)
def notices_page(
    request: Request,
    user: CurrentUser,
    principal: PrincipalDep,
    session: SessionDep,
    partial: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    assert user.id is not None
    rows = notices.list_for(session, user.id)
    template = "notices/_list.html" if partial else "notices/list.html"
    return page(
        request,
        template,
        principal,
        rows=rows,
        unread=sum(n.read_at is None for n in rows),
        live_seconds=LIVE_SECONDS,
        **_texts(request, principal),
    )


@web.post("/notices/read")
def notices_read(
    user: CurrentUser,
    session: SessionDep,
    now: ClockDep,
    notice_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
    open: Annotated[int, Form(ge=0, le=1)] = 0,
) -> Response:
    assert user.id is not None
    notices.mark_read(session, user.id, now=now, notice_id=notice_id)
    target = "/notices"
    if open and notice_id is not None:
        notice = session.get(Notice, notice_id)
        target = (_safe_link(notice.link) if notice else "") or target
    return RedirectResponse(target, status_code=303)


def _settings_page(
    request: Request,
    principal: PrincipalDep,
    session: SessionDep,
    user: User,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    uscc = user.enterprise_uscc or ""
    config = session.get(NoticeConfig, uscc)
    form = context.pop("form", None) or {
        "emails": (config.emails if config else "").replace(",", ", "),
        "webhook_url": config.webhook_url if config else "",
    }
    return page(
        request,
        "notices/settings.html",
        principal,
        status=status,
        form=form,
        has_secret=bool(config and config.webhook_secret_sealed),
        deliveries=channels.deliveries(session, uscc=uscc, limit=100),
        **context,
    )


@web.get("/enterprise/notices", response_class=HTMLResponse)
def notice_settings(
    request: Request,
    user: EnterpriseUser,
    principal: PrincipalDep,
    session: SessionDep,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    return _settings_page(request, principal, session, user, done=done if done in ("saved", "retry") else "")


@web.post("/enterprise/notices", response_class=HTMLResponse)
def notice_settings_save(
    request: Request,
    user: EnterpriseUser,
    principal: PrincipalDep,
    session: SessionDep,
    settings: SettingsDep,
    now: ClockDep,
    emails: Annotated[str, Form(max_length=1000)] = "",
    webhook_url: Annotated[str, Form(max_length=1000)] = "",
    new_secret: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    form = {"emails": emails, "webhook_url": webhook_url}
    try:
        secret = channels.save(
            session,
            settings,
            user.enterprise_uscc or "",
            emails=emails,
            webhook_url=webhook_url,
            new_secret=bool(new_secret),
            now=now,
        )
    except AppError as err:
        session.rollback()
        return _settings_page(
            request,
            principal,
            session,
            user,
            status=err.status,
            form=form,
            errors=err.fields,
            failure=err.code,
        )
    if secret is None:
        return RedirectResponse("/enterprise/notices?done=saved", status_code=303)
    # Answered with the page itself, not a redirect: the secret must not travel in a URL or be shown twice.
    return _settings_page(request, principal, session, user, secret=secret, done="saved")


@web.post("/enterprise/notices/deliveries/{delivery_id}/retry")
def notice_delivery_retry(
    delivery_id: DeliveryId, user: EnterpriseUser, session: SessionDep, now: ClockDep
) -> Response:
    channels.retry(session, delivery_id, now=now, uscc=user.enterprise_uscc or "")
    return RedirectResponse("/enterprise/notices?done=retry", status_code=303)


@web.get("/admin/notices", response_class=HTMLResponse)
def deliveries_page(
    request: Request,
    _: AdminUser,
    principal: PrincipalDep,
    session: SessionDep,
    state: Annotated[str, Query(max_length=10)] = "",
    channel: Annotated[str, Query(max_length=10)] = "",
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    state = state if state in DELIVERY_STATES else ""
    channel = channel if channel in CHANNELS else ""
    return page(
        request,
        "notices/deliveries.html",
        principal,
        rows=channels.deliveries(session, state=state or None, channel=channel or None),
        states=DELIVERY_STATES,
        channels=CHANNELS,
        state=state,
        channel=channel,
        done=done == "retry",
    )


@web.post("/admin/notices/{delivery_id}/retry")
def deliveries_retry(delivery_id: DeliveryId, _: AdminUser, session: SessionDep, now: ClockDep) -> Response:
    channels.retry(session, delivery_id, now=now)
    return RedirectResponse("/admin/notices?done=retry", status_code=303)
