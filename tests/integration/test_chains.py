"""Device hash chains on the server: checked on ingest, on demand (`checkpass audit verify-chains`, the API),
reporting the first bad record — gaps, broken links, bodies edited in the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session

from server.alerts import rules
from server.alerts import service as alerts
from server.crossings.models import Crossing
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import alerts_of, detail
from tests.integration.checkpoint_devices import make_checkpoint

device_factory = checkpoint_devices.device_factory
CHECKPASS = Path(sys.executable).parent / "checkpass"


@pytest.fixture
def device(app, device_factory):
    return device_factory(make_checkpoint(app))


def verify(app):
    from datetime import UTC, datetime

    with Session(app.state.engine, expire_on_commit=False) as session:
        return {r.device_id: r for r in alerts.verify_chains(session=session, now=datetime.now(UTC))}


def cli(app, *args: str) -> subprocess.CompletedProcess:
    settings = app.state.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKPASS_")}
    env["CHECKPASS_HOME"] = str(settings.home)
    if settings.database_url:
        env["CHECKPASS_DATABASE_URL"] = settings.database_url
    return subprocess.run([str(CHECKPASS), *args], env=env, capture_output=True, text=True, timeout=120)


def test_an_intact_chain_verifies_on_demand(app, device, api):
    assert device.upload(*(device.record() for _ in range(5))).json()["accepted"] == 5
    report = verify(app)[device.device_id]
    assert report.ok and report.checked == 5
    answer = api("auditor").get(f"/api/v1/audit/devices/{device.device_id}/chain").json()
    assert answer == {
        "device_id": device.device_id,
        "checkpoint_id": device.checkpoint_id,
        "records_checked": 5,
        "ok": True,
        "continues_device": None,
        "first_bad": None,
    }
    assert alerts_of(app, rules.CHAIN_GAP) == alerts_of(app, rules.CHAIN_TAMPERED) == []


def test_a_gap_is_raised_on_ingest_and_closed_when_the_missing_records_arrive(app, device):
    records = [device.record() for _ in range(6)]
    assert device.upload(*records[:2]).json()["accepted"] == 2
    assert device.upload(*records[4:]).json()["accepted"] == 2  # 3 and 4 never came
    (gap,) = alerts_of(app, rules.CHAIN_GAP)
    assert (
        detail(gap) == {"problem": "GAP", "seq": 5, "missing": [3, 4]} and gap.crossing_id == records[4]["id"]
    )
    assert verify(app)[device.device_id].problem.missing == (3, 4)
    # They were only late (an outbox sending out of order): the gap closes by itself.
    assert device.upload(*records[2:4]).json()["accepted"] == 2
    (gap,) = alerts_of(app, rules.CHAIN_GAP)
    assert gap.status == "closed" and gap.note == "gap filled by a later upload" and gap.acted_by is None
    assert verify(app)[device.device_id].ok


def test_a_broken_link_is_raised_on_ingest(app, device):
    first = device.record()
    device.last_hash = "ab" * 32  # the device "forgets" the record it chained to
    second = device.record()
    assert device.upload(first, second).json()["accepted"] == 2  # the server stores what it receives
    (broken,) = alerts_of(app, rules.CHAIN_TAMPERED)
    assert detail(broken) == {"problem": "LINK_BROKEN", "seq": 2} and broken.crossing_id == second["id"]


def test_a_body_edited_in_the_database_is_found_by_verify_chains(app, device):
    records = [device.record() for _ in range(4)]
    assert device.upload(*records).json()["accepted"] == 4
    ok = cli(app, "audit", "verify-chains", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    # Someone with database access turns a refusal into a release.
    with Session(app.state.engine) as session:
        stored = session.get(Crossing, records[2]["id"])
        session.exec(
            update(Crossing)
            .where(Crossing.id == stored.id)
            .values(body_json=stored.body_json.replace('"name":"李娜"', '"name":"王五"'))
        )
        session.commit()
    found = cli(app, "audit", "verify-chains", "--json")
    assert found.returncode == 1, found.stderr
    (report,) = json.loads(found.stdout)["devices"]
    assert report["ok"] is False and report["records_checked"] == 3
    assert report["first_bad"] == {
        "problem": "BODY_EDITED",
        "seq": 3,
        "crossing_id": records[2]["id"],
        "missing": None,
    }
    (alert,) = alerts_of(app, rules.CHAIN_TAMPERED)
    assert alert.crossing_id == records[2]["id"] and detail(alert)["problem"] == "BODY_EDITED"
    people = cli(app, "audit", "verify-chains")
    assert (
        people.returncode == 1
        and "BODY_EDITED at seq 3" in people.stdout
        and "1 with a bad chain" in people.stdout
    )
    assert len(alerts_of(app, rules.CHAIN_TAMPERED)) == 1  # raised once, however often it is checked


def test_each_device_is_reported_on_its_own(app, device, device_factory):
    other = device_factory(device.checkpoint_id, "laptop 2")
    assert device.upload(*(device.record() for _ in range(3))).json()["accepted"] == 3
    skipped = [other.record() for _ in range(3)]
    assert other.upload(skipped[0], skipped[2]).json()["accepted"] == 2
    reports = verify(app)
    assert reports[device.device_id].ok
    assert reports[other.device_id].problem.problem == "GAP" and reports[other.device_id].problem.seq == 3


def continuing(device_factory, earlier, checkpoint_id: int, name: str):
    """The laptop enrolled again (here at ``checkpoint_id``): a new device whose records go on from ``earlier``'s."""
    later = device_factory(checkpoint_id, name)
    later.seq, later.last_hash = earlier.seq, earlier.last_hash
    return later


