"""Which application and escort changes become notices (issue 13), called from the places that make them.

Called inside the caller's transaction, after its change is written: the notices go with it or not at all.
Parameters are plain strings: numbers, plates, names of enterprises and checkpoints; never a person's ID number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_
from sqlmodel import Session, col, select

from passcore import ids
from server.accounts.models import ROLE_REVIEWER
from server.enterprises.models import Enterprise
from server.notices import service as notices
from server.passes.models import IssuedPass

__all__ = ["application_moved", "escort_answered", "escorts_requested"]

SUBMITTED, ISSUED, REJECTED = "submitted", "issued", "rejected"  # server.applications.models' statuses


def application_moved(
    session: Session, application: Any, old: str, to: str, *, reason: str, now: datetime
) -> None:
    """A submission tells the reviewers; an issued pass and a rejection tell the enterprise."""
    if to not in (SUBMITTED, ISSUED, REJECTED):
        return
    enterprise = session.get(Enterprise, application.enterprise_uscc)
    params = {
        "id": str(application.id),
        "plate": ids.format_plate(application.plate),
        "enterprise": enterprise.name if enterprise else application.enterprise_uscc,
    }
    if to == SUBMITTED:
        notices.notify(
            session,
            "application.submitted",
            params,
            now=now,
            link=f"/review/applications/{application.id}",
            role=ROLE_REVIEWER,
        )
        return
    if to == ISSUED:
        issued = session.exec(select(IssuedPass).where(IssuedPass.application_id == application.id)).first()
        params["serial"] = issued.serial if issued else ""
        kind = "application.approved"
    else:
        params["reason"] = reason
        kind = "application.rejected"
    notices.notify(
        session,
        kind,
        params,
        now=now,
        link=f"/enterprise/applications/{application.id}",
        enterprise_uscc=application.enterprise_uscc,
    )


def _escort_params(session: Session, escort: Any) -> dict[str, str]:
    from server.checkpoints.models import Checkpoint
    from server.crossings.models import Crossing

    checkpoint = session.get(Checkpoint, escort.checkpoint_id)
    crossing = session.get(Crossing, escort.crossing_id)
    issued = session.get(IssuedPass, crossing.pass_id) if crossing and crossing.pass_id else None
    return {
        "plate": ids.format_plate(escort.plate),
        "checkpoint": checkpoint.name if checkpoint else "",
        "serial": issued.serial if issued else "",
    }


def escorts_requested(
    session: Session, crossing_ids: list[str], *, received_at: datetime, now: datetime
) -> None:
    """Checkpoints ask enterprises to come and take vehicles over: time-critical ("不滞留"). One query for all of an
    upload's requests (with their checkpoint's name and their pass's serial), not a few per request. The crossings
    were ``received_at`` in this upload: naming it lets PostgreSQL read that day's partition alone."""
    # (sqlmodel's select is typed for up to four columns, hence the ignore below.)
    from server.checkpoints.models import Checkpoint
    from server.crossings.models import Crossing, EscortRequest

    if not crossing_ids:
        return
    query = (
        select(  # type: ignore[call-overload]
            EscortRequest.id,
            EscortRequest.plate,
            EscortRequest.enterprise_uscc,
            Checkpoint.name,
            IssuedPass.serial,
        )
        .outerjoin(Checkpoint, col(Checkpoint.id) == col(EscortRequest.checkpoint_id))
        .outerjoin(
            Crossing,
            and_(
                col(Crossing.id) == col(EscortRequest.crossing_id), col(Crossing.received_at) == received_at
            ),
        )
        .outerjoin(IssuedPass, col(IssuedPass.pass_id) == col(Crossing.pass_id))
        .where(
            col(EscortRequest.crossing_id).in_(crossing_ids), col(EscortRequest.enterprise_uscc).is_not(None)
        )
        .order_by(col(EscortRequest.id))
    )
    notices.notify_enterprises(
        session,
        "escort.requested",
        [
            (
                {"plate": ids.format_plate(plate), "checkpoint": checkpoint or "", "serial": serial or ""},
                f"/enterprise/escorts/{escort_id}",
                uscc,
            )
            for escort_id, plate, uscc, checkpoint, serial in session.exec(query)
        ],
        now=now,
    )


def escort_answered(session: Session, escort: Any, *, eta: str, now: datetime) -> None:
    """One of the enterprise's users answered (who goes, when): the others learn someone is on it."""
    if not escort.enterprise_uscc:
        return
    notices.notify(
        session,
        "escort.answered",
        {**_escort_params(session, escort), "eta": eta},
        now=now,
        link=f"/enterprise/escorts/{escort.id}",
        enterprise_uscc=escort.enterprise_uscc,
    )
