"""Issuing and revoking passes."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from passcore import ids, wire
from passcore.claims import PASS_ID_BYTES, Driver, PassClaims, Person
from passcore.errors import InputError
from passcore.keys import SigningKey
from passcore.policy import Policy
from server.applications.schemas import ApplicationCreate
from server.enterprises import service as enterprises
from server.passes.models import IssuedPass, Revocation

__all__ = ["Issued", "get_pass", "issue", "revoke", "revoked_ids"]

PASS_ID_RE_LEN = PASS_ID_BYTES * 2


@dataclass(frozen=True)
class Issued:
    record: IssuedPass
    claims: PassClaims
    qr_text: str


def build_claims(
    application: ApplicationCreate, *, pass_id: str, serial: str, issuer: str, now: datetime
) -> PassClaims:
    """What the QR carries: masked numbers and codes only; full ID numbers stay in the database."""
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
    signer: SigningKey,
    policy: Policy,
    issuer_region: str,
    now: datetime,
) -> Issued:
    """Sign a pass for ``application`` and record it (with the enterprise, now verified)."""
    check_window(application, policy, now)
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
        record = IssuedPass(
            pass_id=claims.pass_id,
            serial=claims.serial,
            kid=signer.kid.hex(),
            enterprise_uscc=claims.enterprise,
            plate=claims.plate,
            claims_json=json.dumps(claims.readable(), ensure_ascii=False),
            application_json=application.model_dump_json(),
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
        return Issued(record, claims, qr_text)
    raise InputError("could not allocate a pass number; try again", code="SERIAL_CONFLICT")


def get_pass(session: Session, pass_id: str) -> IssuedPass:
    key = pass_id.strip().lower()
    record = session.get(IssuedPass, key) if len(key) == PASS_ID_RE_LEN else None
    if record is None:
        raise InputError(f"no pass with id {pass_id!r}", code="PASS_NOT_FOUND")
    return record


def revoke(*, session: Session, pass_id: str, reason: str, by: str, now: datetime) -> tuple[Revocation, bool]:
    """Revoke a pass; revoking again changes nothing. Returns the revocation and whether it is new."""
    record = get_pass(session, pass_id)
    existing = session.get(Revocation, record.pass_id)
    if existing is not None:
        return existing, False
    revocation = Revocation(pass_id=record.pass_id, revoked_at=now, reason=reason[:500], revoked_by=by)
    session.add(revocation)
    session.flush()
    return revocation, True


def revoked_ids(session: Session) -> list[str]:
    return list(session.exec(select(Revocation.pass_id).order_by(Revocation.pass_id)))
