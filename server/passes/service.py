"""Issuing, finding and revoking passes.

``issue``, ``get_pass``, ``revoke`` and ``revoked_ids`` serve the CLI and the bundle; the portal and the API use
``visible_pass``, ``pass_view``, ``list_passes`` and ``revoke_pass``, which apply who may see and revoke what.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from passcore import ids, manifest, wire
from passcore.claims import PASS_ID_BYTES, Bus, Driver, PassClaims, Person
from passcore.errors import InputError
from passcore.keys import Signer
from passcore.policy import Policy
from server.accounts.models import ROLE_ADMIN, ROLE_ENTERPRISE, ROLE_REVIEWER, User
from server.applications import people
from server.applications.bus import check_seats
from server.applications.models import ISSUED, REVOKED, Application, ApplicationEvent
from server.applications.schemas import ApplicationCreate
from server.config import Settings
from server.enterprises import service as enterprises
from server.errors import BadRequest, Conflict, Forbidden, NotFound
from server.passes import card, views
from server.passes.models import IssuedPass, ManifestPage, Revocation
from server.passes.views import PASS_STATUSES, PassView, status_of
from server.policy import service as policy_service

__all__ = [
    "PASS_STATUSES",
    "Issued",
    "PassView",
    "can_revoke",
    "delivery_file",
    "get_pass",
    "issue",
    "list_passes",
    "manifest_file",
    "manifest_pages",
    "manifest_passengers",
    "pass_view",
    "revoke",
    "revoke_pass",
    "revoked_ids",
    "status_of",
    "visible_pass",
]

PASS_ID_RE_LEN = PASS_ID_BYTES * 2


@dataclass(frozen=True)
class Issued:
    record: IssuedPass
    claims: PassClaims
    qr_text: str
    manifest: tuple[
        str, ...
    ] = ()  # a bus pass's signed manifest pages (CPM1 texts), in order; () for freight


def manifest_passengers(application: ApplicationCreate) -> tuple[manifest.Passenger, ...]:
    """The manifest as the pages carry it: names, masked ID numbers and region codes, in the application's order."""
    return tuple(
        manifest.Passenger(p.name, ids.mask_id(p.id_number), p.origin, tuple(p.travel_history))
        for p in application.passengers
    )


def _bus(application: ApplicationCreate, passengers: tuple[manifest.Passenger, ...]) -> Bus | None:
    bus = application.bus
    if application.kind != "personnel" or bus is None:
        return None
    return Bus(
        seats=bus.seats,
        departure=bus.departure,
        arrival=bus.arrival,
        manager=Person(bus.manager.name, ids.mask_id(bus.manager.id_number)),
        digest=manifest.digest(passengers),
        pages=manifest.page_count(len(passengers)),
        passengers=len(passengers),
    )


def _sign_pages(claims: PassClaims, application: ApplicationCreate, signer: Signer) -> tuple[str, ...]:
    """A bus pass's manifest pages, signed by the pass's key and bound to it (its id and digest); () for freight."""
    if claims.bus is None:
        return ()
    return tuple(manifest.encode_pages(claims, manifest_passengers(application), signer))


def build_claims(
    application: ApplicationCreate, *, pass_id: str, serial: str, issuer: str, now: datetime
) -> PassClaims:
    """What the QR carries: masked numbers and codes only; full ID numbers stay in the database. A bus's
    passengers are not on it: the pass binds them by digest, page and passenger count (``passcore.manifest``)."""
    driver = application.driver
    return PassClaims(
        pass_id=pass_id,
        serial=serial,
        issuer=issuer,
        issued_at=now,
        valid_from=application.valid_from,
        valid_until=application.valid_until,
        plate=application.vehicle.plate,
        plate_colour=application.vehicle.plate_colour,
        driver=Driver(driver.name, ids.mask_id(driver.id_number), ids.mask_id(driver.licence_number.upper())),
        escorts=tuple(Person(e.name, ids.mask_id(e.id_number)) for e in application.escorts),
        enterprise=application.enterprise.uscc,
        origin=application.origin,
        destination=application.destination,
        travel_history=tuple(application.travel_history),
        bus=_bus(application, manifest_passengers(application)),
    )


def check_window(application: ApplicationCreate, policy: Policy, now: datetime) -> None:
    if application.valid_until <= now:
        raise InputError("the validity window is already over", code="APPLICATION_INVALID")
    if application.valid_until - application.valid_from > timedelta(days=policy.max_validity_days):
        raise InputError(
            f"a pass is valid for at most {policy.max_validity_days} days under the current policy",
            code="APPLICATION_INVALID",
        )


def _next_serial(session: Session, region: str) -> str:
    count = session.exec(
        select(func.count()).select_from(IssuedPass).where(IssuedPass.serial.startswith(f"{region}-"))
    ).one()  # type: ignore[attr-defined]
    return f"{region}-{count + 1:06d}"


