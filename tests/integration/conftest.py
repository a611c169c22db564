"""Fixtures for the server app: a migrated database (SQLite and PostgreSQL), a client, users of every role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

import server.models  # noqa: F401  (registers every table)
from server import db
from server.accounts import service as accounts
from server.config import get_settings
from server.enterprises.models import Enterprise
from server.keyring import service as keyring
from server.main import create_app
from server.policy import service as policy_service

PASSWORD = "correct-horse-battery"
DEMO_USCC = "91320583MA1XY71231"
OTHER_USCC = "91420100MA4K00001U"
# The two enterprises were verified long before any crossing a test records: they see every crossing under their
# credit code (an enterprise sees crossings only from its verification onward).
VERIFIED = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def app_settings(tmp_path, database_url):
    return get_settings(home=tmp_path, database_url=database_url)


@pytest.fixture
def app(app_settings):
    app = create_app(app_settings)
    db.migrate(app.state.engine)
    now = datetime.now(UTC)
    with db.session_scope(app.state.engine) as session:
        keyring.ensure_keys(session=session, settings=app_settings, now=now)
        policy_service.ensure_default(session=session, now=now)
        for uscc, name in ((DEMO_USCC, "昆山精密机械有限公司"), (OTHER_USCC, "武汉长江物流有限公司")):
            session.add(
                Enterprise(
                    uscc=uscc,
                    name=name,
                    contact="陈经理",
                    phone="0512-55550000",
                    region=uscc[2:8],
                    verified=True,
                    verified_at=VERIFIED,
                    created_at=VERIFIED,
                )
            )
        session.flush()
        for username, role, uscc in (
            ("clerk", "enterprise", DEMO_USCC),
            ("rival", "enterprise", OTHER_USCC),
            ("reviewer", "reviewer", None),
            ("auditor", "auditor", None),
            ("admin", "admin", None),
        ):
            accounts.create_user(
                session=session,
                username=username,
                password=PASSWORD,
                role=role,
                enterprise_uscc=uscc,
                now=now,
            )
    yield app
    app.state.engine.dispose()


class Portal(TestClient):
    """A browser-like client: signs in through the login form and sends the CSRF token like the pages do."""

    csrf: str = ""

    def login(self, username: str, password: str = PASSWORD) -> Portal:
        self.csrf = self.get("/login").cookies.get("cp_csrf") or self.cookies.get("cp_csrf") or ""
        response = self.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": self.csrf},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        self.csrf = self.page_csrf("/")
        return self

    def page_csrf(self, path: str) -> str:
        """The CSRF token a page embeds in its forms."""
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.get(path).text)
        return found.group(1) if found else self.csrf

    def form(self, path: str, data: dict, **kwargs):
        return self.post(path, data={**data, "csrf_token": self.csrf}, **kwargs)


@pytest.fixture
def portal(app) -> Iterator[callable]:
    """portal("clerk") -> a Portal signed in as that user; portal() -> anonymous."""
    clients = []

    def make(username: str | None = None) -> Portal:
        client = Portal(app, headers={"accept": "text/html"})
        clients.append(client)
        return client.login(username) if username else client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def api(app):
    """api("reviewer") -> a TestClient with that user's bearer token (no cookies, no CSRF)."""
    clients = []

    def make(username: str | None = None) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        if username:
            token = client.post(
                "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
            ).json()
            client.headers["authorization"] = f"Bearer {token['token']}"
        return client

    yield make
    for client in clients:
        client.close()
