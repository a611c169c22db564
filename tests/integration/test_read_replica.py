"""The audit pages read from a streaming read replica (CHECKPASS_READ_DATABASE_URL); everything that writes goes to
the primary.

Which primary: the test cluster at 127.0.0.1:5432 would be the natural one, but its pg_hba.conf has no
``replication`` line (``all`` does not match replication connections) and a test must not change a shared server's
access rules. So the primary is an initdb'd cluster in a temporary directory, started with deploy/postgresql/
checkpass.conf, and the replica is made from it with ``pg_basebackup -R`` on another port (tests/integration/
pg_cluster.py). Waiting for the replica compares LSNs (the primary's position after the write against the replica's
replay position), never a sleep; pausing its replay shows the pages really read there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from passcore.errors import InputError
from server import db
from server.audit.deps import get_read_session
from server.config import get_settings
from server.deps import get_principal, get_session
from server.main import create_app
from tests.integration import checkpoint_devices
from tests.integration.checkpoint_devices import make_checkpoint
from tests.integration.pg_cluster import Replicated, replicated_clusters

device_factory = checkpoint_devices.device_factory  # the fixture, for this module


@pytest.fixture(scope="module")
def replicated() -> Iterator[Replicated]:
    with replicated_clusters() as clusters:
        yield clusters


@pytest.fixture
def app_settings(tmp_path, replicated):
    """The conftest's ``app`` on the temporary primary, reading the audit from its replica."""
    name = replicated.create_database()
    return get_settings(
        home=tmp_path,
        database_url=replicated.primary.url(name),
        read_database_url=replicated.replica.url(name),
    )


def _listed(client, crossing_id: str) -> bool:
    answer = client.get("/api/v1/audit/crossings")
    assert answer.status_code == 200, answer.text
    return crossing_id in {item["id"] for item in answer.json()["items"]}


def _csv(client) -> str:
    answer = client.get("/api/v1/audit/crossings.csv")
    assert answer.status_code == 200, answer.text
    return answer.text.replace("·", "")


def test_the_audit_pages_read_what_the_primary_wrote_through_the_replica(
    app, app_settings, replicated, device_factory, api, portal
):
    assert app.state.read_engine is not app.state.engine
    assert app.state.read_engine.url.port == replicated.replica.port
    device = device_factory(make_checkpoint(app))
    first = device.record(plate="苏EA1111")
    # Ingest writes: it must have gone to the primary (the replica refuses every write).
    assert device.upload(first).status_code == 200
    replicated.wait_replayed()
    auditor = api("auditor")
    assert _listed(auditor, first["id"])
    detail = portal("auditor").get(f"/audit/crossings/{first['id']}")
    assert detail.status_code == 200 and "EA1111" in detail.text.replace("·", "")

    replicated.pause()
    try:
        second = device.record(plate="苏EA2222")
        assert device.upload(second).status_code == 200
        with Session(app.state.engine) as primary:
            on_primary = primary.execute(
                text("SELECT plate FROM crossing WHERE id = :id"), {"id": second["id"]}
            ).scalar_one()
        assert on_primary is not None and "EA2222" in on_primary.replace("·", "")
        # The replica has not applied it, and the audit shows what the replica has: it reads there.
        assert not _listed(auditor, second["id"])
        assert auditor.get(f"/api/v1/audit/crossings/{second['id']}").status_code == 404
        # The CSV export streams from its own session on the read engine: the replica too.
        assert "EA1111" in _csv(auditor) and "EA2222" not in _csv(auditor)
        # Signing in writes a session: that goes to the primary, and the audit page that follows finds the
        # signed-in auditor there although the replica has not seen the new session yet.
        late = portal("auditor")
        page = late.get("/audit/crossings")
        assert (
            page.status_code == 200
            and "EA1111" in page.text.replace("·", "")
            and "EA2222" not in page.text.replace("·", "")
        )
    finally:
        replicated.resume()
    replicated.wait_replayed()
    assert _listed(auditor, second["id"])
    assert "EA2222" in _csv(auditor)
    assert "EA2222" in portal("auditor").get("/audit/crossings").text.replace("·", "")


def _routes(router: Any) -> Iterator[APIRoute]:
    """Every route of the app (walked: the app mounts included routers lazily)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router)


def _calls(dependant: Any, parent: Any = None) -> Iterator[tuple[Any, Any]]:
    for dependency in dependant.dependencies:
        yield dependency.call, parent
        yield from _calls(dependency, dependency.call)


def test_every_audit_route_only_reads_and_reads_through_the_read_session(app):
    """What makes the replica safe: an audit route never writes (a standby would refuse it), and it reads the
    audit's data through the read session; the primary's session serves only the sign-in lookup."""
    routes = [route for route in _routes(app.router) if route.endpoint.__module__.startswith("server.audit.")]
    assert len(routes) >= 15
    for route in routes:
        assert route.methods <= {"GET", "HEAD"}, route.path
        calls = list(_calls(route.dependant))
        assert any(call is get_read_session for call, _ in calls), route.path
        primary = [parent for call, parent in calls if call is get_session]
        assert all(parent is get_principal for parent in primary), route.path


def test_the_read_engine_refuses_writes_even_on_a_writable_server(tmp_path, postgres_url):
    """Pointed at the primary itself (a pooler, or no replica yet), the read engine stays read-only: a write that
    strays onto it fails instead of landing quietly."""
    app = create_app(get_settings(home=tmp_path, database_url=postgres_url, read_database_url=postgres_url))
    try:
        db.migrate(app.state.engine)
        with Session(app.state.read_engine) as session:
            assert session.execute(text("SELECT count(*) FROM crossing")).scalar_one() == 0
            with pytest.raises(DBAPIError) as refused:
                session.execute(text("CREATE TABLE stray (x int)"))
            assert isinstance(refused.value.orig, psycopg.errors.ReadOnlySqlTransaction)
    finally:
        app.state.read_engine.dispose()
        app.state.engine.dispose()


def test_without_a_replica_the_audit_reads_the_primary(tmp_path):
    app = create_app(get_settings(home=tmp_path))
    assert app.state.read_engine is app.state.engine
    app.state.engine.dispose()


@pytest.mark.parametrize(
    ("changes", "wrong"),
    [
        ({"read_database_url": "sqlite:///replica.sqlite3"}, "must be a PostgreSQL URL"),
        ({"read_database_url": "postgresql://postgres@127.0.0.1/x"}, "needs CHECKPASS_DATABASE_URL"),
    ],
)
def test_an_unusable_read_database_url_is_refused_at_start(tmp_path, changes, wrong):
    with pytest.raises(InputError, match=wrong) as refused:
        create_app(get_settings(home=tmp_path, **changes))
    assert refused.value.code == "READ_DATABASE_INVALID"
