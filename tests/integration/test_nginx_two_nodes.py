"""Several nodes behind nginx: Debian's nginx on loopback runs deploy/nginx/checkpass.conf (TLS with a certificate
made here) in front of two real `checkpass serve` processes on one PostgreSQL database. Through it: a portal session
(sign-in, pages, a form post with its CSRF token), a checkpoint's enrolment, upload and bundle fetch; nginx's log
shows both nodes answered. X-Forwarded-For is believed from nginx (CHECKPASS_TRUSTED_PROXIES) and from nobody else;
/metrics is not served through the public site. And nodes started together migrate one fresh database once.

The nodes have a home each, as on two machines: the second gets a copy of the first's keys/ and shares its
documents/ (the shared storage of docs/deploy.md "Overview").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import bindparam, text
from sqlmodel import Session

from checkpoint_client import device as devices
from checkpoint_client import truststore
from checkpoint_client.config import get_settings as checkpoint_settings
from checkpoint_client.store import Store
from checkpoint_client.sync import sync_once
from server import db
from tests.conftest import PG_ADMIN_URL, _pg_unavailable
from tests.integration import nginx_site
from tests.integration.client_helpers import BIN, DEMO_PASSWORD, ServerProcess, free_port, record_scenario

NODE_SETTINGS = {
    # nginx connects from 127.0.0.1; the test's clients come from 127.0.0.2 and up.
    "CHECKPASS_TRUSTED_PROXIES": "127.0.0.1/32",
    "CHECKPASS_COOKIE_SECURE": "true",
    # Three failed sign-ins from one address, any accounts, and that address waits.
    "CHECKPASS_LOGIN_SOURCE_MAX_FAILURES": "3",
    # A scraper anywhere on loopback may read /metrics from a node directly, so a request relayed by nginx (whose
    # client is on loopback too) would get them, were nginx not to refuse the path itself.
    "CHECKPASS_METRICS_NETWORKS": "127.0.0.0/8",
}


@dataclass
class Site:
    nginx: nginx_site.Nginx
    nodes: list[ServerProcess]
    cert: Path
    http_port: int

    def client(self, source: str = "127.0.0.2", **options) -> httpx.Client:
        """A client of the public site from ``source`` (a loopback address of its own)."""
        transport = httpx.HTTPTransport(local_address=source, verify=nginx_site.trusting(self.cert))
        return httpx.Client(base_url=self.nginx.url, transport=transport, timeout=60, **options)

    def upstreams_since(self, start: int, last: httpx.Response) -> list[str]:
        """The nodes that answered since line ``start`` of nginx's log, up to the ``last`` answer."""
        logged = self.nginx.logged(last.headers["x-request-id"])
        return [json.loads(line)["upstream"] for line in logged[start:]]


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as err:  # any failure to connect means: no server here
        _pg_unavailable(err)
    name = f"checkpass_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def site(tmp_path_factory, database) -> Iterator[Site]:
    top = tmp_path_factory.mktemp("two-nodes")
    first = ServerProcess(top / "node1", database)
    first.home.mkdir()
    first.run("demo", "--no-video", "--out", str(first.home / "demo-out"))
    second = ServerProcess(top / "node2", database)
    second.home.mkdir()
    shutil.copytree(first.home / "keys", second.home / "keys")  # copytree keeps the files' 0600
    (first.home / "documents").mkdir(mode=0o700, exist_ok=True)
    (second.home / "documents").symlink_to(first.home / "documents")
    nodes = [first, second]
    try:
        for node in nodes:
            node.env |= NODE_SETTINGS
            node.start()
        prefix = top / "nginx"
        https_port, http_port = free_port(), free_port()
        conf, cert = nginx_site.write_config(
            prefix,
            upstreams=[f"127.0.0.1:{node.port}" for node in nodes],
            https_port=https_port,
            http_port=http_port,
        )
        nginx = nginx_site.start(conf, prefix, https_port, cert)
        try:
            yield Site(nginx, nodes, cert, http_port)
        finally:
            nginx.stop()
    finally:
        for node in nodes:
            node.stop()


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def test_a_portal_session_through_nginx_is_served_by_both_nodes(site):
    start = len(site.nginx.access_log())
    with site.client("127.0.0.5", headers={"accept": "text/html"}) as browser:
        login = browser.get("/login")
        # Every cookie is Secure (CHECKPASS_COOKIE_SECURE: the node itself sees plain HTTP from nginx).
        assert "secure" in login.headers["set-cookie"].lower()  # the sign-in form's CSRF cookie
        signed_in = browser.post(
            "/login",
            data={
                "username": "demo-auditor",
                "password": DEMO_PASSWORD,
                "csrf_token": browser.cookies["cp_csrf"],
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        assert "secure" in signed_in.headers["set-cookie"].lower()  # the session cookie
        alerts = browser.get("/audit/alerts")
        assert alerts.status_code == 200
        alert_id = re.findall(r'href="/audit/alerts/(\d+)"', alerts.text)[0]
        pages = [
            browser.get(path)
            for path in ("/audit/crossings", "/audit/dashboard", f"/audit/alerts/{alert_id}")
        ]
        assert [page.status_code for page in pages] == [200, 200, 200]
        acted = browser.post(
            f"/audit/alerts/{alert_id}",
            data={"action": "acknowledge", "note": "核实中", "csrf_token": _csrf(pages[2])},
        )
        assert acted.status_code == 303 and acted.headers["location"].endswith("done=acknowledge"), acted.text
        # Every request of the session is carried by the cookie alone, whichever node gets it: read back once
        # more from each node in turn.
        after = [browser.get(f"/audit/alerts/{alert_id}") for _ in site.nodes]
        assert all(page.status_code == 200 and "核实中" in page.text for page in after)
        # nginx's request id is the one the node used (its answer's header), and the log line carries it too.
        assert re.fullmatch(r"[0-9a-f]{32}", after[-1].headers["x-request-id"])
    raw = site.nginx.logged(after[-1].headers["x-request-id"])[start:]
    lines = [json.loads(line) for line in raw]
    used = {line["upstream"] for line in lines}
    assert used == {f"127.0.0.1:{node.port}" for node in site.nodes}, used
    # The access log has nothing personal: no client address, no path, no query.
    assert not any("127.0.0.5" in line or "/audit" in line for line in raw)


def test_plain_http_is_sent_to_https(site):
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.9")) as plain:
        answer = plain.get(f"http://127.0.0.1:{site.http_port}/login?next=/audit")
    assert answer.status_code == 301
    assert answer.headers["location"] == "https://127.0.0.1/login?next=/audit"


def _enrolment_code(site: Site) -> tuple[int, str]:
    """The administrator, through nginx: a new checkpoint and its one-time code."""
    with site.client("127.0.0.6") as admin:
        token = admin.post("/api/v1/auth/token", json={"username": "demo-admin", "password": DEMO_PASSWORD})
        assert token.status_code == 200, token.text
        admin.headers["authorization"] = f"Bearer {token.json()['token']}"
        made = admin.post(
            "/api/v1/checkpoints",
            json={"name": f"卡口 {uuid.uuid4().hex[:6]}", "region": "320583", "location": "G312"},
        )
        assert made.status_code == 201, made.text
        checkpoint_id = int(made.json()["id"])
        code = admin.post(f"/api/v1/checkpoints/{checkpoint_id}/enrolment-codes")
        assert code.status_code == 201, code.text
        return checkpoint_id, str(code.json()["code"])


def test_a_checkpoint_enrols_uploads_and_fetches_its_bundle_through_nginx(site, tmp_path):
    _checkpoint, code = _enrolment_code(site)
    config = checkpoint_settings(home=tmp_path / "laptop")
    start = len(site.nginx.access_log())
    with site.client("127.0.0.7") as http:
        enrolled = devices.enrol(
            config,
            server=site.nginx.url,
            code=code,
            name="东卡口 笔记本 1",
            now=datetime.now(UTC),
            client=http,
        )
        assert enrolled.bundle_version is not None and enrolled.bundle_problem is None
        scenarios = site.nodes[0].home / "demo-out" / "scenarios"
        store = Store.open(config.store_path)
        try:
            now = datetime.now(UTC)
            bundle = truststore.held_bundle(config, now=now)
            decided = [
                record_scenario(store, json.loads((scenarios / f"{name}.json").read_text()), bundle, now)[2]
                for name in ("release", "fever")
            ]
            report = sync_once(config, store, client=http)
        finally:
            store.close()
        assert report.uploaded == 2 and report.pending == 0 and not report.refused, report
        assert report.bundle["status"] in {"updated", "unchanged"}, report.bundle
        # The bundle's ETag is the same whichever node answers: a checkpoint's conditional fetch is 304 on both.
        first = http.get("/api/v1/trust-bundle")
        assert first.status_code == 200
        again = [
            http.get("/api/v1/trust-bundle", headers={"if-none-match": first.headers["etag"]})
            for _ in site.nodes
        ]
        assert [answer.status_code for answer in again] == [304, 304]
    with Session(site.nodes[1].engine()) as session:
        stored = session.execute(
            text("SELECT count(*) FROM crossing WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": [crossing.id for crossing in decided]},
        ).scalar_one()
    assert stored == 2
    used = set(site.upstreams_since(start, again[-1]))
    assert used == {f"127.0.0.1:{node.port}" for node in site.nodes}, used


def _sign_in(client: httpx.Client, username: str, password: str, **headers: str) -> int:
    answer = client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}, headers=headers
    )
    return answer.status_code


