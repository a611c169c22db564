"""Retention: personal and health data past the policy's retention period is anonymised — by `checkpass purge`
and once a day by the serving app — while the statistics and the chains stay as they were."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from passcore.chain import record_hash
from server.accounts.models import User
from server.alerts import rules
from server.alerts import service as alerts
from server.alerts.replay import replay_crossing
from server.crossings import escorts
from server.crossings.models import Crossing, CrossingConflict, EscortRequest
from server.policy import service as policy_service
from server.retention import schedule
from server.retention import service as retention
from server.retention.models import RetentionRun
from tests.integration import checkpoint_devices
from tests.integration.audit_helpers import alerts_of, detail
from tests.integration.checkpoint_devices import make_checkpoint

device_factory = checkpoint_devices.device_factory
CHECKPASS = Path(sys.executable).parent / "checkpass"
NOW = datetime.now(UTC)
OLD, RECENT = NOW - timedelta(days=40), NOW - timedelta(days=5)
PERSONAL = ("张伟", "李娜", "周敏", "138 1234 5678")


@pytest.fixture
def device(app, device_factory):
    return device_factory(make_checkpoint(app))


def statistics(app) -> dict:
    """What the dashboard and the daily summary count, from the columns and from the bodies."""
    with Session(app.state.engine) as session:
        rows = session.exec(select(Crossing)).all()
        waits = session.exec(
            select(EscortRequest.requested_at, EscortRequest.handed_over_at, EscortRequest.status)
        ).all()
    bodies = [json.loads(r.body_json) for r in rows]

    def fever(person):
        t = person["temperature_c"]
        return person["fever"] if t is None else Decimal(str(t)) >= Decimal("37.3")

    return {
        "per_outcome": Counter(r.outcome for r in rows),
        "per_checkpoint_hour": Counter(
            (r.checkpoint_id, r.decided_at.replace(minute=0, second=0, microsecond=0)) for r in rows
        ),
        "per_enterprise": Counter(r.enterprise_uscc for r in rows),
        "reasons": Counter(code for b in bodies for code in b["reasons"]),
        "people": Counter(p["role"] for b in bodies for p in b["occupants"]),
        "fever_people": sum(fever(p) for b in bodies for p in b["occupants"]),
        "escorts": sorted(waits, key=str),
        "hashes": sorted((r.device_id, r.seq, r.prev_hash, r.record_hash) for r in rows),
    }


def seed(app, device) -> dict[str, dict]:
    records = {
        "old_release": device.record(decided_at=OLD.isoformat()),
        "old_fever": device.record(
            decided_at=(OLD + timedelta(minutes=5)).isoformat(),
            outcome="MEDICAL_HOLD",
            reasons=["PASS_VALID", "FEVER"],
            occupants=[
                {
                    "role": "driver",
                    "name": "张伟",
                    "temperature_c": 38.6,
                    "origin": "320583",
                    "travel_history": ["420100"],
                },
                {
                    "role": "escort",
                    "name": "李娜",
                    "temperature_c": 36.5,
                    "origin": None,
                    "travel_history": [],
                },
            ],
        ),
        "old_escort": device.escort_record(decided_at=(OLD + timedelta(minutes=9)).isoformat()),
        "recent": device.record(decided_at=RECENT.isoformat()),
        "recent_escort": device.escort_record(decided_at=RECENT.isoformat()),
    }
    assert device.upload(*records.values()).json()["accepted"] == 5
    edited = records["old_release"] | {"plate": "苏EB9999"}
    edited["hash"] = record_hash(edited)
    assert device.upload(edited).json()["conflict"] == 1
    with Session(app.state.engine, expire_on_commit=False) as session:
        clerk = session.exec(select(User).where(User.username == "clerk")).one()
        for name in ("old_escort", "recent_escort"):
            escort = session.exec(
                select(EscortRequest).where(EscortRequest.crossing_id == records[name]["id"])
            ).one()
            at = datetime.fromisoformat(records[name]["decided_at"])
            escorts.answer(
                session=session,
                escort=escort,
                user=clerk,
                staff_name="周敏",
                staff_phone="138 1234 5678",
                eta=(at + timedelta(minutes=30)).isoformat(),
                timezone="Asia/Shanghai",
                now=at,
            )
            escorts.hand_over(
                session=session,
                escort=escort,
                at=at + timedelta(minutes=40),
                now=NOW,
                staff_name="吴芳",
                staff_id_last4="567X",
                officer="KS-0042",
            )
        session.exec(
            update(CrossingConflict).values(received_at=OLD + timedelta(hours=1))
        )  # the conflict is old too
        session.commit()
    return records


def purge(app, **kwargs) -> retention.PurgeReport:
    with Session(app.state.engine, expire_on_commit=False) as session:
        return retention.purge(session=session, now=NOW, **kwargs)


def stored(app, crossing_id: str) -> Crossing:
    with Session(app.state.engine) as session:
        return session.get(Crossing, crossing_id)


def test_records_past_retention_lose_personal_data_and_the_statistics_agree(app, device):
    records = seed(app, device)
    before = statistics(app)
    report = purge(app)
    assert (report.crossings, report.conflicts, report.escorts, report.edited) == (3, 1, 1, 0)
    assert report.retention_days == 28 and report.cutoff == NOW - timedelta(days=28)
    assert statistics(app) == before

    fever = stored(app, records["old_fever"]["id"])
    body = json.loads(fever.body_json)
    assert fever.purged_at is not None and fever.outcome == "MEDICAL_HOLD" and fever.plate == "苏EA1234"
    assert body["occupants"] == [
        {
            "role": "driver",
            "name": "",
            "temperature_c": None,
            "origin": None,
            "travel_history": [],
            "fever": True,
        },
        {
            "role": "escort",
            "name": "",
            "temperature_c": None,
            "origin": None,
            "travel_history": [],
            "fever": False,
        },
    ]
    assert body["reasons"] == ["PASS_VALID", "FEVER"] and body["checks"] == records["old_fever"]["checks"]
    for name in ("old_release", "old_fever", "old_escort"):
        text = stored(app, records[name]["id"]).body_json
        assert not any(word in text for word in PERSONAL)
        # Temperatures are looked for where they were, not as text: a decision time's fraction of a second
        # ("22:39:38.671411") can hold "38.6".
        assert all(person["temperature_c"] is None for person in json.loads(text)["occupants"])
    for name in ("recent", "recent_escort"):  # nothing newer is touched
        row = stored(app, records[name]["id"])
        assert row.purged_at is None and hashlib.sha256(row.body_json.encode()).hexdigest() == row.record_hash
    with Session(app.state.engine) as session:
        staff = {
            row[0]: tuple(row[1:])
            for row in session.exec(
                select(
                    EscortRequest.crossing_id,
                    EscortRequest.staff_name,
                    EscortRequest.handover_staff_name,
                    EscortRequest.handover_staff_id_last4,
                    EscortRequest.handover_officer,
                )
            ).all()
        }
        conflict = session.exec(select(CrossingConflict)).one()
    # Who was sent and who took the vehicle over go; the officer's number stays, like the crossing's.
    assert staff == {
        records["old_escort"]["id"]: ("", "", "", "KS-0042"),
        records["recent_escort"]["id"]: ("周敏", "吴芳", "567X", "KS-0042"),
    }
    assert conflict.purged_at is not None and "张伟" not in conflict.body_json

    # The chain still verifies (links and hashes are kept); the purged decision can no longer be replayed.
    with Session(app.state.engine) as session:
        (report_,) = alerts.verify_chains(session=session, now=NOW)
        replay = replay_crossing(session, session.get(Crossing, records["old_fever"]["id"]))
    assert report_.ok and report_.checked == 5
    assert not replay.replayable and replay.detail == "PURGED"


def test_purge_is_idempotent(app, device):
    records = seed(app, device)
    purge(app)
    after_first = {r: stored(app, records[r]["id"]).body_json for r in records}
    again = purge(app)
    assert (again.crossings, again.conflicts, again.escorts) == (0, 0, 0)
    assert {r: stored(app, records[r]["id"]).body_json for r in records} == after_first


def test_dry_run_counts_and_changes_nothing(app, device):
    records = seed(app, device)
    before = {r: stored(app, records[r]["id"]).body_json for r in records}
    report = purge(app, dry_run=True)
    assert (report.crossings, report.conflicts, report.escorts, report.dry_run) == (3, 1, 1, True)
    assert {r: stored(app, records[r]["id"]).body_json for r in records} == before


def test_the_retention_period_is_the_policys(app, device):
    seed(app, device)
    with Session(app.state.engine) as session:
        policy_service.set_policy(session=session, changes={"retention_days": 60}, now=NOW, by="test")
        session.commit()
    report = purge(app)
    assert (report.retention_days, report.crossings, report.conflicts) == (60, 0, 0)


def test_a_body_edited_before_the_purge_raises_an_alert_first(app, device):
    records = seed(app, device)
    with Session(app.state.engine) as session:
        session.exec(
            update(Crossing)
            .where(col(Crossing.id) == records["old_release"]["id"])
            .values(
                body_json=stored(app, records["old_release"]["id"]).body_json.replace("RELEASE", "REFUSE")
            )
        )
        session.commit()
    assert purge(app).edited == 1
    (alert,) = alerts_of(app, rules.CHAIN_TAMPERED)
    assert alert.crossing_id == records["old_release"]["id"] and detail(alert)["problem"] == "BODY_EDITED"


def test_the_command_line(app, device):
    seed(app, device)
    settings = app.state.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKPASS_")} | {
        "CHECKPASS_HOME": str(settings.home)
    }
    if settings.database_url:
        env["CHECKPASS_DATABASE_URL"] = settings.database_url

    def run(*args):
        done = subprocess.run(
            [str(CHECKPASS), "purge", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert json.loads(run("--dry-run", "--json"))["crossings"] == 3
    assert "would purge 3 crossings" in run("--dry-run")
    first = json.loads(run("--json"))
    assert (first["crossings"], first["dry_run"], first["retention_days"]) == (3, False, 28)
    assert json.loads(run("--json"))["crossings"] == 0


def test_the_schedule_runs_once_a_day_whatever_the_number_of_workers(app, device, caplog):
    seed(app, device)
    schedule.tick(app.state.engine, app.state.settings, NOW)  # worker 1
    schedule.tick(app.state.engine, app.state.settings, NOW + timedelta(minutes=1))  # worker 2, same day
    with Session(app.state.engine) as session:
        runs = session.exec(select(RetentionRun)).all()
        assert len(runs) == 1 and runs[0].crossings == 3 and runs[0].finished_at is not None
        purged = session.exec(select(Crossing).where(col(Crossing.purged_at).is_not(None))).all()
        assert len(purged) == 3
        assert schedule.claim_day(session, NOW) is None
    schedule.tick(app.state.engine, app.state.settings, NOW + timedelta(days=1))
    with Session(app.state.engine) as session:
        assert len(session.exec(select(RetentionRun)).all()) == 2
    assert "failed" not in caplog.text  # the sweep audits purged records without tripping over them


def test_the_app_runs_the_audit_thread_for_its_lifetime_only(app):
    import threading

    from fastapi.testclient import TestClient

    def audit_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "checkpass-audit"]

    assert audit_threads() == []
    with TestClient(app) as client:  # runs the app's lifespan, as `checkpass serve` does
        assert client.get("/healthz").status_code == 200
        assert len(audit_threads()) == 1
    assert audit_threads() == []
