"""Helpers for the audit tests: real issued passes, real signed bundles, and records decided exactly as a
checkpoint decides them (``server.demo.crossings.decide_record``: verify_pass, then decide)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from passcore import trust
from server import db, flows
from server.alerts.models import Alert
from server.applications.schemas import parse_application
from server.bundles import service as bundles
from server.demo.crossings import decide_record
from server.keyring import service as keyring
from server.passes import service as passes
from server.policy import service as policy_service
from tests.integration.conftest import DEMO_USCC

CREW = [
    {"role": "driver", "name": "张伟", "temperature_c": 36.5, "origin": "320583", "travel_history": []},
    {
        "role": "escort",
        "name": "李娜",
        "temperature_c": 36.6,
        "origin": "320583",
        "travel_history": ["320500"],
    },
]
CONFIRMED = {"identity_confirmed": True, "licence_confirmed": True}


def application(now: datetime, **changes: Any) -> dict[str, Any]:
    return {
        "enterprise": {"name": "昆山精密机械有限公司", "uscc": DEMO_USCC},
        "vehicle": {"plate": "苏E·A1234", "plate_colour": "yellow"},
        "driver": {
            "name": "张伟",
            "id_number": "320583198503121234",
            "licence_number": "320583198503121234",
            "phone": "13800000000",
        },
        "escorts": [{"name": "李娜", "id_number": "320583199007054567"}],
        "origin": "320583",
        "destination": "310000",
        "travel_history": ["320500"],
        "cargo": "精密零部件",
        "valid_from": (now - timedelta(days=2)).isoformat(),
        "valid_until": (now + timedelta(days=12)).isoformat(),
    } | changes


def issue_pass(app, **changes: Any) -> tuple[str, str]:
    """A pass signed by the server's active issuer key: (pass id, QR text)."""
    now = datetime.now(UTC)
    with db.session_scope(app.state.engine) as session:
        settings = app.state.settings
        issued = passes.issue(
            session=session,
            application=parse_application(application(now, **changes)),
            signer=keyring.active_issuer(session=session, settings=settings),
            policy=policy_service.current(session),
            issuer_region=settings.issuer_region,
            now=now,
        )
        return issued.claims.pass_id, issued.qr_text


def _parsed(app, row) -> trust.TrustBundle:
    root = keyring.load_root(app.state.settings).public
    return trust.load_bundle(bytes(row.signed), root=root, now=None)


def publish(app) -> trust.TrustBundle:
    """The trust bundle the checkpoints would download now (signed and stored by the server)."""
    with Session(app.state.engine, expire_on_commit=False) as session:
        row = bundles.publish(session=session, settings=app.state.settings, now=datetime.now(UTC))
    return _parsed(app, row)


def change_policy(app, **changes: Any) -> trust.TrustBundle:
    """A new policy version (as an administrator makes it) and the bundle that carries it."""
    with Session(app.state.engine, expire_on_commit=False) as session:
        change = flows.update_policy(
            session=session, settings=app.state.settings, changes=changes, now=datetime.now(UTC), by="test"
        )
    return _parsed(app, change.bundle)


def revoke(app, pass_id: str, at: datetime | None = None) -> None:
    with db.session_scope(app.state.engine) as session:
        passes.revoke(
            session=session, pass_id=pass_id, reason="测试撤销", by="test", now=at or datetime.now(UTC)
        )


def scenario(
    qr: str | None = None, *, plate: str = "苏E·A1234", occupants=None, **extra: Any
) -> dict[str, Any]:
    observed = {"plate": plate} | (CONFIRMED if qr else {})
    base: dict[str, Any] = {"observed": observed, "occupants": occupants or CREW}
    return base | ({"pass": qr} if qr else {}) | extra


def decided(device, scenario_: dict[str, Any], bundle: trust.TrustBundle, at: datetime, **overrides: Any):
    """The device's next chained record, holding the decision a checkpoint makes (``overrides`` tamper)."""
    return device.record(**(decide_record(scenario_, bundle, at) | overrides))


def alerts_of(app, kind: str | None = None) -> list[Alert]:
    with Session(app.state.engine) as session:
        query = select(Alert).order_by(col(Alert.id))
        if kind:
            query = query.where(Alert.kind == kind)
        return list(session.exec(query))


def detail(alert: Alert) -> dict[str, Any]:
    return json.loads(alert.detail)


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)
