"""The crossings JSON API for checkpoint devices: crossing ingest, and escort requests with the enterprises'
answers and the hand-over."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from server.alerts import service as alerts
from server.checkpoints import service as checkpoints
from server.checkpoints.deps import CurrentDevice
from server.crossings import escorts
from server.crossings import service as crossings
from server.crossings.deps import CheckpointEscort
from server.crossings.models import EscortRequest
from server.crossings.schemas import (
    CrossingBatch,
    EscortEnterprise,
    EscortList,
    EscortPublic,
    HandoverPublic,
    HandoverRequest,
    IngestResponse,
    Moment,
    RecordResult,
)
from server.deps import ClockDep, SessionDep, SettingsDep
from server.enterprises.models import Enterprise
from server.ops import counters

__all__ = ["api"]

api = APIRouter(prefix="/api/v1", tags=["crossings"])
ESCORT_PAGE = 500  # escort requests per answer to a checkpoint; `more` says another page follows


@api.post(
    "/crossings",
    response_model=IngestResponse,
    responses={401: {}, 403: {}, 413: {}},
)
def ingest(
    body: CrossingBatch, device: CurrentDevice, session: SessionDep, settings: SettingsDep, now: ClockDep
) -> IngestResponse:
    """Upload up to 500 crossing records (device token). Idempotent: send a batch again as often as needed.

    Each record is answered in `results` (same order): `accepted`, `duplicate` (already stored, identical),
    `conflict` (id or seq already taken by other content: refused and flagged for the audit) or `invalid`
    (`code` says why, e.g. `SCHEMA_INVALID`, `HASH_MISMATCH`). The checkpoint is the device's, never the body's.
    """
    limits = alerts.Limits.of(settings)
    outcomes = crossings.ingest(
        session=session,
        device=device,
        records=body.records,
        now=now,
        limits=limits,
        audit_mode=settings.audit_mode,  # inline: audited before this answer; queue: by `checkpass worker`
    )
    counts = {
        status: 0
        for status in (crossings.ACCEPTED, crossings.DUPLICATE, crossings.CONFLICT, crossings.INVALID)
    }
    for outcome in outcomes:
        counts[outcome.status] += 1
    counters.count_ingest(counts)
    return IngestResponse(
        **counts,
        results=[RecordResult.model_validate(outcome, from_attributes=True) for outcome in outcomes],
    )


def _escort_public(escort: EscortRequest, enterprise: Enterprise | None) -> EscortPublic:
    return EscortPublic(
        id=escort.id or 0,
        crossing_id=escort.crossing_id,
        checkpoint_id=escort.checkpoint_id,
        plate=escort.plate,
        status=escort.status,  # type: ignore[arg-type]
        requested_at=escort.requested_at,
        enterprise=EscortEnterprise(
            uscc=enterprise.uscc, name=enterprise.name, contact=enterprise.contact, phone=enterprise.phone
        )
        if enterprise
        else None,
        staff_name=escort.staff_name,
        staff_phone=escort.staff_phone,
        eta=escort.eta,
        answered_at=escort.answered_at,
        handed_over_at=escort.handed_over_at,
        handover=HandoverPublic(
            staff_name=escort.handover_staff_name,
            staff_id_last4=escort.handover_staff_id_last4,
            officer=escort.handover_officer,
            waited_minutes=escorts.waited_minutes(escort, escort.handed_over_at),
        )
        if escort.handed_over_at
        else None,
    )


@api.get("/escorts", response_model=EscortList, responses={401: {}, 403: {}})
def device_escorts(
    device: CurrentDevice,
    session: SessionDep,
    now: ClockDep,
    since: Annotated[Moment | None, Query(description="server_time of the previous answer")] = None,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="the last id of the previous page, when it said `more`")
    ] = 0,
) -> EscortList:
    """Escort requests of the device's checkpoint with the enterprises' answers: those changed since `since`,
    or without it every request not yet handed over; in pages of up to 500, in id order."""
    checkpoints.touch_device(session=session, device=device, now=now)
    rows = escorts.for_checkpoint(session, device.checkpoint_id, since, after=after, limit=ESCORT_PAGE + 1)
    return EscortList(
        server_time=now,
        escorts=[_escort_public(e, enterprise) for e, enterprise in rows[:ESCORT_PAGE]],
        more=len(rows) > ESCORT_PAGE,
    )


@api.post(
    "/escorts/{escort_id}/handover",
    response_model=EscortPublic,
    responses={401: {}, 403: {}, 404: {}, 409: {}, 422: {}},
)
def handover(
    body: HandoverRequest, escort: CheckpointEscort, session: SessionDep, now: ClockDep
) -> EscortPublic:
    """Record the hand-over of the vehicle to the enterprise's staff (a device of the request's checkpoint): when,
    who took it over (`staff_name`, `staff_id_last4`) and the officer signed in (`officer`)."""
    escort = escorts.hand_over(
        session=session,
        escort=escort,
        at=body.at,
        now=now,
        staff_name=body.staff_name,
        staff_id_last4=body.staff_id_last4,
        officer=body.officer,
    )
    enterprise = session.get(Enterprise, escort.enterprise_uscc) if escort.enterprise_uscc else None
    return _escort_public(escort, enterprise)
