"""Helpers for the checkpoint client's store, enrolment and sync tests.

``record_scenario`` decides a vehicle the way the screen does (``station.evaluate``) and stores the decision.
``ServerProcess`` is a real `checkpass serve` on 127.0.0.1 over demo data (SQLite or PostgreSQL) that a test can
SIGKILL and start again; ``Bureau`` drives it as the bureau's administrator and the enterprise clerk would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from checkpoint_client import device as devices
from checkpoint_client import station, truststore
from checkpoint_client.config import Settings, get_settings
from checkpoint_client.store import Store, StoredCrossing
from checkpoint_client.sync import SyncReport, sync_once
from passcore import rules, trust
from tests import logscan
from tests.conftest import PG_ADMIN_URL, _pg_unavailable

BIN = Path(sys.executable).parent
DEMO_PASSWORD = "checkpass-demo-2020"


def record_scenario(
    store: Store, scenario: dict[str, Any], bundle: trust.TrustBundle, now: datetime
) -> tuple[trust.Verification | None, rules.Decision, StoredCrossing]:
    """Decide a vehicle from a scenario (as `checkpoint decide` reads it) and store the decision."""
    parsed = station.parse_scenario(scenario)
    verification, decision = station.evaluate(parsed, bundle, now=now)
    observed = parsed.observed
    if verification is None:
        checks = dict.fromkeys(("identity_confirmed", "licence_confirmed", "id_last4_matched"))
    else:
        typed = observed.id_last4 is not None
        checks = {
            "identity_confirmed": observed.identity_confirmed,
            "licence_confirmed": observed.licence_confirmed,
            "id_last4_matched": ("PERSON_MISMATCH" not in decision.reasons) if typed else None,
        }
    stored = store.record_decision(
        decision,
        occupants=parsed.occupants,
        verification=verification.code if verification else None,
        checks=checks,
        vehicle_origin=parsed.vehicle_origin,
    )
    return verification, decision, stored


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_thread(app: Any, **options: Any) -> Iterator[int]:
    """``app`` behind a real uvicorn on 127.0.0.1, in a thread of this process: its port, while the block runs."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            pytest.fail("uvicorn stopped before it served: see its messages above")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join()


