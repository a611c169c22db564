"""One crossing-record contract: a field added to ``passcore/crossing.py``, and nowhere else, reaches the
checkpoint's records, the server's schema and ingest, the audit's replay and the retention purge.

The test copies the project's packages and tests into a temporary folder, adds two fields to the contract there
(an ordinary one on the record, a personal one on each occupant) and runs a probe test against that copy in a new
Python process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from passcore import crossing

ROOT = Path(__file__).resolve().parents[2]

# Where each field goes in the contract's source, and the field. Each anchor must appear exactly once.
PATCHES = [
    (
        "    checks: Checks\n",
        '    lane: int = Field(default=1, ge=1, le=16, description="the checkpoint lane")\n',
    ),
    (
        '        max_length=MAX_HISTORY, description="14-day travel history"\n    )\n',
        '    seat_note: Annotated[str, Field(max_length=20), Personal("")] = "前排"\n',
    ),
]

PROBE = '''
"""Runs inside the patched copy (see test_record_contract.py)."""

import json
import os
import uuid
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from checkpoint_client.store import Store
from passcore import crossing
from passcore.chain import record_hash
from server.alerts.replay import replay_crossing
from server.crossings.models import Crossing
from server.retention import service as retention
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import ago, issue_pass, publish, scenario
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.client_helpers import record_scenario

device_factory = checkpoint_devices.device_factory


def test_the_added_fields_reach_every_part(app, device_factory, tmp_path):
    assert crossing.__file__.startswith(os.environ["CONTRACT_COPY"]), crossing.__file__

    # The checkpoint: a decision stored on the laptop carries both fields, inside its hash.
    _, qr = issue_pass(app)
    bundle = publish(app)
    store = Store.open(tmp_path / "laptop" / "store.db")
    _, _, stored = record_scenario(store, scenario(qr), bundle, ago(minutes=5))
    record = stored.record
    assert record["lane"] == 1
    assert [person["seat_note"] for person in record["occupants"]] == ["前排", "前排"]
    assert store.verify() == 1

    # The server's schema documents them, and its ingest checks them.
    schemas = app.openapi()["components"]["schemas"]
    assert "lane" in schemas["CrossingRecord"]["properties"]
    assert "seat_note" in schemas["OccupantRecord"]["properties"]
    device = device_factory(make_checkpoint(app))
    assert device.upload(record).json()["accepted"] == 1
    bad = dict(record, id=str(uuid.uuid4()), seq=2, prev_hash=record["hash"], lane=0)
    bad["hash"] = record_hash(bad)
    result = device.upload(bad).json()["results"][0]
    assert (result["status"], result["code"]) == ("invalid", "SCHEMA_INVALID")
    assert result["detail"].startswith("lane"), result

    # The replay reads the record through the contract: it matches, and a lane edited out of range does not.
    with Session(app.state.engine) as session:
        row = session.get(Crossing, record["id"])
        assert replay_crossing(session, row).matches
        row.body_json = json.dumps(json.loads(row.body_json) | {"lane": 99}, ensure_ascii=False)
        edited = replay_crossing(session, row)
        assert edited.detail == "NOT_A_RECORD" and "lane" in edited.message
        session.rollback()

    # The purge blanks the personal field and keeps the other.
    with Session(app.state.engine) as session:
        report = retention.purge(session=session, now=datetime.now(UTC) + timedelta(days=400))
        assert report.crossings == 1
        body = json.loads(session.get(Crossing, record["id"]).body_json)
    assert body["lane"] == 1
    assert [(p["name"], p["seat_note"]) for p in body["occupants"]] == [("", ""), ("", "")]
'''


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    skip = shutil.ignore_patterns("__pycache__", "vectors", "*.pyc")
    for package in ("passcore", "server", "checkpoint_client", "tests"):
        shutil.copytree(ROOT / package, copy / package, ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_contract_patch_still_applies():
    source = Path(crossing.__file__).read_text(encoding="utf-8")
    assert [source.count(anchor) for anchor, _ in PATCHES] == [1] * len(PATCHES)


def test_a_field_added_to_the_contract_reaches_client_server_replay_and_purge(tmp_path):
    copy = _copy(tmp_path)
    contract = copy / "passcore" / "crossing.py"
    source = contract.read_text(encoding="utf-8")
    for anchor, field in PATCHES:
        source = source.replace(anchor, anchor + field)
    contract.write_text(source, encoding="utf-8")
    probe = copy / "tests" / "integration" / "test_contract_probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    env = os.environ | {"PYTHONPATH": str(copy), "CONTRACT_COPY": str(copy)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "2 passed" in output and "skipped" not in output, output
