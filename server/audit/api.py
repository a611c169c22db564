"""The audit's JSON API under /api/v1/audit (bureau staff) and /api/v1/enterprise/crossings (an enterprise's own)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from passcore.reasons import describe
from server.audit import buses, export, queries, stats
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
from server.audit.schemas import (
    BusCountsPublic,
    BusPublic,
    ClaimedPublic,
    ConflictPublic,
    CrossingDetailPublic,
    CrossingPage,
    CrossingSummary,
    DailyRowPublic,
    Dashboard,
    EscortTimelinePublic,
    OccupantPublic,
    PassengerPublic,
    ReasonPublic,
)
from server.deps import ClockDep, SettingsDep, require_bureau
from server.enterprises import service as enterprises
from server.policy import service as policy_service
from server.web.i18n import translate

__all__ = ["api"]

api = APIRouter(prefix="/api/v1", tags=["audit"])
bureau = APIRouter(prefix="/audit", dependencies=[Depends(require_bureau)])
After = Annotated[str, Query(max_length=200, description="`next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=500)]
Lang = Annotated[str, Query(pattern="^(zh|en)$", description="language of words in the answer")]


def summary(row: queries.Row, *, full: bool = True) -> CrossingSummary:
    """``full=False``: an enterprise's view, without the officer and the device's name."""
    crossing = row.crossing
    return CrossingSummary(
        id=crossing.id,
        decided_at=crossing.decided_at,
        checkpoint_id=crossing.checkpoint_id,
        checkpoint=row.checkpoint_name,
        plate=crossing.plate,
        outcome=crossing.outcome,
        reasons=row.reasons,
        pass_id=crossing.pass_id,
        enterprise_uscc=crossing.enterprise_uscc,
        enterprise=row.enterprise_name,
        device_id=crossing.device_id,
        seq=crossing.seq,
        device_name=row.device_name if full else None,
        officer=crossing.officer if full else None,
        kind="personnel" if row.bus is not None else "freight",
        passengers=BusCountsPublic(**asdict(row.bus)) if row.bus is not None else None,
        bus_wait_seconds=row.wait_seconds,
    )


def _page(
    session: ReadSessionDep, f: queries.CrossingFilter, after: str, limit: int, *, full: bool = True
) -> CrossingPage:
    cursor = queries.Cursor.decode(after) if after else None
    found = queries.page(session, f, after=cursor, limit=limit)
    return CrossingPage(
        items=[summary(row, full=full) for row in found.rows],
        next_cursor=found.next.encode() if found.next else None,
    )


def detail_public(found: details.Detail, lang: str, replay: object = None) -> CrossingDetailPublic:
    crossing, body = found.crossing, found.body
    escort = found.escort
    return CrossingDetailPublic(
        **summary(
            queries.Row(
                crossing,
                found.checkpoint.name if found.checkpoint else "",
                found.enterprise.name if found.enterprise else None,
                body,
                found.device.name if found.device else "",
            ),
            full=found.device is not None,
        ).model_dump(),
        received_at=crossing.received_at,
        reasons_in_words=[ReasonPublic(code=code, message=describe(code, lang)) for code in found.reasons],
        verification=body.get("verification"),
        checks=body.get("checks") or {},
        vehicle_origin=body.get("vehicle_origin"),
        occupants=[
            OccupantPublic(
                role=o.role,
                name=o.name,
                temperature_c=float(o.temperature_c) if o.temperature_c is not None else None,
                fever=o.fever,
                origin=o.origin,
                travel_history=o.travel_history,
            )
            for o in found.occupants
        ],
        policy_version=crossing.policy_version,
        bundle_version=crossing.bundle_version,
        prev_hash=crossing.prev_hash,
        record_hash=crossing.record_hash,
        body_intact=found.body_intact,
        purged_at=crossing.purged_at,
        pass_serial=found.issued.serial if found.issued else None,
        escort=EscortTimelinePublic(
            id=escort.request.id or 0,
            status=escort.request.status,
            requested_at=escort.request.requested_at,
            answered_at=escort.request.answered_at,
            staff_name=escort.request.staff_name,
            eta=escort.request.eta,
            handed_over_at=escort.request.handed_over_at,
            waited_minutes=escort.waited_minutes,
            limit_minutes=escort.limit_minutes,
            over_limit=escort.over_limit,
            handover_staff_name=escort.request.handover_staff_name,
            handover_staff_id_last4=escort.taker_id_last4,
            handover_officer=escort.officer,
        )
        if escort
        else None,
        conflicts=[
            ConflictPublic(received_at=c.row.received_at, device_id=c.row.device_id, differing=c.differing)
            for c in found.conflicts
        ],
        replay=replay,  # type: ignore[arg-type]
        claimed=ClaimedPublic(**found.claimed) if found.claimed else None,
        referral=found.referral,
        repeat_of=found.repeat_of,
        absent=found.absent,
        unlisted=found.unlisted,
        bus=_bus_public(found.bus) if found.bus else None,
    )


def _bus_public(bus: buses.BusView) -> BusPublic:
    return BusPublic(
        manifest=bus.manifest,
        pages=bus.pages,
        seats=bus.seats,
        departure=bus.departure,
        arrival=bus.arrival,
        manager_name=bus.manager_name,
        manager_id_number=bus.manager_id,
        arrived_at=bus.arrived_at,
        wait_seconds=bus.wait_seconds,
        passengers=[
            PassengerPublic(
                number=p.number,
                name=p.name,
                id_number=p.id_masked,
                origin=p.origin,
                travel_history=p.travel_history,
                aboard=p.aboard,
                measured=p.measured,
                temperature_c=float(p.temperature_c) if p.temperature_c is not None else None,
                fever=p.fever,
                disposition=p.disposition,
                hard_hit=p.hard_hit,
            )
            for p in bus.passengers
        ],
    )


@bureau.get("/crossings", response_model=CrossingPage)
def crossing_list(
    raw: RawFilter, session: ReadSessionDep, settings: SettingsDep, after: After = "", limit: Limit = 50
) -> CrossingPage:
    """Crossings newest first, filtered; page on with `after` = the previous answer's `next_cursor`."""
    return _page(session, parse(session, raw, zone=settings.timezone), after, limit)


