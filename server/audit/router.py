"""HTTP routes of the audit: the bureau's portal pages under /audit (crossings, a crossing, the dashboard, the daily
summary, CSV exports) and an enterprise's own crossings under /enterprise/crossings."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from passcore.reasons import OUTCOMES, describe
from server.audit import dashboard, export, queries, report, router_report, stats
from server.audit import detail as details
from server.audit.deps import (
    BureauCrossing,
    EnterpriseUser,
    OwnedCrossing,
    RawFilter,
    RawRange,
    ReadSessionDep,
    span_of,
)
from server.audit.filters import parse
from server.audit.replaying import replay_of
from server.checkpoints.models import Checkpoint
from server.deps import ClockDep, PrincipalDep, SettingsDep, require_bureau
from server.enterprises import service as enterprises
from server.errors import AppError, NotFound
from server.policy import service as policy_service
from server.web.i18n import translate
from server.web.templating import lang_of, page

__all__ = ["web"]

web = APIRouter(include_in_schema=False)
bureau = APIRouter(prefix="/audit", dependencies=[Depends(require_bureau)])
After = Annotated[str, Query(max_length=200)]


def _query(raw: dict[str, str], **extra: str) -> str:
    return urlencode({key: value for key, value in (raw | extra).items() if value})


def _helpers(request: Request, principal: PrincipalDep, zone: str) -> dict[str, Any]:
    lang = lang_of(request, principal)
    local = ZoneInfo(zone)
    return {
        "reason": lambda code: describe(code, lang),
        "seconds": lambda moment: moment.astimezone(local).strftime("%Y-%m-%d %H:%M:%S") if moment else "",
        "outcomes": list(OUTCOMES),
    }


def _list_page(
    request: Request,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    raw: dict[str, str],
    after: str,
    *,
    scope: str,
    enterprise: str | None = None,
) -> Response:
    """The crossings list for the bureau (scope "audit") or one enterprise (scope "enterprise")."""
    base = "/audit/crossings" if scope == "audit" else "/enterprise/crossings"
    context: dict[str, Any] = {"form": raw, "rows": [], "next_url": "", "scope": scope, "base": base}
    context["checkpoints"] = session.exec(select(Checkpoint).order_by(col(Checkpoint.name))).all()
    context["export_url"] = f"{base}.csv?{_query(raw, lang=lang_of(request, principal))}"
    status = 200
    try:
        f = parse(session, raw, zone=settings.timezone)
        if enterprise is not None:
            f = f.only_enterprise(enterprise, enterprises.visible_since(session, enterprise))
        found = queries.page(session, f, after=queries.Cursor.decode(after) if after else None)
    except AppError as err:
        status, context["errors"], context["failure"] = err.status, err.fields, err.code
    else:
        context["rows"] = found.rows
        if found.next:
            context["next_url"] = f"{base}?{_query(raw, after=found.next.encode())}"
        context["paged"] = bool(after)
        context["first_url"] = f"{base}?{_query(raw)}"
    return page(
        request,
        "audit/crossings.html",
        principal,
        status=status,
        **context,
        **_helpers(request, principal, settings.timezone),
    )


@bureau.get("/crossings", response_class=HTMLResponse)
def crossings_page(
    request: Request,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    raw: RawFilter,
    after: After = "",
) -> Response:
    return _list_page(request, principal, session, settings, raw, after, scope="audit")


@bureau.get("/crossings.csv", response_class=Response)
def crossings_csv(
    request: Request,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    raw: RawFilter,
    now: ClockDep,
) -> Response:
    f = parse(session, raw, zone=settings.timezone)
    lang = lang_of(request, principal)
    return export.crossings_response(
        request.app.state.read_engine, f, settings.timezone, lang, "crossings", now
    )


def _detail_page(
    request: Request,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    found: details.Detail,
    **context: Any,
) -> Response:
    return page(
        request,
        "audit/detail.html",
        principal,
        d=found,
        c=found.crossing,
        **context,
        **_helpers(request, principal, settings.timezone),
    )


@bureau.get("/crossings/{crossing_id}", response_class=HTMLResponse)
def crossing_page(
    request: Request,
    crossing: BureauCrossing,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    now: ClockDep,
) -> Response:
    found = details.load(session, crossing, now=now)
    return _detail_page(
        request, principal, session, settings, found, replay=replay_of(session, crossing), scope="audit"
    )


@bureau.get("/crossings/{crossing_id}/passengers.csv", response_class=Response)
def crossing_passengers_csv(
    request: Request,
    crossing: BureauCrossing,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    now: ClockDep,
) -> Response:
    """A bus's roll as CSV (masked ID numbers); a freight crossing has none (404)."""
    found = details.load(session, crossing, now=now)
    if found.bus is None:
        raise NotFound("this crossing is not a bus", code="NOT_A_BUS")
    lang = lang_of(request, principal)
    text = export.passengers_csv(found.bus, lambda key, **values: translate(key, lang, **values))
    return export.text_response(
        text, export.filename(f"passengers-{crossing.id[:8]}", now, settings.timezone)
    )