def test_forwarded_for_from_nginx_is_believed_and_a_forged_one_is_not(site):
    with site.client("127.0.0.2") as mallory, site.client("127.0.0.3") as honest:
        # Three failures from 127.0.0.2, each claiming another address on the left of X-Forwarded-For.
        for n in range(3):
            forged = {"x-forwarded-for": f"198.51.100.{n + 1}"}
            assert _sign_in(mallory, f"nobody-{n}", "wrong-password-123", **forged) == 401
        # Its address waits now, with or without a new forged one, even with a right password...
        assert (
            _sign_in(mallory, "demo-reviewer", DEMO_PASSWORD, **{"x-forwarded-for": "198.51.100.77"}) == 429
        )
        # ...while another client behind the same nginx (so the same peer for the nodes) is not held back: the
        # nodes count the address nginx appended, not nginx's own.
        assert _sign_in(honest, "demo-reviewer", DEMO_PASSWORD) == 200


def test_forwarded_for_is_not_believed_from_anyone_but_the_proxy(site):
    """Straight to a node from 127.0.0.4 (not a trusted proxy), a forged header changes nothing."""
    node = site.nodes[0]
    transport = httpx.HTTPTransport(local_address="127.0.0.4")
    with httpx.Client(base_url=node.url, transport=transport, timeout=60) as direct:
        for n in range(3):
            forged = {"x-forwarded-for": f"203.0.113.{n + 1}"}
            assert _sign_in(direct, f"nobody-direct-{n}", "wrong-password-123", **forged) == 401
        assert _sign_in(direct, "demo-reviewer", DEMO_PASSWORD, **{"x-forwarded-for": "203.0.113.99"}) == 429


