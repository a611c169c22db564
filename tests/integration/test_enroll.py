"""`checkpoint enroll` and `checkpoint sync` as an officer runs them, against a real `checkpass serve`."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from checkpoint_client import device as devices
from checkpoint_client import truststore
from checkpoint_client.config import get_settings
from checkpoint_client.store import Store
from passcore.keys import PublicKey, generate_signing_key
from tests.integration.client_helpers import Bureau, demo_server, free_port, record_scenario

CHECKPOINT = str(Path(sys.executable).parent / "checkpoint")
EXIT_UNREACHABLE = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with demo_server(tmp_path_factory.mktemp("bureau"), "sqlite") as running:
        yield running


@pytest.fixture(scope="module")
def bureau(server) -> Bureau:
    return Bureau(server.url)


@pytest.fixture
def code(bureau) -> str:
    return bureau.code(bureau.checkpoint("G312 昆山东卡口"))


def checkpoint(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "CHECKPOINT_"))}
    environment |= {"CHECKPOINT_HOME": str(home), "CHECKPOINT_SYNC_BACKOFF_S": "0.01"} | env
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [CHECKPOINT, *args], env=environment, capture_output=True, text=True, timeout=120, cwd=home
    )


def test_enrol_pins_the_root_keeps_the_credential_private_and_fetches_the_bundle(server, code, tmp_path):
    home = tmp_path / "laptop"
    done = checkpoint(
        home, "enroll", "--server", server.url + "/", "--code", code.lower(), "--name", "东卡口 <b>1</b>"
    )
    assert done.returncode == 0, done.stderr
    assert "G312 昆山东卡口" in done.stdout and "trust bundle version" in done.stdout and done.stderr == ""
    settings = get_settings(home=home)
    credential = json.loads(settings.device_path.read_text(encoding="utf-8"))
    assert set(credential) == {"server", "device_id", "token", "checkpoint", "enrolled_at", "name"}
    assert credential["server"] == server.url and credential["name"] == "东卡口 <b>1</b>"
    assert credential["checkpoint"]["name"] == "G312 昆山东卡口" and credential["enrolled_at"].endswith("Z")
    assert credential["token"] not in done.stdout + done.stderr
    assert stat.S_IMODE(settings.device_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.device_path.parent.stat().st_mode) == 0o700
    assert credential["token"] not in repr(devices.load_device(settings))
    bureau_root = PublicKey.from_pem((server.home / "keys" / "root.pub.pem").read_bytes())
    assert truststore.pinned_root(settings).kid == bureau_root.kid
    # The fetched bundle is the one the checkpoint now decides with: a demo pass verifies offline.
    text = (server.home / "demo-out" / "kunshan" / "pass.txt").read_text().strip()
    verified = checkpoint(home, "verify", "--text", text, "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["valid"] is True
    synced = checkpoint(home, "sync", "--json")
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert report["uploaded"] == 0 and report["pending"] == 0 and report["bundle"]["version"] >= 1
    assert credential["token"] not in synced.stdout + synced.stderr


def test_enrol_json_leaves_the_token_out(server, code, tmp_path):
    done = checkpoint(tmp_path, "enroll", "--server", server.url, "--code", code, "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert "token" not in shown and shown["bundle_version"] >= 1 and shown["replaced"] is None
    assert devices.load_device(get_settings(home=tmp_path)).token not in done.stdout


@pytest.mark.parametrize("attempt", ["used", "unknown", "too-long-name"])
def test_refused_enrolment_says_why_and_writes_nothing(server, code, tmp_path, attempt):
    if attempt == "used":
        assert (
            checkpoint(tmp_path / "first", "enroll", "--server", server.url, "--code", code).returncode == 0
        )
    unknown = "AAAA-BBBB-CCCC-DDDD-" + code[20:]  # a secret never issued, with the right root fingerprint
    given = unknown if attempt == "unknown" else code
    name = ["--name", "长" * 101] if attempt == "too-long-name" else []
    done = checkpoint(tmp_path / "laptop", "enroll", "--server", server.url, "--code", given, *name)
    assert done.returncode == 2 and done.stdout == ""
    expected = {"used": "refused: ", "unknown": "refused: ", "too-long-name": "--name: 1 to 100 characters"}[
        attempt
    ]
    assert done.stderr.startswith("checkpoint: error: ") and expected in done.stderr
    if attempt != "too-long-name":
        assert {"used": "CODE_USED", "unknown": "CODE_UNKNOWN"}[attempt] in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    keys = tmp_path / "laptop" / "keys"
    assert not (keys / "device.json").exists() and not (keys / "root.pub.pem").exists()


def test_a_different_root_already_pinned_is_refused(server, code, tmp_path):
    settings = get_settings(home=tmp_path)
    other = truststore.pin_root_key(settings, generate_signing_key().public)
    done = checkpoint(tmp_path, "enroll", "--server", server.url, "--code", code)
    assert done.returncode == 2 and "different root key" in done.stderr
    assert truststore.pinned_root(settings).kid == other.kid and not settings.device_path.exists()


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:8000", "http://", "http://x/?a=1"])
def test_a_malformed_server_address_is_refused(tmp_path, url):
    done = checkpoint(tmp_path, "enroll", "--server", url, "--code", "ABCD")
    assert done.returncode == 2 and "is not a server address" in done.stderr


def test_unreachable_server_is_reported_with_its_own_exit_code(server, code, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    done = checkpoint(tmp_path, "enroll", "--server", dead, "--code", code, CHECKPOINT_SYNC_ATTEMPTS="2")
    assert done.returncode == EXIT_UNREACHABLE and "cannot be reached" in done.stderr
    assert (
        checkpoint(tmp_path, "enroll", "--server", server.url, "--code", code).returncode == 0
    )  # code unspent
    settings = get_settings(home=tmp_path)
    store = Store.open(settings.store_path)
    scenario = json.loads(
        (server.home / "demo-out" / "scenarios" / "release.json").read_text(encoding="utf-8")
    )
    now = datetime.now(UTC)
    record_scenario(store, scenario, truststore.held_bundle(settings, now=now), now)
    store.close()
    device = devices.load_device(settings)
    devices.save_device(
        settings, devices.Device(**{**devices.public_json(device), "token": device.token, "server": dead})
    )
    down = checkpoint(tmp_path, "sync", CHECKPOINT_SYNC_ATTEMPTS="3")
    assert (
        down.returncode == EXIT_UNREACHABLE
        and "cannot be reached" in down.stderr
        and "3 attempt" in down.stderr
    )
    assert len(down.stderr.strip().splitlines()) == 1
    devices.save_device(settings, device)
    up = checkpoint(tmp_path, "sync")
    assert up.returncode == 0 and "uploaded 1 record" in up.stdout and "0 still waiting" in up.stdout


def test_sync_before_enrolment_says_how_to_enrol(tmp_path):
    done = checkpoint(tmp_path, "sync")
    assert done.returncode == 2 and "checkpoint enroll --server URL --code CODE" in done.stderr


def test_revoked_device_enrols_again_and_its_waiting_decisions_still_go_up(server, bureau, tmp_path):
    checkpoint_id = bureau.checkpoint()
    assert (
        checkpoint(
            tmp_path, "enroll", "--server", server.url, "--code", bureau.code(checkpoint_id)
        ).returncode
        == 0
    )
    settings = get_settings(home=tmp_path)
    first = devices.load_device(settings)
    store = Store.open(settings.store_path)
    scenario = json.loads(
        (server.home / "demo-out" / "scenarios" / "no-pass.json").read_text(encoding="utf-8")
    )
    now = datetime.now(UTC)
    record_scenario(store, scenario, truststore.held_bundle(settings, now=now), now)
    assert checkpoint(tmp_path, "sync").returncode == 0  # seq 1 goes up as the first device
    record_scenario(store, scenario, truststore.held_bundle(settings, now=now), now)
    bureau.revoke(checkpoint_id, first.device_id)
    refused = checkpoint(tmp_path, "sync")
    assert refused.returncode == 2 and "revoked" in refused.stderr and "checkpoint enroll" in refused.stderr
    again = checkpoint(tmp_path, "enroll", "--server", server.url, "--code", bureau.code(checkpoint_id))
    assert (
        again.returncode == 0 and f"replaces the earlier enrolment (device {first.device_id})" in again.stdout
    )
    synced = checkpoint(tmp_path, "sync", "--json")
    assert synced.returncode == 0 and json.loads(synced.stdout)["uploaded"] == 1
    assert store.pending_count() == 0 and store.verify() == 2
    store.close()
    # The new device carries the laptop's chain on from the first device's last record: no gap for the audit.
    second = devices.load_device(settings)
    chain = bureau.admin.get(f"/api/v1/audit/devices/{second.device_id}/chain").json()
    assert chain["ok"] and chain["records_checked"] == 1 and chain["continues_device"] == first.device_id
    gaps = bureau.admin.get("/api/v1/audit/alerts", params={"kind": "chain_gap"}).json()
    assert [a for a in gaps["alerts"] if a["device_id"] == second.device_id] == []
