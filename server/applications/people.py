"""The people of an application and of an issued pass at rest: ID and licence numbers sealed, ID numbers hashed.

A stored body (``Application.body_json``, ``IssuedPass.application_json``) carries every ID and driving-licence
number masked, as the QR does (``320583********1234``); the full numbers are one sealed JSON value beside it
(``people_sealed``, bound to the row: ``application/<id>/people``, ``issued_pass/<pass id>/people``) and each
person's ID number has a keyed hash in ``person_hash`` for equality lookups. Licence numbers are sealed as
identifiers too (a Chinese licence number *is* the holder's ID number); names and phones are not (docs/design.md,
"Privacy"). ``people_sealed`` NULL is a row stored before sealing existed: its body still has the full numbers
until ``seal_legacy`` (run by ``checkpass init`` and ``serve``) converts it. ``PURGED`` marks numbers that retention
has removed.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import object_session
from sqlmodel import Session, col, func, select

from passcore import ids
from passcore.errors import InputError
from server.applications.models import Application, PersonHash
from server.applications.schemas import ApplicationCreate
from server.keyring import datakeys
from server.passes.models import IssuedPass

__all__ = [
    "PURGED",
    "application_body",
    "application_context",
    "forget",
    "index",
    "pass_context",
    "reseal",
    "seal_application",
    "seal_legacy",
    "seal_pass",
    "unsealed_left",
]

PURGED = "purged"
ESCORT, DRIVER = "escort", "driver"
MANAGER, PASSENGERS = "manager", "passengers"
PASSENGER = "passenger"  # a person hash's role (person_hash.role widened to 10 characters by migration 0021)


def application_context(application_id: int) -> str:
    return f"application/{application_id}/people"


def pass_context(pass_id: str) -> str:
    return f"issued_pass/{pass_id}/people"


def _split(data: dict[str, Any]) -> tuple[str, str]:
    """(the body as JSON with every number masked, the full numbers as JSON) of a body as a plain dict.

    A bus (issue 14) adds its manager's and its passengers' ID numbers, sealed the same way; a freight body's
    sealed value is as it always was (no "manager", no "passengers")."""
    driver = data["driver"]
    escorts = data.get("escorts") or []
    people: dict[str, Any] = {
        DRIVER: {"id_number": driver["id_number"], "licence_number": driver["licence_number"]},
        "escorts": [escort["id_number"] for escort in escorts],
    }
    masked = {
        **data,
        DRIVER: {
            **driver,
            "id_number": ids.mask_id(driver["id_number"]),
            "licence_number": ids.mask_id(driver["licence_number"].upper()),
        },
        "escorts": [{**escort, "id_number": ids.mask_id(escort["id_number"])} for escort in escorts],
    }
    bus, passengers = data.get("bus"), data.get("passengers") or []
    if bus:
        manager = bus["manager"]
        people[MANAGER] = manager["id_number"]
        masked["bus"] = {**bus, MANAGER: {**manager, "id_number": ids.mask_id(manager["id_number"])}}
    if passengers:
        people[PASSENGERS] = [p["id_number"] for p in passengers]
        masked[PASSENGERS] = [{**p, "id_number": ids.mask_id(p["id_number"])} for p in passengers]
    return json.dumps(masked, ensure_ascii=False), json.dumps(people, ensure_ascii=False)


def _merge(body_json: str, people_json: str) -> ApplicationCreate:
    data, people = json.loads(body_json), json.loads(people_json)
    passengers = data.get(PASSENGERS) or []
    if len(people["escorts"]) != len(data.get("escorts") or []) or len(people.get(PASSENGERS) or []) != len(
        passengers
    ):
        raise InputError("sealed people do not match the stored body", code="SEALED_INVALID")
    if bool(data.get("bus")) != (MANAGER in people):
        raise InputError("sealed people do not match the stored body", code="SEALED_INVALID")
    data[DRIVER].update(people[DRIVER])
    for escort, number in zip(data.get("escorts") or [], people["escorts"], strict=True):
        escort["id_number"] = number
    if data.get("bus"):
        data["bus"][MANAGER]["id_number"] = people[MANAGER]
    for passenger, number in zip(passengers, people.get(PASSENGERS) or [], strict=True):
        passenger["id_number"] = number
    return ApplicationCreate.model_validate(data)


def index(
    session: Session, people_json: str, *, application_id: int | None = None, pass_id: str | None = None
) -> None:
    """Replace the person hashes of one application or one pass with those of ``people_json`` (the active key's)."""
    keys = datakeys.of(session)
    owner = (
        col(PersonHash.application_id) == application_id
        if application_id is not None
        else col(PersonHash.pass_id) == pass_id
    )
    session.execute(delete(PersonHash).where(owner))
    people = json.loads(people_json)
    numbers = [(DRIVER, 0, people[DRIVER]["id_number"])]
    numbers += [(ESCORT, position, number) for position, number in enumerate(people["escorts"])]
    # A bus's manager and passengers are hashed too: the "same person on another live pass" check (and a search
    # by ID number) finds them as it finds a driver or an escort.
    if MANAGER in people:
        numbers.append((MANAGER, 0, people[MANAGER]))
    numbers += [(PASSENGER, position, number) for position, number in enumerate(people.get(PASSENGERS) or [])]
    for role, position, number in numbers:
        kid, digest = keys.person_hash(number)
        session.add(
            PersonHash(
                application_id=application_id,
                pass_id=pass_id,
                role=role,
                position=position,
                kid=kid,
                digest=digest,
            )
        )


def seal_application(session: Session, application_id: int, body: ApplicationCreate) -> dict[str, str]:
    """The stored columns of ``body`` for application ``application_id`` (its person hashes are replaced now)."""
    keys = datakeys.of(session)
    masked, people = _split(body.model_dump(mode="json"))
    index(session, people, application_id=application_id)
    return {"body_json": masked, "people_sealed": keys.seal(people, application_context(application_id))}


def seal_pass(session: Session, pass_id: str, body: ApplicationCreate) -> tuple[str, str, str]:
    """(masked body, sealed people, people JSON) of the application a pass ``pass_id`` is issued for."""
    keys = datakeys.of(session)
    masked, people = _split(body.model_dump(mode="json"))
    return masked, keys.seal(people, pass_context(pass_id)), people


def application_body(application: Application) -> ApplicationCreate:
    """The application as entered, full numbers included; a value that does not open is an error, never passed on."""
    if application.people_sealed is None:  # stored before sealing: the body still has the numbers
        return ApplicationCreate.model_validate_json(application.body_json)
    if application.people_sealed == PURGED:
        raise InputError(
            f"the ID numbers of application {application.id} were removed by retention", code="PEOPLE_PURGED"
        )
    session = object_session(application)
    if not isinstance(session, Session):
        raise InputError("an application's ID numbers are read within its session", code="SEALED_INVALID")
    people = datakeys.of(session).open(application.people_sealed, application_context(application.id or 0))
    return _merge(application.body_json, people)


def forget(session: Session, application_id: int) -> None:
    """Remove an application's full numbers and person hashes (retention); its body keeps them masked."""
    application = session.get(Application, application_id)
    if application is None:
        return
    if application.people_sealed is None:  # never sealed: the body itself still holds the numbers
        application.body_json = _split(json.loads(application.body_json))[0]
    application.people_sealed = PURGED
    session.add(application)
    session.execute(delete(PersonHash).where(col(PersonHash.application_id) == application_id))


def seal_legacy(session: Session, *, batch: int = 500) -> int:
    """Seal the numbers of rows stored before sealing existed (not committed); returns how many were sealed."""
    keys = datakeys.of(session)
    done = 0
    for application in session.exec(
        select(Application).where(col(Application.people_sealed).is_(None)).limit(batch)
    ):
        masked, people = _split(json.loads(application.body_json))
        application.body_json = masked
        application.people_sealed = keys.seal(people, application_context(application.id or 0))
        index(session, people, application_id=application.id)
        session.add(application)
        done += 1
    for record in session.exec(
        select(IssuedPass).where(col(IssuedPass.people_sealed).is_(None)).limit(batch)
    ):
        masked, people = _split(json.loads(record.application_json))
        record.application_json = masked
        record.people_sealed = keys.seal(people, pass_context(record.pass_id))
        index(session, people, pass_id=record.pass_id)
        session.add(record)
        done += 1
    session.flush()
    return done


def _is_sealed(value: str | None) -> bool:
    return bool(value) and (value or "").startswith(f"{datakeys.VERSION}:")


def _stale(sealed: Any, row_key: Any, hash_owner: Any, active: str) -> Any:
    """Rows sealed by another key than the active one, or with a person hash made by another key."""
    version = f"{datakeys.VERSION}:"
    other_seal = col(sealed).startswith(version) & ~col(sealed).startswith(f"{version}{active}:")
    other_hash = col(row_key).in_(select(hash_owner).where(PersonHash.kid != active))
    return other_seal | other_hash


def reseal(session: Session, *, batch: int = 500) -> int:
    """Re-seal and re-hash up to ``batch`` rows of each kind that still depend on a key other than the active
    one (not committed): a rotation calls it until it returns 0. Returns how many rows it did."""
    keys = datakeys.of(session)
    active = keys.active_kid() or ""
    done = 0
    for application in session.exec(
        select(Application)
        .where(_stale(Application.people_sealed, Application.id, PersonHash.application_id, active))
        .limit(batch)
    ):
        done += 1
        if not _is_sealed(application.people_sealed):  # purged: nothing to hash any more
            session.execute(delete(PersonHash).where(col(PersonHash.application_id) == application.id))
            continue
        context = application_context(application.id or 0)
        people = keys.open(application.people_sealed or "", context)
        application.people_sealed = keys.seal(people, context)
        index(session, people, application_id=application.id)
        session.add(application)
    for record in session.exec(
        select(IssuedPass)
        .where(_stale(IssuedPass.people_sealed, IssuedPass.pass_id, PersonHash.pass_id, active))
        .limit(batch)
    ):
        done += 1
        if not _is_sealed(record.people_sealed):
            session.execute(delete(PersonHash).where(col(PersonHash.pass_id) == record.pass_id))
            continue
        context = pass_context(record.pass_id)
        people = keys.open(record.people_sealed or "", context)
        record.people_sealed = keys.seal(people, context)
        index(session, people, pass_id=record.pass_id)
        session.add(record)
    session.flush()
    return done


def unsealed_left(session: Session, kid: str) -> int:
    """How many values and hashes still depend on data key ``kid``: a rotation retires it only at 0."""
    prefix = f"{datakeys.VERSION}:{kid}:"
    counts = (
        select(func.count())
        .select_from(Application)
        .where(col(Application.people_sealed).startswith(prefix)),
        select(func.count()).select_from(IssuedPass).where(col(IssuedPass.people_sealed).startswith(prefix)),
        select(func.count()).select_from(PersonHash).where(PersonHash.kid == kid),
    )
    return sum(int(session.exec(query).one()) for query in counts)