@bureau.get(
    "/crossings.csv", response_class=StreamingResponse, responses={200: {"content": {export.CSV_MEDIA: {}}}}
)
def crossing_csv(
    request: Request,
    raw: RawFilter,
    session: ReadSessionDep,
    settings: SettingsDep,
    now: ClockDep,
    lang: Lang = "zh",
) -> Response:
    """The filtered crossings as CSV (UTF-8 with BOM; formula-like cells prefixed with an apostrophe)."""
    f = parse(session, raw, zone=settings.timezone)
    return export.crossings_response(
        request.app.state.read_engine, f, settings.timezone, lang, "crossings", now
    )


@bureau.get("/crossings/{crossing_id}", response_model=CrossingDetailPublic, responses={404: {}})
def crossing_detail(
    crossing: BureauCrossing, session: ReadSessionDep, now: ClockDep, lang: Lang = "zh"
) -> CrossingDetailPublic:
    """One crossing with its occupants, reasons, escort timeline, conflicting uploads and the server's replay."""
    found = details.load(session, crossing, now=now)
    return detail_public(found, lang, replay_of(session, crossing))


@bureau.get("/dashboard", response_model=Dashboard)
def dashboard(raw: RawRange, session: ReadSessionDep, settings: SettingsDep, now: ClockDep) -> Dashboard:
    """The dashboard's numbers for a time range (default: the last 7 days; at most 92)."""
    span = span_of(raw, zone=settings.timezone, now=now)
    limit = policy_service.current(session).escort_wait_limit_minutes
    return Dashboard(
        start=span.start,
        end=span.end,
        unit=span.unit,
        escort_wait_limit_minutes=limit,
        totals=stats.totals(session, span, limit, now),
        per_hour_by_checkpoint={str(k): v for k, v in stats.per_hour_by_checkpoint(session, span).items()},
        outcomes=stats.outcomes_over_time(session, span),
        fever_by_day={str(k): v for k, v in stats.fever_by_day(session, span).items()},
        escort_wait_bins_minutes=stats.WAIT_BIN_MINUTES,
        escort_waits=stats.escort_waits(session, span, now),
        top_enterprises=[
            {"uscc": uscc, "name": name, "outcomes": counts}
            for uscc, name, counts in stats.top_enterprises(session, span)
        ],
    )


def _daily(
    session: ReadSessionDep, raw: dict[str, str], settings: SettingsDep, now: ClockDep
) -> list[stats.DailyRow]:
    span = span_of(raw, zone=settings.timezone, now=now)
    limit = policy_service.current(session).escort_wait_limit_minutes
    return stats.daily_summary(session, span, limit, now)


@bureau.get("/daily", response_model=list[DailyRowPublic])
def daily(
    raw: RawRange, session: ReadSessionDep, settings: SettingsDep, now: ClockDep
) -> list[DailyRowPublic]:
    """Crossings per local day and checkpoint, by outcome, with escort requests and those over the limit."""
    names = stats.checkpoint_names(session)
    return [
        DailyRowPublic(
            day=row.day,
            checkpoint_id=row.checkpoint_id,
            checkpoint=names.get(row.checkpoint_id, ""),
            total=row.total,
            outcomes=row.counts,
            escorts=row.escorts,
            escorts_over=row.escorts_over,
        )
        for row in _daily(session, raw, settings, now)
    ]


@bureau.get("/daily.csv", response_class=Response, responses={200: {"content": {export.CSV_MEDIA: {}}}})
def daily_csv(
    raw: RawRange, session: ReadSessionDep, settings: SettingsDep, now: ClockDep, lang: Lang = "zh"
) -> Response:
    """The daily summary per checkpoint as CSV (UTF-8 with BOM)."""
    text = export.daily_csv(
        _daily(session, raw, settings, now),
        stats.checkpoint_names(session),
        lambda key, **values: translate(key, lang, **values),
    )
    return export.text_response(text, export.filename("daily", now, settings.timezone))


api.include_router(bureau)


@api.get("/enterprise/crossings", response_model=CrossingPage, tags=["audit"])
def my_crossings(
    user: EnterpriseUser,
    raw: RawFilter,
    session: ReadSessionDep,
    settings: SettingsDep,
    after: After = "",
    limit: Limit = 50,
) -> CrossingPage:
    """The signed-in enterprise's own crossings (same filters as the bureau's list)."""
    since = enterprises.visible_since(session, user.enterprise_uscc)
    f = parse(session, raw, zone=settings.timezone).only_enterprise(user.enterprise_uscc or "", since)
    return _page(session, f, after, limit, full=False)


@api.get("/enterprise/crossings/{crossing_id}", response_model=CrossingDetailPublic, responses={404: {}})
def my_crossing(
    crossing: OwnedCrossing, session: ReadSessionDep, now: ClockDep, lang: Lang = "zh"
) -> CrossingDetailPublic:
    """One of the enterprise's own crossings (another enterprise's id answers 404)."""
    # Health data stays with the bureau: the enterprise learns the outcome and its reasons, not who had a fever.
    return detail_public(details.load(session, crossing, now=now, full=False), lang)
