"""Helpers for the checkpoint, crossing and escort tests: checkpoints, enrolled devices, hash-chained records."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from passcore.chain import GENESIS, record_hash
from server.accounts.models import User
from server.checkpoints import service as checkpoints
from tests.integration.conftest import DEMO_USCC

# RLM and a zero-width space: kept verbatim (bidi overrides are refused, passcore.ids.usable_text)
HOSTILE = "<script>alert(1)</script>张\u200fabc\u200b'\"&"


def make_checkpoint(app, name: str = "G312 昆山东卡口", region: str = "320583", **coordinates: float) -> int:
    with Session(app.state.engine, expire_on_commit=False) as session:
        checkpoint = checkpoints.register_checkpoint(
            session=session,
            name=name,
            region=region,
            location="G312 国道 K1520",
            latitude=coordinates.get("latitude", 31.3856),
            longitude=coordinates.get("longitude", 120.9807),
            now=datetime.now(UTC),
        )
        return checkpoint.id


def enrolment_code(app, checkpoint_id: int, *, now: datetime | None = None) -> str:
    with Session(app.state.engine, expire_on_commit=False) as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
        checkpoint = session.get(checkpoints.Checkpoint, checkpoint_id)
        code, _ = checkpoints.create_enrolment_code(
            session=session,
            checkpoint=checkpoint,
            user=admin,
            settings=app.state.settings,
            now=now or datetime.now(UTC),
        )
        return code


class Device(TestClient):
    """A checkpoint device: a client with the device's bearer token and its own hash chain."""

    device_id: str = ""
    checkpoint_id: int = 0

    def __init__(self, app, checkpoint_id: int, name: str = "laptop 1") -> None:
        super().__init__(app)
        answer = self.post(
            "/api/v1/devices/enroll", json={"code": enrolment_code(app, checkpoint_id), "name": name}
        )
        assert answer.status_code == 201, answer.text
        self.headers["authorization"] = f"Bearer {answer.json()['token']}"
        self.device_id, self.checkpoint_id = answer.json()["device_id"], checkpoint_id
        self.seq, self.last_hash = 0, GENESIS

    def record(self, **changes: Any) -> dict[str, Any]:
        """The device's next record (hash-chained), with ``changes`` applied before hashing."""
        self.seq += 1
        record = {
            "id": str(uuid.uuid4()),
            "seq": self.seq,
            "prev_hash": self.last_hash,
            "decided_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "plate": "苏EA1234",
            "pass_id": "0123456789abcdef01234567",
            "enterprise": DEMO_USCC,
            "outcome": "RELEASE",
            "reasons": ["PASS_VALID"],
            "policy_version": 1,
            "bundle_version": 3,
            "occupants": [
                {
                    "role": "driver",
                    "name": "张伟",
                    "temperature_c": 36.5,
                    "origin": "320583",
                    "travel_history": [],
                },
                {
                    "role": "escort",
                    "name": "李娜",
                    "temperature_c": 36.7,
                    "origin": "320583",
                    "travel_history": ["320500"],
                },
            ],
            "vehicle_origin": "320583",
            "verification": "PASS_VALID",
            "checks": {"identity_confirmed": True, "licence_confirmed": True, "id_last4_matched": None},
        } | changes
        record["hash"] = record_hash(record)
        self.last_hash = record["hash"]
        return record

    def escort_record(self, **changes: Any) -> dict[str, Any]:
        return self.record(
            plate="鄂A12345",
            outcome="ESCORT_REQUIRED",
            reasons=["PASS_VALID", "HARD_HIT_VEHICLE"],
            vehicle_origin="420100",
            **changes,
        )

    def upload(self, *records: dict[str, Any]):
        return self.post("/api/v1/crossings", json={"records": list(records)})


@pytest.fixture
def device_factory(app) -> Iterator[Any]:
    """device_factory(checkpoint_id) -> an enrolled Device."""
    made: list[Device] = []

    def make(checkpoint_id: int, name: str = "laptop 1") -> Device:
        made.append(Device(app, checkpoint_id, name))
        return made[-1]

    yield make
    for device in made:
        device.close()