@bureau.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    raw: RawRange,
    now: ClockDep,
) -> Response:
    helpers = _helpers(request, principal, settings.timezone)
    try:
        span = span_of(raw, zone=settings.timezone, now=now)
    except AppError as err:
        return page(
            request,
            "audit/dashboard.html",
            principal,
            status=err.status,
            form=raw,
            errors=err.fields,
            **helpers,
        )
    context = dashboard.context(session, span, now, lang_of(request, principal))
    return page(
        request, "audit/dashboard.html", principal, form=dashboard.range_form(span, raw), **context, **helpers
    )


@bureau.get("/daily", response_class=HTMLResponse)
def daily_page(
    request: Request,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    raw: RawRange,
    now: ClockDep,
) -> Response:
    helpers = _helpers(request, principal, settings.timezone)
    try:
        span = span_of(raw, zone=settings.timezone, now=now)
    except AppError as err:
        return page(
            request, "audit/daily.html", principal, status=err.status, form=raw, errors=err.fields, **helpers
        )
    limit = policy_service.current(session).escort_wait_limit_minutes
    form = dashboard.range_form(span, raw)
    return page(
        request,
        "audit/daily.html",
        principal,
        form=form,
        rows=stats.daily_summary(session, span, limit, now),
        names=stats.checkpoint_names(session),
        limit=limit,
        export_url=f"/audit/daily.csv?{_query(form, lang=lang_of(request, principal))}",
        report_day=report.yesterday(now, settings.timezone).isoformat(),
        **helpers,
    )


@bureau.get("/daily.csv", response_class=Response)
def daily_csv(
    request: Request,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    raw: RawRange,
    now: ClockDep,
) -> Response:
    lang = lang_of(request, principal)
    span = span_of(raw, zone=settings.timezone, now=now)
    limit = policy_service.current(session).escort_wait_limit_minutes
    text = export.daily_csv(
        stats.daily_summary(session, span, limit, now),
        stats.checkpoint_names(session),
        lambda key, **values: translate(key, lang, **values),
    )
    return export.text_response(text, export.filename("daily", now, settings.timezone))


web.include_router(bureau)
web.include_router(router_report.web)  # auditors and admins only: its own guard


# ---- an enterprise's own crossings ---------------------------------------------------------------------------


@web.get("/enterprise/crossings", response_class=HTMLResponse)
def my_crossings_page(
    request: Request,
    user: EnterpriseUser,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    raw: RawFilter,
    after: After = "",
) -> Response:
    return _list_page(
        request,
        principal,
        session,
        settings,
        raw,
        after,
        scope="enterprise",
        enterprise=user.enterprise_uscc or "",
    )


@web.get("/enterprise/crossings.csv", response_class=Response)
def my_crossings_csv(
    request: Request,
    user: EnterpriseUser,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    raw: RawFilter,
    now: ClockDep,
) -> Response:
    since = enterprises.visible_since(session, user.enterprise_uscc)
    f = parse(session, raw, zone=settings.timezone).only_enterprise(user.enterprise_uscc or "", since)
    lang = lang_of(request, principal)
    # Health data stays with the bureau: an enterprise's export has names but no temperatures.
    return export.crossings_response(
        request.app.state.read_engine, f, settings.timezone, lang, "my-crossings", now, health=False
    )


@web.get("/enterprise/crossings/{crossing_id}", response_class=HTMLResponse)
def my_crossing_page(
    request: Request,
    crossing: OwnedCrossing,
    principal: PrincipalDep,
    session: ReadSessionDep,
    settings: SettingsDep,
    now: ClockDep,
) -> Response:
    found = details.load(session, crossing, now=now, full=False)
    return _detail_page(request, principal, session, settings, found, replay=None, scope="enterprise")
