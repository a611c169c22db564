"""/metrics (server/ops): only for a configured scraper; requests by route template, ingest records by status,
sign-in failures, the audit queue, the trust bundle and the open alerts; several workers add up (SQLite and
PostgreSQL; the multi-worker test on PostgreSQL, as `serve --workers` is meant to run)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, create_engine

from server.alerts import queue
from server.alerts.models import ALERT_ACKNOWLEDGED, ALERT_CLOSED, ALERT_OPEN, Alert
from server.bundles import service as bundles
from server.cli import serve as serve_cli
from server.config import get_settings
from server.deps import get_now
from server.ops import metrics
from tests import logscan
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.client_helpers import BIN, free_port

device_factory = checkpoint_devices.device_factory  # the fixture, for this module

TOKEN = "scrape-" + "x7Qm2" * 6
SCRAPER = {"authorization": f"Bearer {TOKEN}"}
T0 = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def app_settings(tmp_path, database_url):
    return get_settings(
        home=tmp_path,
        database_url=database_url,
        metrics_token=TOKEN,
        # A Prometheus in the operators' network, and one on this machine; nginx on this machine is our proxy.
        metrics_networks="10.9.0.0/16, 127.0.0.0/8",
        trusted_proxies="127.0.0.1",
        login_max_failures=1,
    )


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) -> value, from the text format."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def scrape(app) -> tuple[str, dict]:
    with TestClient(app) as client:
        answer = client.get("/metrics", headers=SCRAPER)
    assert answer.status_code == 200, answer.text
    return answer.text, samples(answer.text)


def test_with_neither_token_nor_network_set_metrics_is_not_there(app, portal, api):
    app.state.settings = app.state.settings.model_copy(update={"metrics_token": None, "metrics_networks": []})
    for client in (TestClient(app, client=("10.9.1.1", 40000)), portal("admin"), api("admin")):
        assert client.get("/metrics", headers=SCRAPER).status_code == 404
    with TestClient(app, client=("127.0.0.1", 40000)) as local:
        answer = local.get("/metrics", headers=SCRAPER)
    assert answer.status_code == 404 and answer.json()["code"] == "NOT_FOUND"


def test_the_scraper_token_opens_it_and_nothing_else_does(app, portal, api):
    with TestClient(app, client=("203.0.113.7", 40000)) as public:
        assert public.get("/metrics", headers=SCRAPER).status_code == 200
        assert public.get("/metrics", headers={"authorization": "Bearer " + TOKEN[:-1]}).status_code == 404
        assert public.get("/metrics", headers={"authorization": TOKEN}).status_code == 404
        assert public.get(f"/metrics?token={TOKEN}").status_code == 404
        assert public.get("/metrics").status_code == 404
    # Signed in as the administrator, by session or by API token: still not a scraper.
    admin_page = portal("admin").get("/metrics")
    assert admin_page.status_code == 404 and "checkpass_" not in admin_page.text
    assert api("admin").get("/metrics").status_code == 404
    answer = TestClient(app, client=("203.0.113.7", 40000)).get("/metrics", headers=SCRAPER)
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert value(samples(answer.text), "checkpass_database_up") == 1


@pytest.mark.parametrize(
    ("peer", "forwarded", "allowed"),
    [
        ("10.9.3.4", None, True),  # the operators' Prometheus
        ("10.10.0.1", None, False),  # next door
        ("127.0.0.1", None, True),  # a scraper on this machine
        ("127.0.0.1", "10.9.3.4", True),  # relayed by our nginx for the operators' Prometheus
        ("127.0.0.1", "203.0.113.7", False),  # relayed by our nginx for someone on the internet
        ("203.0.113.7", "10.9.3.4", False),  # not our proxy: its X-Forwarded-For is not believed
    ],
)
def test_a_network_is_checked_on_the_callers_address_as_the_trusted_proxies_resolve_it(
    app, peer, forwarded, allowed
):
    headers = {"x-forwarded-for": forwarded} if forwarded else {}
    with TestClient(app, client=(peer, 40000)) as client:
        answer = client.get("/metrics", headers=headers)
    assert answer.status_code == (200 if allowed else 404)


def test_requests_are_counted_by_route_template_never_by_raw_path(app, api):
    pass_id = uuid.uuid4().hex[:24]
    _, before = scrape(app)
    client = api("auditor")
    for _ in range(3):
        assert client.get(f"/api/v1/passes/{pass_id}").status_code in (403, 404)
    assert client.get(f"/no/such/page/{pass_id}").status_code == 404
    text, after = scrape(app)
    route = {"method": "GET", "route": "/api/v1/passes/{pass_id}"}
    counted = sum(
        v - value(before, name, **dict(labels))
        for (name, labels), v in after.items()
        if name == "checkpass_http_requests_total" and route.items() <= dict(labels).items()
    )
    assert counted == 3
    assert (
        value(after, "checkpass_http_request_duration_seconds_count", **route)
        - value(before, "checkpass_http_request_duration_seconds_count", **route)
        == 3
    )
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert (
        value(after, "checkpass_http_requests_total", **unmatched)
        - value(before, "checkpass_http_requests_total", **unmatched)
        == 1
    )
    assert pass_id not in text


def test_ingest_records_are_counted_by_status(app, device_factory):
    device = device_factory(make_checkpoint(app))
    _, before = scrape(app)
    first, second = device.record(), device.record()
    assert device.upload(first, second).status_code == 200
    broken = device.record() | {"plate": "苏EB9999"}  # changed after hashing
    answer = device.upload(first, broken)
    assert [r["status"] for r in answer.json()["results"]] == ["duplicate", "invalid"]
    _, after = scrape(app)
    added = {
        status: value(after, "checkpass_ingest_records_total", status=status)
        - value(before, "checkpass_ingest_records_total", status=status)
        for status in ("accepted", "duplicate", "conflict", "invalid")
    }
    assert added == {"accepted": 2, "duplicate": 1, "conflict": 0, "invalid": 1}


def test_sign_in_failures_are_counted_by_reason(app):
    _, before = scrape(app)
    with TestClient(app) as client:
        for expected in (401, 429):  # login_max_failures=1: the second try waits
            answer = client.post(
                "/api/v1/auth/token", json={"username": "clerk", "password": "wrong-guess-1"}
            )
            assert answer.status_code == expected
    _, after = scrape(app)
    for reason in ("credentials", "throttled"):
        assert (
            value(after, "checkpass_signin_failures_total", reason=reason)
            - value(before, "checkpass_signin_failures_total", reason=reason)
            == 1
        )


def test_the_audit_queue_length_and_lag_are_read_at_scrape_time(app):
    app.dependency_overrides[get_now] = lambda: T0 + timedelta(minutes=2)
    _, empty = scrape(app)
    assert value(empty, "checkpass_audit_queue_length") == 0
    assert value(empty, "checkpass_audit_queue_lag_seconds") == 0
    with Session(app.state.engine) as session:
        queue.enqueue(
            session, device_id="d" * 32, crossings=[str(uuid.uuid4()) for _ in range(3)], conflicts=[], now=T0
        )
        queue.enqueue(
            session,
            device_id="d" * 32,
            crossings=[str(uuid.uuid4())],
            conflicts=[],
            now=T0 + timedelta(seconds=30),
        )
        session.commit()
    _, found = scrape(app)
    assert value(found, "checkpass_audit_queue_length") == 4
    assert value(found, "checkpass_audit_queue_lag_seconds") == 120.0


def test_the_newest_bundle_version_and_its_age(app):
    with Session(app.state.engine, expire_on_commit=False) as session:
        published = bundles.publish(session=session, settings=app.state.settings, now=T0)
        session.commit()
    app.dependency_overrides[get_now] = lambda: published.issued_at + timedelta(seconds=90)
    _, found = scrape(app)
    assert value(found, "checkpass_bundle_version") == published.version
    assert value(found, "checkpass_bundle_age_seconds") == 90.0
    left = (published.expires_at - published.issued_at).total_seconds() - 90
    assert value(found, "checkpass_bundle_expires_in_seconds") == left


def test_alerts_not_closed_are_counted_by_kind_and_status(app):
    rows = [
        ("clone_suspected", ALERT_OPEN),
        ("clone_suspected", ALERT_OPEN),
        ("clone_suspected", ALERT_ACKNOWLEDGED),
        ("chain_broken", ALERT_OPEN),
        ("chain_broken", ALERT_CLOSED),
    ]
    with Session(app.state.engine) as session:
        for number, (kind, status) in enumerate(rows):
            session.add(
                Alert(
                    kind=kind,
                    status=status,
                    dedupe_key=f"metrics-test-{number}",
                    occurred_at=T0,
                    created_at=T0,
                )
            )
        session.commit()
    _, found = scrape(app)
    opened = {
        dict(labels)["kind"] + "/" + dict(labels)["status"]: v
        for (name, labels), v in found.items()
        if name == "checkpass_alerts_open"
    }
    assert opened == {"chain_broken/open": 1, "clone_suspected/acknowledged": 1, "clone_suspected/open": 2}


def test_a_database_that_does_not_answer_still_gives_the_counters(tmp_path):
    unreachable = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    with Session(unreachable) as session:
        found = samples(metrics.exposition(session, T0).decode())
    assert value(found, "checkpass_database_up") == 0
    assert ("checkpass_audit_queue_length", frozenset()) not in found
    assert any(name.startswith("checkpass_signin_failures") for name, _ in found)


def no_metrics_dir(monkeypatch) -> None:
    """PROMETHEUS_MULTIPROC_DIR unset for the test, and unset again after it even when `serve` sets it: a plain
    delenv of an absent variable records nothing to undo, and the directory `serve` made (removed by the test)
    would stay in the environment of every process the later tests start (prometheus_client refuses it)."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")


