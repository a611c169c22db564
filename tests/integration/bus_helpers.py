"""Helpers for the server's bus tests (issue 14): a real bus pass with its signed manifest pages, and records of
bus decisions made exactly as a checkpoint makes them (pages verified into a Manifest, ``bus_rules.decide_bus``,
``crossing.bus_contents``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from passcore import bus_rules, crossing, manifest, rules, trust
from server import db
from server.applications.schemas import parse_application
from server.demo import bus as demo_bus
from server.keyring import service as keyring
from server.passes import service as passes
from server.policy import service as policy_service

PLATE = demo_bus.BUS_PLATE
FROM_WUHAN, NOT_ABOARD = demo_bus.FROM_WUHAN, demo_bus.NOT_ABOARD
PASSENGERS = 12
CREW = [
    {"role": "driver", "name": "马师傅", "temperature_c": 36.6, "origin": None, "travel_history": []},
    {"role": "manager", "name": "陈经理", "temperature_c": 36.4, "origin": None, "travel_history": []},
]
SEEN = rules.Observation(plate=PLATE, identity_confirmed=True, licence_confirmed=True)


def issue_bus(app, now: datetime | None = None) -> tuple[str, str, list[str]]:
    """The demo's bus pass (12 passengers, number 4 from Wuhan), signed now: (pass id, QR text, pages)."""
    now = now or datetime.now(UTC)
    window = {
        "valid_from": (now - timedelta(days=2)).isoformat(),
        "valid_until": (now + timedelta(days=12)).isoformat(),
    }
    with db.session_scope(app.state.engine) as session:
        settings = app.state.settings
        issued = passes.issue(
            session=session,
            application=parse_application(demo_bus.application(window)),
            signer=keyring.active_issuer(session=session, settings=settings),
            policy=policy_service.current(session),
            issuer_region=settings.issuer_region,
            now=now,
        )
        return issued.claims.pass_id, issued.qr_text, list(issued.manifest)


def roll(
    *, fever: dict[int, str] | None = None, absent: tuple[int, ...] = (NOT_ABOARD,)
) -> list[bus_rules.RollEntry]:
    fever = fever or {}
    return [
        bus_rules.RollEntry(n, n not in absent, Decimal(fever[n]) if n in fever else None)
        for n in range(1, PASSENGERS + 1)
    ]


def bus_record(
    qr: str,
    pages: list[str],
    bundle: trust.TrustBundle,
    at: datetime,
    *,
    entries: list[bus_rules.RollEntry] | None = None,
    waited: timedelta = timedelta(minutes=7),
    crew: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The record's contents (no chain keys) of the checkpoint's decision on the bus at ``at``."""
    verification = trust.verify_pass(qr, bundle, now=at)
    assert verification.claims is not None and verification.claims.bus is not None, verification.code
    book = manifest.Manifest(verification.claims)
    for page in pages:
        book.add(manifest.verify_page(page, bundle, now=at))
    whole = book.code == "MANIFEST_VALID"
    entries = (entries if entries is not None else roll()) if whole else []
    occupants = [crossing.rules_occupant(person) for person in crew or CREW]
    decision = bus_rules.decide_bus(
        verification=verification,
        manifest=book,
        observed=SEEN,
        crew=occupants,
        roll=entries,
        policy=bundle.policy,
        now=at,
        arrived_at=at - waited,
        known_enterprises=bundle.enterprises.keys(),
        bundle_version=bundle.version,
    )
    local = replace(decision, decided_at=at.astimezone(ZoneInfo("Asia/Shanghai")))
    bus = crossing.bus_contents(local, passengers=book.passengers if whole else (), roll=entries)
    return crossing.contents(
        local,
        occupants=occupants,
        verification=verification.code,
        checks=crossing.record_checks(SEEN, verification),
        vehicle_origin=None,
        bus=bus,
    )