def issue(
    *,
    session: Session,
    application: ApplicationCreate,
    signer: Signer,
    policy: Policy,
    issuer_region: str,
    now: datetime,
) -> Issued:
    """Sign a pass for ``application`` and record it (with the enterprise, now verified). A bus pass's manifest
    pages are signed by the same key in the same moment, bound to the pass by its id and digest, and stored."""
    check_window(application, policy, now)
    check_seats(application, policy)  # approval checks it too; `checkpass issue` comes here directly
    enterprises.record_verified(
        session=session,
        uscc=application.enterprise.uscc,
        name=application.enterprise.name,
        contact="",
        phone="",
        now=now,
    )
    now = now.replace(microsecond=0)  # the CWT carries whole seconds
    for _attempt in range(5):
        claims = build_claims(
            application,
            pass_id=secrets.token_hex(PASS_ID_BYTES),
            serial=_next_serial(session, issuer_region),
            issuer=issuer_region,
            now=now,
        )
        qr_text = wire.encode(claims, signer)
        pages = _sign_pages(claims, application, signer)
        masked, sealed, numbers = people.seal_pass(session, claims.pass_id, application)
        record = IssuedPass(
            pass_id=claims.pass_id,
            serial=claims.serial,
            kid=signer.kid.hex(),
            enterprise_uscc=claims.enterprise,
            plate=claims.plate,
            claims_json=json.dumps(claims.readable(), ensure_ascii=False),
            application_json=masked,
            people_sealed=sealed,
            qr_text=qr_text,
            issued_at=now,
            valid_from=claims.valid_from,
            valid_until=claims.valid_until,
        )
        try:
            with session.begin_nested():  # a concurrent issuer may take the same serial: try the next one
                session.add(record)
        except IntegrityError:
            continue
        people.index(session, numbers, pass_id=record.pass_id)
        for number, text in enumerate(pages, start=1):
            session.add(ManifestPage(pass_id=record.pass_id, number=number, text=text))
        session.flush()
        return Issued(record, claims, qr_text, pages)
    raise InputError("could not allocate a pass number; try again", code="SERIAL_CONFLICT")


def get_pass(session: Session, pass_id: str) -> IssuedPass:
    key = pass_id.strip().lower()
    record = session.get(IssuedPass, key) if len(key) == PASS_ID_RE_LEN else None
    if record is None:
        raise InputError(f"no pass with id {pass_id!r}", code="PASS_NOT_FOUND")
    return record


def manifest_pages(session: Session, pass_id: str) -> list[str]:
    """The signed manifest pages of a bus pass, in order; [] for a freight pass or after retention."""
    query = (
        select(ManifestPage.text).where(ManifestPage.pass_id == pass_id).order_by(col(ManifestPage.number))
    )
    return list(session.exec(query))


def revoke(
    *, session: Session, pass_id: str, reason: str, by: str, now: datetime, actor_id: int | None = None
) -> tuple[Revocation, bool]:
    """Revoke a pass (not committed); revoking again changes nothing. Returns the revocation and whether it is new.

    The pass's application, if it came from one, moves to revoked with an event: its history is the one place a
    clerk or an auditor reads what happened to it.
    """
    record = get_pass(session, pass_id)
    existing = session.get(Revocation, record.pass_id)
    if existing is not None:
        return existing, False
    revocation = Revocation(pass_id=record.pass_id, revoked_at=now, reason=reason[:500], revoked_by=by)
    session.add(revocation)
    application = session.get(Application, record.application_id) if record.application_id else None
    if application is not None and application.status == ISSUED:
        session.add(
            ApplicationEvent(
                application_id=application.id or 0,
                at=now,
                actor_id=actor_id,
                from_status=application.status,
                to_status=REVOKED,
                reason=reason[:500],
            )
        )
        application.status, application.updated_at = REVOKED, now
        session.add(application)
    session.flush()
    return revocation, True


def revoked_ids(session: Session) -> list[str]:
    return list(session.exec(select(Revocation.pass_id).order_by(Revocation.pass_id)))


def revocations_mark(session: Session) -> tuple[int, datetime | None]:
    """How many revocations and the newest one's time: revocations are only added, so this changes with the list."""
    count, newest = session.exec(select(func.count(), func.max(Revocation.revoked_at))).one()
    return count, newest


REVOKERS = (ROLE_ENTERPRISE, ROLE_REVIEWER, ROLE_ADMIN)  # auditors look, they do not act
MAX_REASON = 500


def visible_pass(*, session: Session, pass_id: str, viewer: User) -> IssuedPass:
    """The pass, or NotFound when it does not exist *or* belongs to another enterprise (no existence leak)."""
    record = session.exec(
        select(IssuedPass).where(IssuedPass.pass_id == views.key(pass_id), views.scope(viewer))
    ).first()
    if record is None:
        raise NotFound("no such pass", code="PASS_NOT_FOUND")
    return record