def test_serve_with_one_worker_counts_in_memory(monkeypatch):
    no_metrics_dir(monkeypatch)
    assert serve_cli.make_metrics_dir(1) is None
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


def test_serve_with_several_workers_gets_a_fresh_metrics_directory(monkeypatch):
    no_metrics_dir(monkeypatch)
    made = serve_cli.make_metrics_dir(2)
    try:
        assert made is not None and made.is_dir() and list(made.iterdir()) == []
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(made)
    finally:
        if made is not None:
            made.rmdir()


def _stale_counts(directory: Path) -> None:
    """What an earlier run left: 1000 /healthz requests counted in a file of a process long gone."""
    script = (
        "from server.ops import counters\n"
        "counters.HTTP_REQUESTS.labels(method='GET', route='/healthz', status='200').inc(1000)\n"
    )
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    assert list(directory.glob("counter_*.db"))


def test_two_workers_count_into_one_exposition(tmp_path, postgres_url):
    """`serve --workers 2` on PostgreSQL: every request is counted once, whichever worker answered it and
    whichever worker answers the scrape; an earlier run's counts are wiped at start."""
    shared, home = tmp_path / "prometheus", tmp_path / "home"
    shared.mkdir()
    home.mkdir()
    _stale_counts(shared)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHECKPASS_", "PROMETHEUS_"))}
    env |= {
        "CHECKPASS_HOME": str(home),
        "CHECKPASS_DATABASE_URL": postgres_url,
        "CHECKPASS_AUDIT_SCHEDULE": "false",
        "CHECKPASS_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = logscan.track(tmp_path / "serve.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(BIN / "checkpass"), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=home,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        _wait_for_workers(process, log_path, 2)
        started = _healthz_count(url)
        for _ in range(40):
            # A new connection each time, so both workers' accept loops may take some.
            with httpx.Client(base_url=url, timeout=30) as client:
                assert client.get("/healthz").status_code == 200
        # Scrapes answered by either worker: the same total, what both counted, without the earlier run's 1000.
        counts = {_healthz_count(url) for _ in range(10)}
        per_file = _healthz_per_file(shared)
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert counts == {started + 40}
    assert sum(per_file.values()) == started + 40
    # One file per worker process: the stale one is gone, and so is the parent's (written before it wiped).
    assert len(per_file) == 2, per_file


def _wait_for_workers(process: subprocess.Popen[bytes], log_path: Path, workers: int) -> None:
    """Until uvicorn has said that each worker's application started (its JSON lines on stderr)."""
    for _ in range(3000):  # a loaded machine takes a while to make the keys and start two workers
        if process.poll() is not None:
            pytest.fail(f"serve stopped: {log_path.read_text(errors='replace')}")
        lines = log_path.read_text(errors="replace").splitlines()
        if sum("Application startup complete" in line for line in lines) >= workers:
            return
        time.sleep(0.1)
    pytest.fail(f"serve did not start {workers} workers: {log_path.read_text(errors='replace')}")


def _healthz_per_file(directory: Path) -> dict[str, float]:
    """The /healthz count each process's file holds."""
    from prometheus_client.mmap_dict import MmapedDict

    found = {}
    for path in directory.glob("counter_*.db"):
        found[path.name] = sum(
            number
            for key, number, _, _ in MmapedDict.read_all_values_from_file(str(path))
            if '"/healthz"' in key and "checkpass_http_requests" in key
        )
    return found


def _healthz_count(url: str) -> float:
    with httpx.Client(base_url=url, timeout=10) as client:
        answer = client.get("/metrics", headers=SCRAPER)
    assert answer.status_code == 200, answer.text
    return value(
        samples(answer.text), "checkpass_http_requests_total", method="GET", route="/healthz", status="200"
    )