def test_a_laptop_enrolled_again_continues_its_chain_under_the_new_device(app, device, device_factory, api):
    assert device.upload(*(device.record() for _ in range(3))).json()["accepted"] == 3
    moved = continuing(
        device_factory, device, make_checkpoint(app, "G2 苏州西卡口", "320505"), "laptop 1 again"
    )
    assert moved.upload(*(moved.record() for _ in range(2))).json()["accepted"] == 2  # seq 4 and 5
    assert alerts_of(app, rules.CHAIN_GAP) == alerts_of(app, rules.CHAIN_TAMPERED) == []
    reports = verify(app)
    assert reports[device.device_id].ok and reports[device.device_id].checked == 3
    assert reports[moved.device_id].ok and reports[moved.device_id].checked == 2
    answer = api("auditor").get(f"/api/v1/audit/devices/{moved.device_id}/chain").json()
    assert answer["ok"] and answer["continues_device"] == device.device_id
    done = cli(app, "audit", "verify-chains")
    assert done.returncode == 0 and f"(continues device {device.device_id})" in done.stdout


def test_a_chain_that_forks_from_another_device_is_a_gap(app, device, device_factory):
    # The earlier device went on after the record the new one links to: two laptops carry one chain (a copy).
    assert device.upload(*(device.record() for _ in range(3))).json()["accepted"] == 3
    copy = continuing(device_factory, device, device.checkpoint_id, "copied laptop")
    assert device.upload(device.record()).json()["accepted"] == 1  # seq 4 of the original
    assert copy.upload(copy.record()).json()["accepted"] == 1  # seq 4 of the copy, on the same link
    (gap,) = alerts_of(app, rules.CHAIN_GAP)
    assert gap.device_id == copy.device_id and detail(gap) == {"problem": "GAP", "seq": 4, "missing": [1, 3]}
    assert verify(app)[copy.device_id].problem.problem == rules.GAP


def test_a_first_record_linking_to_nothing_stored_is_a_gap(app, device, device_factory):
    stranger = device_factory(device.checkpoint_id, "laptop 2")
    stranger.seq, stranger.last_hash = 7, "ab" * 32  # as if it continued a chain the server never saw
    assert stranger.upload(stranger.record()).json()["accepted"] == 1
    (gap,) = alerts_of(app, rules.CHAIN_GAP)
    assert detail(gap) == {"problem": "GAP", "seq": 8, "missing": [1, 7]}


def test_unknown_device_is_404(api):
    assert api("auditor").get("/api/v1/audit/devices/nonexistent/chain").status_code == 404
