"""`checkpass serve --workers 3` on one PostgreSQL: no state lives in a worker process, so a signed-in session,
its CSRF token, login throttling and idempotent crossing ingest hold whichever worker answers. Every request
here goes on a new connection, which the kernel hands to any of the workers (which one is not asserted: it is
the kernel's choice; 60 page loads, looked at once, used CPU time in each of the three).

PostgreSQL only: `checkpass serve` says to use it for more than one worker (SQLite's single writer would serialise
them anyway)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from server.crossings.models import Crossing
from tests.integration.client_helpers import (
    DEMO_PASSWORD,
    Bureau,
    ServerProcess,
    demo_server,
    enrol_checkpoint,
)

WORKERS = 3
REQUESTS = 40


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ServerProcess]:
    with demo_server(tmp_path_factory.mktemp("bureau-workers"), "postgres", workers=WORKERS) as server:
        yield server


def worker_pids(server: ServerProcess) -> set[int]:
    """The serving processes under `checkpass serve` (uvicorn's supervisor starts one per worker)."""
    assert server.process is not None
    found: set[int] = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:  # the process ended while we looked
            continue
        if int(fields.get("PPid", "0")) == server.process.pid:
            found.add(int(status.parent.name))
    return found


def fresh_connections(server: ServerProcess) -> httpx.Client:
    """A browser-like client (cookies kept) that opens a new connection for every request."""
    return httpx.Client(
        base_url=server.url,
        timeout=30,
        headers={"accept": "text/html"},
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def sign_in(client: httpx.Client, username: str, password: str = DEMO_PASSWORD) -> httpx.Response:
    client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": client.cookies["cp_csrf"]},
        follow_redirects=False,
    )


def test_the_server_runs_the_workers_it_was_asked_for(served):
    assert len(worker_pids(served)) >= WORKERS  # the workers (and, on some platforms, a resource tracker)


def test_a_session_and_its_csrf_token_hold_on_every_worker(served):
    with fresh_connections(served) as clerk:
        assert sign_in(clerk, "demo-enterprise").status_code == 303
        pages = [clerk.get("/enterprise/applications", follow_redirects=False) for _ in range(REQUESTS)]
        assert [page.status_code for page in pages] == [200] * REQUESTS
        tokens = {re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1) for page in pages}
        assert len(tokens) == 1  # the session's own token, whichever worker rendered the page
        left = clerk.post("/logout", data={"csrf_token": tokens.pop()}, follow_redirects=False)
        assert left.status_code == 303
        after = [clerk.get("/enterprise/applications", follow_redirects=False) for _ in range(10)]
        assert all(r.status_code == 303 and "/login" in r.headers["location"] for r in after)


def test_login_throttling_counts_failures_on_every_worker(served):
    with fresh_connections(served) as visitor:
        for _ in range(5):  # the default login_max_failures
            assert sign_in(visitor, "demo-auditor", "wrong-password").status_code == 401
        assert sign_in(visitor, "demo-auditor").status_code == 429  # even the right password waits


def test_one_batch_sent_at_once_to_several_workers_is_stored_once(served, tmp_path):
    laptop = enrol_checkpoint(served, Bureau(served.url), tmp_path / "laptop")
    try:
        for _ in range(100):
            laptop.decide("release")
        records = [crossing.record for crossing in laptop.store.pending()]
    finally:
        laptop.store.close()
    headers = {"authorization": f"Bearer {laptop.device.token}"}

    def send(_: int) -> dict[str, int]:
        with httpx.Client(base_url=served.url, timeout=60, headers=headers) as device:
            answer = device.post("/api/v1/crossings", json={"records": records})
            assert answer.status_code == 200, answer.text
            return answer.json()

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, range(6)))
    assert all(a["accepted"] + a["duplicate"] == 100 for a in answers)
    assert sum(a["accepted"] for a in answers) == 100  # each record accepted by exactly one request
    engine = served.engine()
    try:
        with Session(engine) as session:
            stored = session.exec(
                select(func.count())
                .select_from(Crossing)
                .where(Crossing.device_id == laptop.device.device_id)
            ).one()
    finally:
        engine.dispose()
    assert stored == (100,)