def pass_view(*, session: Session, pass_id: str, viewer: User, now: datetime) -> PassView:
    row = session.exec(views.views(viewer).where(IssuedPass.pass_id == views.key(pass_id))).first()
    if row is None:
        raise NotFound("no such pass", code="PASS_NOT_FOUND")
    record, revocation, name = row
    found = views.view(record, revocation, name, now)
    return replace(found, manifest=tuple(manifest_pages(session, record.pass_id)))


def list_passes(
    *,
    session: Session,
    viewer: User,
    now: datetime,
    query: str = "",
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[PassView]:
    """Newest first; ``query`` is a pass number, a plate or a pass id (see ``views.search``)."""
    if status is not None and status not in PASS_STATUSES:
        raise BadRequest("unknown status", code="STATUS_INVALID", fields={"status": "passes_status_invalid"})
    statement = views.views(viewer)
    text = query.replace("\x00", "").strip()[:40]  # PostgreSQL refuses NUL even in a LIKE pattern
    if text:
        statement = statement.where(views.search(text))
    if status is not None:
        statement = statement.where(views.status_filter(status, now))
    statement = (
        statement.order_by(col(IssuedPass.issued_at).desc(), col(IssuedPass.serial).desc())
        .offset(offset)
        .limit(limit)
    )
    return [views.view(record, revocation, name, now) for record, revocation, name in session.exec(statement)]


def can_revoke(viewer: User) -> bool:
    """Whether ``viewer`` may revoke the passes it can see (its own, for an enterprise)."""
    return viewer.role in REVOKERS


def revoke_pass(*, session: Session, pass_id: str, viewer: User, reason: str, now: datetime) -> Revocation:
    """Revoke a pass with a reason, recording who; the next trust bundle carries it to the checkpoints."""
    record = visible_pass(session=session, pass_id=pass_id, viewer=viewer)
    if not can_revoke(viewer):
        raise Forbidden("auditors cannot revoke passes", code="ROLE_FORBIDDEN")
    reason = reason.strip()
    # Control characters (NUL above all, which PostgreSQL cannot store) have no place in a reason someone reads.
    if not reason or len(reason) > MAX_REASON or not ids.usable_text(reason, multiline=True):
        raise BadRequest(
            "give the reason for revoking (up to 500 characters)",
            code="REASON_REQUIRED",
            fields={"reason": "passes_reason_required"},
        )
    try:
        revocation, new = revoke(
            session=session,
            pass_id=record.pass_id,
            reason=reason,
            by=viewer.username,
            now=now,
            actor_id=viewer.id,
        )
        if not new:
            raise Conflict("the pass is already revoked", code="PASS_ALREADY_REVOKED")
        session.commit()
    except IntegrityError as err:  # revoked by someone else a moment ago
        session.rollback()
        raise Conflict("the pass is already revoked", code="PASS_ALREADY_REVOKED") from err
    return revocation


def delivery_file(
    *, session: Session, pass_id: str, viewer: User, kind: card.Format, settings: Settings, page: str = "A5"
) -> card.DeliveryFile:
    """A PNG, SVG or PDF of a pass the viewer can see. A revoked pass is not handed out again for printing."""
    record = _printable(session, pass_id, viewer)
    hotline = policy_service.current(session).service_hotline
    pages = manifest_pages(session, record.pass_id) if kind == "pdf" else []
    return card.render_file(record, kind, settings, page=page, hotline=hotline, pages=pages)


def _printable(session: Session, pass_id: str, viewer: User) -> IssuedPass:
    """A pass the viewer can see and may still print: not purged (its QR named people), not revoked."""
    record = visible_pass(session=session, pass_id=pass_id, viewer=viewer)
    if record.purged_at is not None:
        raise Conflict("this pass expired long ago and can no longer be downloaded", code="PASS_PURGED")
    if session.get(Revocation, record.pass_id) is not None:
        raise Conflict("this pass is revoked and can no longer be downloaded", code="PASS_REVOKED")
    return record


def manifest_file(
    *, session: Session, pass_id: str, viewer: User, kind: card.ManifestFormat, number: int | None = None
) -> card.DeliveryFile:
    """A bus pass's manifest: ``txt`` every page's text one a line (``number`` None), or page ``number``'s QR as
    PNG or SVG (for a phone, or to print one page again). NotFound for a freight pass or a page it does not have."""
    record = _printable(session, pass_id, viewer)
    pages = manifest_pages(session, record.pass_id)
    if not pages:
        raise NotFound("this pass has no passenger manifest", code="MANIFEST_NOT_FOUND")
    if kind == "txt":
        return card.manifest_text(record, pages)
    if number is None or not 1 <= number <= len(pages):
        raise NotFound("no such manifest page", code="MANIFEST_PAGE_NOT_FOUND")
    return card.manifest_page_file(record, pages[number - 1], number, kind)
