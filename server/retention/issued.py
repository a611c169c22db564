"""Retention of applications and issued passes: the people on them go once nobody needs them any more.

- An issued pass is needed, people and all, while it can be shown at a checkpoint and for the retention period
  after that (its crossings are audited against it): its people go once ``valid_until`` is older than the cutoff,
  revoked or not. The row stays, for the revocation list, the counts and the audit: pass id, serial, key, plate,
  enterprise, times. ``qr_text`` goes whole (the signed QR names the people and cannot be edited), and with it
  printing and replaying the pass.
- An application goes with its pass, or, rejected, once its decision is older than the cutoff. Drafts and
  applications waiting for review are the enterprise's work in progress and stay.
What stays of a body is what statistics need: enterprise, vehicle (plate, colour), origin, destination, cargo, the
validity window, how many escorts there were, and of a bus (issue 14) its seats, stations and how many passengers
it carried. Names, ID and licence numbers (the masked ones too), phones and
travel histories go; so do the sealed full numbers and the ID-number hashes (``server.applications.people``), and
the free-text reasons given for the decision and for a revocation, which may name people too. A bus pass's signed
manifest pages (``pass_manifest_page``) go whole with its ``qr_text``: they name every passenger.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlmodel import Session, col, select

from server.applications import desk_index, people
from server.applications.models import REJECTED, Application, ApplicationEvent, PersonHash
from server.documents import service as documents
from server.passes.models import IssuedPass, ManifestPage, Revocation

__all__ = [
    "BATCH",
    "blank_body",
    "blank_claims",
    "count_applications",
    "count_passes",
    "purge_applications",
    "purge_passes",
]

BATCH = 500


def _blank_person(person: Any, keys: tuple[str, ...]) -> dict[str, str]:
    return dict.fromkeys(keys, "") if isinstance(person, dict) else {}


_PASSENGER = ("name", "id_number", "phone", "origin")


def _blank_bus(bus: Any) -> Any:
    """A bus (application or claims) without its on-board manager; seats, stations and counts stay."""
    if not isinstance(bus, dict):
        return bus
    return {**bus, "manager": _blank_person(bus.get("manager"), ("name", "id_number", "phone"))}


def _blank_passenger(passenger: Any) -> dict[str, Any]:
    return (
        {**_blank_person(passenger, _PASSENGER), "travel_history": []} if isinstance(passenger, dict) else {}
    )


def blank_body(body: dict[str, Any]) -> dict[str, Any]:
    """An application body (``ApplicationCreate`` as JSON) without its people: the same shape, blanked. A bus's
    passengers keep their places (how many there were), each blanked whole, origin too."""
    escorts = body.get("escorts") or []
    blank = {
        **body,
        "driver": _blank_person(body.get("driver"), ("name", "id_number", "licence_number", "phone")),
        "escorts": [_blank_person(escort, ("name", "id_number")) for escort in escorts],
        "travel_history": [],
    }
    if "bus" in body:
        blank["bus"] = _blank_bus(body["bus"])
    if isinstance(body.get("passengers"), list):
        blank["passengers"] = [_blank_passenger(p) for p in body["passengers"]]
    return blank


def blank_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """A pass's readable claims (``PassClaims.readable``) without its people: the same shape, blanked."""
    escorts = claims.get("escorts") or []
    blank = {
        **claims,
        "driver": _blank_person(claims.get("driver"), ("name", "id_number", "licence_number")),
        "escorts": [_blank_person(escort, ("name", "id_number")) for escort in escorts],
        "travel_history": [],
    }
    if "bus" in claims:
        blank["bus"] = _blank_bus(claims["bus"])
    return blank


def _reblank(text: str, blank: Any) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    return json.dumps(blank(data) if isinstance(data, dict) else {}, ensure_ascii=False)


def _expired_passes(cutoff: datetime) -> Any:
    return select(IssuedPass.pass_id).where(col(IssuedPass.valid_until) < cutoff)


def _old_application(cutoff: datetime) -> Any:
    rejected = (col(Application.status) == REJECTED) & (
        func.coalesce(col(Application.decided_at), col(Application.updated_at)) < cutoff
    )
    return col(Application.purged_at).is_(None) & or_(
        rejected, col(Application.pass_id).in_(_expired_passes(cutoff))
    )


def _old_pass(cutoff: datetime) -> Any:
    return col(IssuedPass.purged_at).is_(None) & (col(IssuedPass.valid_until) < cutoff)


def count_applications(session: Session, cutoff: datetime) -> int:
    query = select(func.count()).select_from(Application).where(_old_application(cutoff))
    return int(session.exec(query).one())


def count_passes(session: Session, cutoff: datetime) -> int:
    return int(session.exec(select(func.count()).select_from(IssuedPass).where(_old_pass(cutoff))).one())


def purge_applications(session: Session, cutoff: datetime, now: datetime) -> int:
    purged = 0
    while True:
        batch = list(session.exec(select(Application).where(_old_application(cutoff)).limit(BATCH)))
        if not batch:
            return purged
        for application in batch:
            people.forget(session, application.id or 0)  # the sealed numbers and their hashes
            documents.delete_for_application(session, application.id or 0)  # the files go at the commit
            application.body_json = _reblank(application.body_json, blank_body)
            application.reason, application.purged_at = "", now
            # The review queue's copy of the names and the travel history goes with them (the plate stays).
            indexed = desk_index.columns(application.body_json)
            application.search_text, application.regions = indexed["search_text"], indexed["regions"]
            session.add(application)
        session.execute(
            update(ApplicationEvent)
            .where(col(ApplicationEvent.application_id).in_([a.id for a in batch]))
            .values(reason="")
        )
        session.commit()
        purged += len(batch)


def purge_passes(session: Session, cutoff: datetime, now: datetime) -> int:
    purged = 0
    while True:
        batch = list(session.exec(select(IssuedPass).where(_old_pass(cutoff)).limit(BATCH)))
        if not batch:
            return purged
        for record in batch:
            record.claims_json = _reblank(record.claims_json, blank_claims)
            record.application_json = _reblank(record.application_json, blank_body)
            record.qr_text, record.people_sealed, record.purged_at = "", people.PURGED, now
            session.add(record)
        ids = [record.pass_id for record in batch]
        session.execute(delete(PersonHash).where(col(PersonHash.pass_id).in_(ids)))
        session.execute(delete(ManifestPage).where(col(ManifestPage.pass_id).in_(ids)))
        session.execute(update(Revocation).where(col(Revocation.pass_id).in_(ids)).values(reason=""))
        session.commit()
        purged += len(batch)