def _raw_get(site: Site, path: str) -> tuple[int, str]:
    """GET ``path`` byte for byte (an HTTP client would tidy ``//`` and ``/./`` away before sending)."""
    port = int(site.nginx.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.8", 0)) as raw:
        with nginx_site.trusting(site.cert).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body.decode(errors="replace")


@pytest.mark.parametrize(
    "path", ["/metrics", "/metrics?format=text", "//metrics", "/%6Detrics", "/./metrics", "/x/../metrics"]
)
def test_metrics_are_not_served_through_the_public_site(site, path):
    # They are there, for a scraper on the monitoring network asking a node directly...
    transport = httpx.HTTPTransport(local_address="127.0.0.8")
    with httpx.Client(base_url=site.nodes[1].url, transport=transport) as scraper:
        direct = scraper.get("/metrics")
    assert direct.status_code == 200 and "# HELP" in direct.text
    # ...and never through the public site, however the path is spelt.
    status, body = _raw_get(site, path)
    assert status == 404
    assert "# HELP" not in body and "# TYPE" not in body


def test_nodes_started_together_migrate_one_fresh_database_once(postgres_url, tmp_path):
    """Each node migrates at start; three at once on an empty database take turns (an advisory lock), so none
    fails on a table another is creating, and the schema ends at the code's head once."""
    url = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    program = "from server import db; from server.config import get_settings; db.migrate(db.make_engine(get_settings()))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHECKPASS_")} | {
        "CHECKPASS_DATABASE_URL": url
    }
    started = []
    for n in range(3):
        home = tmp_path / f"node{n}"
        home.mkdir()
        started.append(
            subprocess.Popen(
                [str(BIN / "python"), "-c", program],
                env=env | {"CHECKPASS_HOME": str(home)},
                cwd=home,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    errors = [process.communicate(timeout=300)[1] for process in started]
    assert [process.returncode for process in started] == [0, 0, 0], [err[-2000:] for err in errors]
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with psycopg.connect(url) as connection:
        versions = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
    assert versions == [head]
