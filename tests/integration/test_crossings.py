"""Crossing ingest: idempotent batches of hash-chained records from enrolled devices (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import Session, func, select

from passcore.chain import GENESIS, canonical, record_hash
from server.checkpoints.models import Device as DeviceRow
from server.crossings.models import Crossing, CrossingConflict, EscortRequest
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import HOSTILE, Device, make_checkpoint

device_factory = checkpoint_devices.device_factory  # the fixture, for this module


def count(app, table, *where) -> int:
    with Session(app.state.engine) as session:
        return session.exec(select(func.count()).select_from(table).where(*where)).one()


def statuses(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["status"] for r in response.json()["results"]]


@pytest.fixture
def device(app, device_factory) -> Device:
    return device_factory(make_checkpoint(app))


def test_a_batch_is_stored_with_the_devices_checkpoint(app, device):
    records = [device.record() for _ in range(3)]
    response = device.upload(*records)
    assert statuses(response) == ["accepted"] * 3
    assert response.json() | {"results": None} == {
        "accepted": 3,
        "duplicate": 0,
        "conflict": 0,
        "invalid": 0,
        "results": None,
    }
    with Session(app.state.engine) as session:
        rows = session.exec(select(Crossing).order_by(Crossing.seq)).all()
        seen = session.get(DeviceRow, device.device_id).last_seen_at
    assert [r.id for r in rows] == [r["id"] for r in records]
    assert {r.checkpoint_id for r in rows} == {device.checkpoint_id} and {r.device_id for r in rows} == {
        device.device_id
    }
    first = rows[0]
    assert (
        first.plate,
        first.outcome,
        first.enterprise_uscc,
        first.policy_version,
        first.bundle_version,
    ) == ("苏EA1234", "RELEASE", "91320583MA1XY71231", 1, 3)
    # The stored body is exactly what the hash covers: an auditor can re-check it alone.
    assert record_hash(json.loads(first.body_json)) == first.record_hash == records[0]["hash"]
    assert first.prev_hash == GENESIS and rows[1].prev_hash == rows[0].record_hash
    assert seen is not None


def test_the_same_batch_replayed_three_times_stores_one_row_each(app, device):
    records = [device.record() for _ in range(5)] + [device.escort_record()]
    assert statuses(device.upload(*records)) == ["accepted"] * 6
    for _ in range(2):
        assert statuses(device.upload(*records)) == ["duplicate"] * 6
    assert count(app, Crossing) == 6
    assert count(app, EscortRequest) == 1
    assert count(app, CrossingConflict) == 0


def test_concurrent_replays_of_one_batch_store_one_row_each(app, device):
    records = [device.record() for _ in range(50)]

    def send(_: int) -> list[str]:
        with Device.__mro__[1](app, headers=dict(device.headers)) as client:
            return statuses(client.post("/api/v1/crossings", json={"records": records}))

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(send, range(4)))
    assert sorted(r[0] for r in results) == ["accepted", "duplicate", "duplicate", "duplicate"]
    assert count(app, Crossing) == 50


def test_same_id_with_different_content_is_a_conflict_and_is_flagged_once(app, device):
    original = device.record()
    assert statuses(device.upload(original)) == ["accepted"]
    edited = original | {"plate": "苏EB9999"}
    edited["hash"] = record_hash(edited)
    for _ in range(3):
        response = device.upload(edited)
        assert (
            statuses(response) == ["conflict"] and response.json()["results"][0]["code"] == "CONTENT_DIFFERS"
        )
    with Session(app.state.engine) as session:
        stored = session.get(Crossing, original["id"])
        flagged = session.exec(select(CrossingConflict)).all()
    assert stored.plate == "苏EA1234"  # nothing already stored is lost
    assert len(flagged) == 1 and json.loads(flagged[0].body_json) == edited
    assert flagged[0].device_id == device.device_id


def test_a_taken_seq_with_another_id_is_a_conflict(app, device):
    first = device.record()
    assert statuses(device.upload(first)) == ["accepted"]
    device.seq = 0  # a device that lost its counter starts again at 1
    again = device.record(prev_hash=GENESIS)
    response = device.upload(again)
    assert statuses(response) == ["conflict"] and response.json()["results"][0]["code"] == "SEQ_TAKEN"
    assert count(app, Crossing) == 1 and count(app, CrossingConflict) == 1


def test_within_one_batch_repeats_are_duplicates_or_conflicts(app, device):
    record = device.record()
    clash = device.record() | {"seq": record["seq"], "prev_hash": record["prev_hash"]}
    clash["hash"] = record_hash(clash)
    assert statuses(device.upload(record, record, clash)) == ["accepted", "duplicate", "conflict"]
    assert count(app, Crossing) == 1


def test_a_device_cannot_claim_another_devices_record_or_checkpoint(app, device_factory):
    ours = device_factory(make_checkpoint(app, "卡口 A"))
    theirs = device_factory(make_checkpoint(app, "卡口 B", region="420100"))
    record = ours.record()
    assert statuses(ours.upload(record)) == ["accepted"]
    response = theirs.upload(record)
    assert statuses(response) == ["conflict"] and response.json()["results"][0]["code"] == "OTHER_DEVICE"
    # A checkpoint or device named in the body is not part of the schema at all.
    forged = theirs.record() | {"checkpoint_id": ours.checkpoint_id}
    forged["hash"] = record_hash(forged)
    answer = theirs.upload(forged).json()["results"][0]
    assert answer["status"] == "invalid" and answer["code"] == "SCHEMA_INVALID"
    with Session(app.state.engine) as session:
        assert session.get(Crossing, record["id"]).checkpoint_id == ours.checkpoint_id


def test_a_record_whose_hash_does_not_match_is_refused(app, device):
    good, bad = device.record(), device.record()
    bad["plate"] = "苏EZ0000"  # edited after hashing
    response = device.upload(good, bad)
    assert statuses(response) == ["accepted", "invalid"]
    assert response.json()["results"][1]["code"] == "HASH_MISMATCH"
    assert count(app, Crossing) == 1


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"seq": 0}, "SCHEMA_INVALID"),
        ({"seq": True}, "SCHEMA_INVALID"),
        ({"seq": "2"}, "SCHEMA_INVALID"),
        ({"id": "not-a-uuid"}, "SCHEMA_INVALID"),
        ({"decided_at": "2026-02-10T08:00:00"}, "SCHEMA_INVALID"),
        ({"outcome": "WAVE_THROUGH"}, "SCHEMA_INVALID"),
        ({"pass_id": "XYZ"}, "SCHEMA_INVALID"),
        ({"occupants": []}, "SCHEMA_INVALID"),
        (
            {
                "occupants": [
                    {
                        "role": "driver",
                        "name": "张伟",
                        "temperature_c": "36.5",
                        "origin": None,
                        "travel_history": [],
                    }
                ]
            },
            "SCHEMA_INVALID",
        ),
        (
            {
                "occupants": [
                    {
                        "role": "driver",
                        "name": "张伟",
                        "temperature_c": 36.5,
                        "origin": None,
                        "travel_history": [],
                        "id_number": "320583198503121234",
                    }
                ]
            },
            "SCHEMA_INVALID",
        ),
        (
            {
                "occupants": [
                    {
                        "role": "driver",
                        "name": "张\x00伟",
                        "temperature_c": 36.5,
                        "origin": None,
                        "travel_history": [],
                    }
                ]
            },
            "SCHEMA_INVALID",
        ),
        ({"plate": "ABC"}, "PLATE_INVALID"),
        ({"enterprise": "91320583MA1XY71232"}, "USCC_INVALID"),
        ({"vehicle_origin": "990000"}, "REGION_INVALID"),
        ({"seq": 1, "prev_hash": "1" * 64}, "CHAIN_START_INVALID"),
    ],
)
def test_malformed_records_are_invalid_without_failing_the_batch(app, device, changes, code):
    good = device.record()
    bad = device.record(**changes)
    response = device.upload(good, bad)
    assert statuses(response) == ["accepted", "invalid"]
    assert response.json()["results"][1]["code"] == code
    assert count(app, Crossing) == 1


def test_records_that_are_not_objects_or_lack_keys_are_invalid(app, device):
    partial = device.record()
    del partial["vehicle_origin"]
    partial["hash"] = record_hash(partial)
    response = device.upload(partial, [1, 2], "text", None)
    assert statuses(response) == ["invalid"] * 4
    assert response.json()["results"][0]["id"] == partial["id"]


def test_batch_envelope_is_validated(device):
    assert device.post("/api/v1/crossings", json={"records": []}).status_code == 422
    assert device.post("/api/v1/crossings", json={"records": [device.record()] * 501}).status_code == 422
    assert device.post("/api/v1/crossings", json={"records": [], "checkpoint": 1}).status_code == 422
    oversize = device.post(
        "/api/v1/crossings",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": str(9 << 20)},
    )
    assert oversize.status_code == 413


def test_hostile_names_are_stored_verbatim(app, device):
    occupant = {
        "role": "driver",
        "name": HOSTILE,
        "temperature_c": 36.5,
        "origin": None,
        "travel_history": [],
    }
    record = device.record(occupants=[occupant])
    assert statuses(device.upload(record)) == ["accepted"]
    with Session(app.state.engine) as session:
        stored = session.get(Crossing, record["id"]).body_json
    assert json.loads(stored)["occupants"][0]["name"] == HOSTILE
    assert "\u200f" in stored and "\\u200f" not in stored  # kept as UTF-8, not \\u escapes
    assert stored.encode() == canonical({k: v for k, v in record.items() if k != "hash"})


def test_only_enrolled_devices_may_upload(app, api, device):
    record = device.record()
    anonymous = api().post("/api/v1/crossings", json={"records": [record]})
    assert anonymous.status_code == 401
    for username in ("clerk", "reviewer", "auditor", "admin"):
        response = api(username).post("/api/v1/crossings", json={"records": [record]})
        assert response.status_code == 403 and response.json()["code"] == "DEVICE_ONLY"
    assert count(app, Crossing) == 0


def test_escort_required_crossings_create_escort_requests(app, device):
    known = device.escort_record()
    unknown = device.escort_record(enterprise="91110000802100433B")  # a valid code nobody registered
    no_enterprise = device.escort_record(enterprise=None)
    assert statuses(device.upload(known, unknown, no_enterprise, device.record())) == ["accepted"] * 4
    with Session(app.state.engine) as session:
        rows = {r.crossing_id: r for r in session.exec(select(EscortRequest))}
    assert set(rows) == {known["id"], unknown["id"], no_enterprise["id"]}
    assert rows[known["id"]].enterprise_uscc == "91320583MA1XY71231"
    assert rows[unknown["id"]].enterprise_uscc is None and rows[no_enterprise["id"]].enterprise_uscc is None
    assert rows[known["id"]].plate == "鄂A12345" and rows[known["id"]].status == "open"
    assert rows[known["id"]].checkpoint_id == device.checkpoint_id
