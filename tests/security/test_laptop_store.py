"""The checkpoint laptop's own store (issue 11, "Data at rest"): its folder and files are the officer's account's
only; decisions the server holds are purged once older than the policy's retention (`checkpoint purge`, and once a
day after a sync that went well), unsynced ones never; the chain still verifies and goes on; nothing of a purged
decision stays in the file or its WAL."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from checkpoint_client import truststore
from checkpoint_client.cli.root import app as checkpoint_app
from checkpoint_client.config import get_settings
from checkpoint_client.device import Device, save_device
from checkpoint_client.store import Store
from checkpoint_client.sync import sync_once
from passcore import trust
from passcore.chain import ChainBroken
from passcore.keys import generate_signing_key
from tests import factories
from tests.integration.client_helpers import record_scenario

NOW = datetime.now(UTC)
OLD, RECENT = NOW - timedelta(days=40), NOW - timedelta(days=1)
FUTURE = datetime(2099, 1, 1, tzinfo=UTC)  # a laptop clock gone wrong


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def settings(tmp_path):
    return get_settings(home=tmp_path / "checkpoint")


@pytest.fixture
def bundle(settings):
    """A bundle held by the laptop (policy: retention 28 days), imported the way `checkpoint bundle import` does."""
    root = generate_signing_key()
    made = factories.make_bundle(
        [factories.issuer(generate_signing_key())], issued_at=NOW - timedelta(hours=1)
    )
    truststore.pin_root_key(settings, root.public)
    truststore.accept_bundle(settings, trust.sign_bundle(made, root), now=NOW)
    return made


@pytest.fixture
def store(settings, bundle):
    opened = Store.open(settings.store_path)
    yield opened
    opened.close()


def decide(store: Store, bundle, name: str, at: datetime):
    scenario = {
        "observed": {"plate": "浙A·12345"},
        "vehicle_origin": "330100",
        "occupants": [{"role": "driver", "name": name, "temperature_c": 36.6}],
    }
    return record_scenario(store, scenario, bundle, at)[2]


def on_disk(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_the_laptops_state_is_the_officers_only_even_when_the_bundle_made_db_first(settings, bundle):
    # The bundle import makes db/ before any decision is stored: it is private from the start.
    assert mode(settings.bundle_path.parent) == 0o700 and mode(settings.bundle_path) == 0o600
    settings.bundle_path.parent.chmod(0o755)  # as an older version left it
    store = Store.open(settings.store_path)
    try:
        decide(store, bundle, "孙磊", RECENT)
        assert mode(settings.store_path.parent) == 0o700
        for suffix in ("", "-wal", "-shm"):
            assert mode(settings.store_path.with_name(settings.store_path.name + suffix)) == 0o600, suffix
    finally:
        store.close()


def seed(store: Store, bundle) -> dict[str, str]:
    """seq 1 old synced, 2 dated 2099 synced, 3 old synced, 4 old pending, 5 recent synced, 6 recent pending."""
    made = {
        "old_1": decide(store, bundle, "欧阳甲", OLD),
        "future": decide(store, bundle, "欧阳乙", FUTURE),
        "old_3": decide(store, bundle, "欧阳丙", OLD + timedelta(hours=1)),
        "old_pending": decide(store, bundle, "诸葛待", OLD + timedelta(hours=2)),
        "recent": decide(store, bundle, "上官新", RECENT),
        "recent_pending": decide(store, bundle, "东方新", RECENT),
    }
    store.mark_synced([made[name].id for name in ("old_1", "future", "old_3", "recent")])
    return {name: crossing.id for name, crossing in made.items()}


def test_purge_removes_only_old_synced_decisions_and_the_chain_goes_on(store, bundle):
    ids = seed(store, bundle)
    done = store.purge(NOW - timedelta(days=28))
    assert (done.decisions, done.kept_unsynced) == (3, 1)
    assert {name for name, rid in ids.items() if store.get(rid)} == {
        "old_pending",
        "recent",
        "recent_pending",
    }
    assert store.pending_count() == 2
    assert store.verify() == 3  # what remains still links up, across the purged run
    content = on_disk(store.path)
    assert [n for n in ("欧阳甲", "欧阳乙", "欧阳丙") if n.encode() in content] == []
    assert "诸葛待".encode() in content and "上官新".encode() in content

    # Everything synced and purged: the next decision still continues the chain (never seq 1 again).
    store.mark_synced(ids.values())
    assert store.purge(NOW + timedelta(days=1)).decisions == 3
    assert store.verify() == 0
    after = decide(store, bundle, "新记录", NOW)
    assert after.seq == 7 and store.verify() == 1


def test_a_purged_run_that_does_not_link_is_caught(store, bundle):
    seed(store, bundle)
    store.purge(NOW - timedelta(days=28))
    conn = store._db.conn()
    conn.execute("UPDATE purged_run SET last_hash = ?", ("0" * 64,))
    with pytest.raises(ChainBroken):
        store.verify()


def test_checkpoint_purge_uses_the_held_policys_retention(settings, store, bundle, monkeypatch):
    ids = seed(store, bundle)
    store.close()
    monkeypatch.setenv("CHECKPOINT_HOME", str(settings.home))
    result = CliRunner().invoke(checkpoint_app, ["purge", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert (answer["decisions"], answer["kept_unsynced"], answer["retention_days"]) == (3, 1, 28)
    reopened = Store.open(settings.store_path)
    try:
        assert reopened.get(ids["old_pending"]) is not None and reopened.get(ids["old_1"]) is None
        assert reopened.verify() == 3
    finally:
        reopened.close()
    human = CliRunner().invoke(checkpoint_app, ["purge"])
    assert human.exit_code == 0 and "purged 0 decision(s)" in human.output


def fake_server(accepted: list[str]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/crossings":
            records = json.loads(request.content)["records"]
            accepted.extend(r["id"] for r in records)
            results = [{"index": i, "id": r["id"], "status": "accepted"} for i, r in enumerate(records)]
            return httpx.Response(200, json={"results": results})
        if request.url.path == "/api/v1/trust-bundle":
            return httpx.Response(304)
        if request.url.path == "/api/v1/escorts":
            return httpx.Response(200, json={"server_time": NOW.isoformat(), "escorts": [], "more": False})
        return httpx.Response(404)

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_a_sync_that_went_well_purges_once_a_day(settings, store, bundle):
    save_device(settings, Device(server="http://127.0.0.1:8000", device_id="a" * 32, token="secret-token"))
    ids = seed(store, bundle)
    accepted: list[str] = []
    with fake_server(accepted) as client:
        report = sync_once(settings, store, client=client, now=NOW)
        assert set(accepted) == {ids["old_pending"], ids["recent_pending"]}
        # All six are on the server now: the four old ones go (the 2099 one with them), the recent stay.
        assert (report.purge["decisions"], report.purge["kept_unsynced"]) == (4, 0)
        assert store.verify() == 2
        # Later the same UTC day (an hour later would be tomorrow when the suite runs just before midnight).
        end_of_day = datetime.combine(NOW.date(), time.max, tzinfo=UTC)
        again = sync_once(settings, store, client=client, now=NOW + (end_of_day - NOW) / 2)
        assert again.purge == {}  # once a day
