"""Demo crossings: two located checkpoints with a device each, and real decisions uploaded through the ingest
service, so the audit has something true to show.

Every decision is made as a checkpoint makes it — ``passcore.trust.verify_pass`` then ``passcore.rules.decide``
with the signed bundle's policy and enterprise directory (what ``checkpoint_client.station.evaluate`` does; the
server may not import the client) — stored as a hash-chained crossing record (``passcore.crossing``) and ingested.
Among them: a forged pass, a fever, a Hubei vehicle waiting for its escort far past the limit, one pass seen at
both checkpoints minutes apart (a clone), and one upload whose decision the server's replay contradicts.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from passcore import crossing, evidence, rules, trust
from passcore.chain import GENESIS
from passcore.reasons import RELEASE
from server.accounts.models import User
from server.checkpoints import service as checkpoints
from server.checkpoints.models import Checkpoint, Device
from server.crossings import escorts
from server.crossings import service as crossings
from server.crossings.models import Crossing, EscortRequest

__all__ = ["DEMO_CHECKPOINTS", "decide_record", "seed_crossings"]

# name, region, location, latitude, longitude: about 50 km apart along the G2/G312 corridor.
DEMO_CHECKPOINTS = (
    ("G312 昆山东卡口", "320583", "G312 国道 K1520 昆山东", 31.3856, 120.9807),
    ("G2 苏州西卡口", "320505", "G2 京沪高速 苏州西收费站", 31.3201, 120.4528),
)
HUBEI_NO_PASS = {
    "observed": {"plate": "鄂A·77889"},
    "vehicle_origin": "420100",
    "enterprise": "91320583MA1XY71231",  # the Kunshan company receives the goods and must collect the vehicle
    "occupants": [{"role": "driver", "name": "周强", "temperature_c": 36.6, "origin": "420100"}],
}


def _checkpoint(
    session: Session, name: str, region: str, where: str, lat: float, lon: float, now: datetime
) -> Checkpoint:
    found = session.exec(select(Checkpoint).where(Checkpoint.name == name)).first()
    if found is not None:
        return found
    return checkpoints.register_checkpoint(
        session=session, name=name, region=region, location=where, latitude=lat, longitude=lon, now=now
    )


def _device(session: Session, checkpoint: Checkpoint, now: datetime) -> Device:
    name = f"{checkpoint.name} 演示笔记本"
    found = session.exec(
        select(Device).where(Device.checkpoint_id == checkpoint.id, Device.name == name)
    ).first()
    if found is not None:
        return found
    # No token: the demo uploads through the ingest service directly, as the API would for an enrolled device.
    device = Device(id=secrets.token_hex(16), checkpoint_id=checkpoint.id or 0, name=name, enrolled_at=now)
    session.add(device)
    session.commit()
    return device


class _Chain:
    """A device's hash chain, continued from what the server already holds (the demo may run again)."""

    def __init__(self, session: Session, device: Device) -> None:
        last = session.exec(
            select(Crossing.seq, Crossing.record_hash)
            .where(Crossing.device_id == device.id)
            .order_by(col(Crossing.seq).desc())
        ).first()
        self.seq, self.last = last if last else (0, GENESIS)

    def link(self, contents: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        record = crossing.link(contents, record_id=str(uuid.uuid4()), seq=self.seq, prev_hash=self.last)
        self.last = record["hash"]
        return record


def decide_record(scenario: dict[str, Any], bundle: trust.TrustBundle, at: datetime) -> dict[str, Any]:
    """The checkpoint's decision on ``scenario`` at ``at``, as the record it stores (without chain keys)."""
    text = scenario.get("pass")
    verification = trust.verify_pass(text, bundle, now=at) if text else None
    observed = rules.Observation(**scenario["observed"])
    occupants = [crossing.rules_occupant(person) for person in scenario["occupants"]]
    decision = rules.decide(
        verification=verification,
        observed=observed,
        occupants=occupants,
        policy=bundle.policy,
        now=at,
        vehicle_origin=scenario.get("vehicle_origin"),
        enterprise=scenario.get("enterprise"),
        known_enterprises=bundle.enterprises.keys(),
        bundle_version=bundle.version,
    )
    # A device writes its decision time in the checkpoint's zone.
    local = replace(decision, decided_at=at.astimezone(ZoneInfo("Asia/Shanghai")))
    return crossing.contents(
        local,
        occupants=occupants,
        verification=verification.code if verification else None,
        checks=crossing.record_checks(observed, verification),
        vehicle_origin=scenario.get("vehicle_origin"),
        claimed=evidence.claimed(text, verification) if text else None,
    )


def _escort_answered_and_handed_over(session: Session, crossing_id: str, at: datetime, now: datetime) -> None:
    escort = session.exec(select(EscortRequest).where(EscortRequest.crossing_id == crossing_id)).one()
    clerk = session.exec(select(User).where(User.enterprise_uscc == escort.enterprise_uscc)).first()
    if clerk is not None:
        escorts.answer(
            session=session,
            escort=escort,
            user=clerk,
            staff_name="吴刚",
            staff_phone="139 0000 1234",
            eta=(at + timedelta(minutes=25)).isoformat(),
            timezone="Asia/Shanghai",
            now=at + timedelta(minutes=5),
        )
    escorts.hand_over(session=session, escort=escort, at=at + timedelta(minutes=28), now=now)


def seed_crossings(
    *, session: Session, bundle: trust.TrustBundle, scenarios: dict[str, dict[str, Any]], now: datetime
) -> dict[str, int]:
    """Upload the demo's decisions; returns how many records each demo device sent."""
    east, west = (_checkpoint(session, *spec, now=now) for spec in DEMO_CHECKPOINTS)
    devices = {"east": _device(session, east, now), "west": _device(session, west, now)}
    chains = {name: _Chain(session, device) for name, device in devices.items()}
    minutes = lambda m: now - timedelta(minutes=m)  # noqa: E731
    # The vehicle from Hubei without a pass waits for the Kunshan company far longer than the limit.
    plan: list[tuple[str, dict[str, Any], datetime]] = [
        ("east", HUBEI_NO_PASS, minutes(150)),
        ("east", scenarios["release"], minutes(58)),
        ("east", scenarios["fever"], minutes(44)),
        ("west", scenarios["hard-hit-escort"], minutes(40)),
        ("east", scenarios["forged"], minutes(30)),
        ("west", scenarios["no-pass"], minutes(25)),
        ("east", scenarios["release"], minutes(20)),
        ("west", scenarios["release"], minutes(16)),  # 50 km in 4 minutes: the same pass twice, a clone
    ]
    batches: dict[str, list[dict[str, Any]]] = {"east": [], "west": []}
    for device, scenario, at in plan:
        batches[device].append(chains[device].link(decide_record(scenario, bundle, at)))
    # A checkpoint that let a Hubei vehicle without a pass through: the upload says RELEASE, the rules do not.
    wrong = decide_record(HUBEI_NO_PASS | {"observed": {"plate": "鄂A·66001"}}, bundle, minutes(8))
    batches["west"].append(chains["west"].link(wrong | {"outcome": RELEASE, "reasons": ["NO_PASS"]}))
    for name, records in batches.items():
        crossings.ingest(session=session, device=devices[name], records=records, now=now)
    _escort_answered_and_handed_over(session, batches["west"][0]["id"], minutes(40), now)
    return {name: len(records) for name, records in batches.items()}