class ServerProcess:
    """`checkpass serve` in its own process: start, SIGKILL, start again (same port, same database)."""

    def __init__(self, home: Path, database_url: str | None, workers: int = 1) -> None:
        self.home, self.database_url, self.workers = home, database_url, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "CHECKPOINT_"))}
        self.env["CHECKPASS_HOME"] = str(home)
        # The server's periodic audit thread (issue 5) is not what these tests look at; at start-up its sweep
        # competes with uploads for SQLite's write lock, which would make their timing arbitrary.
        self.env["CHECKPASS_AUDIT_SCHEDULE"] = "false"
        if database_url:
            self.env["CHECKPASS_DATABASE_URL"] = database_url
        self.process: subprocess.Popen[bytes] | None = None

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [str(BIN / "checkpass"), *args], env=self.env, cwd=self.home, capture_output=True, timeout=180
        )
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode()

    def start(self) -> None:
        # Kept for a failing test's post-mortem, and scanned for personal data when the session ends.
        with open(logscan.track(self.home / "server.log"), "ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "checkpass"), "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env=self.env,
                cwd=self.home,
                stdout=log,
                stderr=log,
            )
        for _ in range(300):
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.process.kill()
        pytest.fail("the server did not start within 30 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye — whatever request it was serving is cut off."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def engine(self):
        """An engine on the server's own database, to look at what it stored."""
        from server import db
        from server.config import get_settings

        return db.make_engine(get_settings(home=self.home, database_url=self.database_url))


class Bureau:
    """The bureau's side over HTTP: an administrator (demo-admin) and the enterprise clerks."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = httpx.Client(base_url=url, timeout=30)
        token = self.admin.post(
            "/api/v1/auth/token", json={"username": "demo-admin", "password": DEMO_PASSWORD}
        )
        assert token.status_code == 200, token.text
        self.admin.headers["authorization"] = f"Bearer {token.json()['token']}"

    def checkpoint(self, name: str | None = None) -> int:
        body = {"name": name or f"卡口 {uuid.uuid4().hex[:6]}", "region": "320583", "location": "G312"}
        answer = self.admin.post("/api/v1/checkpoints", json=body)
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    def code(self, checkpoint_id: int) -> str:
        answer = self.admin.post(f"/api/v1/checkpoints/{checkpoint_id}/enrolment-codes")
        assert answer.status_code == 201, answer.text
        return str(answer.json()["code"])

    def revoke(self, checkpoint_id: int, device_id: str) -> None:
        answer = self.admin.post(f"/api/v1/checkpoints/{checkpoint_id}/devices/{device_id}/revoke")
        assert answer.status_code == 200, answer.text

    def answer_escort(self, username: str, escort_id: int, *, staff: str, phone: str, eta: str) -> None:
        """The enterprise clerk answers on the portal: sign in, open the request, send the form."""
        with httpx.Client(base_url=self.url, timeout=30, headers={"accept": "text/html"}) as clerk:
            clerk.get("/login")
            signed_in = clerk.post(
                "/login",
                data={
                    "username": username,
                    "password": DEMO_PASSWORD,
                    "csrf_token": clerk.cookies["cp_csrf"],
                },
            )
            assert signed_in.status_code in (200, 303), signed_in.text
            page = clerk.get(f"/enterprise/escorts/{escort_id}")
            assert page.status_code == 200, page.text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf is not None
            sent = clerk.post(
                f"/enterprise/escorts/{escort_id}",
                data={"staff_name": staff, "staff_phone": phone, "eta": eta, "csrf_token": csrf.group(1)},
            )
            assert sent.status_code == 303 and "answered=" in sent.headers["location"], sent.text


@contextmanager
def _database(kind: str) -> Iterator[str | None]:
    """None for the embedded SQLite; else a new PostgreSQL database, dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as err:  # any failure to connect means: no server here
        _pg_unavailable(err)
    name = f"checkpass_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}".replace(
                "postgresql://", "postgresql+psycopg://", 1
            )
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def demo_server(home: Path, kind: str, workers: int = 1) -> Iterator[ServerProcess]:
    """A real server on demo data (Hubei hard-hit, demo passes and accounts) on ``kind`` (sqlite|postgres)."""
    with _database(kind) as database_url:
        server = ServerProcess(home, database_url, workers)
        server.run("demo", "--out", str(home / "demo-out"))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def bureau_server(request, tmp_path_factory) -> Iterator[ServerProcess]:
    """demo_server on SQLite and on PostgreSQL, shared by a module's tests (each makes its own checkpoint)."""
    with demo_server(tmp_path_factory.mktemp(f"bureau-{request.param}"), request.param) as server:
        yield server


@pytest.fixture(scope="module")
def bureau(bureau_server) -> Bureau:
    return Bureau(bureau_server.url)


@dataclass
class Checkpoint:
    """An enrolled laptop: its settings, store and held bundle; decides demo scenarios and syncs."""

    settings: Settings
    store: Store
    device: devices.Device
    scenarios: dict[str, dict[str, Any]]
    sleeps: list[float] = field(default_factory=list)

    def bundle(self, now: datetime | None = None) -> trust.TrustBundle:
        return truststore.held_bundle(self.settings, now=now or datetime.now(UTC))

    def decide(self, name: str, now: datetime | None = None) -> StoredCrossing:
        now = now or datetime.now(UTC)
        return record_scenario(self.store, self.scenarios[name], self.bundle(now), now)[2]

    def sync(self, **options: Any) -> SyncReport:
        # Back-off sleeps are recorded, not slept: the tests assert them instead of waiting for them.
        return sync_once(self.settings, self.store, sleep=self.sleeps.append, **options)


def enrol_checkpoint(server: ServerProcess, bureau: Bureau, home: Path, **settings: Any) -> Checkpoint:
    config = get_settings(home=home, **settings)
    code = bureau.code(bureau.checkpoint())
    done = devices.enrol(config, server=server.url, code=code, name="东卡口 笔记本 1", now=datetime.now(UTC))
    assert done.bundle_version is not None and done.bundle_problem is None
    scenarios = {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in (server.home / "demo-out" / "scenarios").glob("*.json")
    }
    return Checkpoint(config, Store.open(config.store_path), done.device, scenarios)


@pytest.fixture
def checkpoint(bureau_server, bureau, tmp_path):
    made = enrol_checkpoint(bureau_server, bureau, tmp_path / "checkpoint")
    yield made
    made.store.close()
