"""Shared fixtures: keys, a fixed instant, and fresh databases (SQLite always, PostgreSQL when reachable)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from passcore.keys import SigningKey, generate_signing_key
from tests import factories, logscan

PG_ADMIN_URL = os.environ.get("CHECKPASS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def now():
    return factories.NOW


@pytest.fixture
def issuer_key() -> SigningKey:
    return generate_signing_key()


@pytest.fixture
def root_key() -> SigningKey:
    return generate_signing_key()


def _pg_unavailable(err: Exception) -> None:
    message = f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(err).__name__}: {err})"
    if os.environ.get("CI"):
        pytest.fail(message + " — in CI it must run: .ci/run starts it")
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as err:  # any failure to connect means: no server here
        _pg_unavailable(err)
    name = f"checkpass_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        try:
            yield f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str | None:
    """Run a test on the embedded SQLite (None: the default) and on PostgreSQL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    """argon2id with its smallest cost in tests: hashing strength is the library's job, not what we test here
    (the production hasher keeps argon2-cffi's recommended parameters)."""
    from argon2 import PasswordHasher

    from server.accounts import service

    production = service._HASHER
    service._HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    service._DUMMY_HASH = service._HASHER.hash("dummy")
    yield
    service._HASHER = production


# ---- the whole-suite log scan (tests/logscan.py): nothing personal, no secret, in any log the suite produced ----

_LOG_SCAN: dict[str, object] = {}
OUR_LOGGERS = ("server", "checkpoint_client", "passcore")


def pytest_sessionstart(session: pytest.Session) -> None:
    # Outside the repository and outside pytest's own temporary folders (kept only three runs).
    path = Path(tempfile.mkdtemp(prefix="checkpass-test-logs-")) / "in-process.jsonl"
    logs, tokens = logscan.InProcessLogs(path), logscan.TokenRecorder()
    logs.install(OUR_LOGGERS)
    tokens.install()
    _LOG_SCAN.update(logs=logs, tokens=tokens, path=path)


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    logs = _LOG_SCAN.get("logs")
    if isinstance(logs, logscan.InProcessLogs):
        logs.flush(next_test=nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logs, tokens, path = _LOG_SCAN.get("logs"), _LOG_SCAN.get("tokens"), _LOG_SCAN.get("path")
    if not isinstance(logs, logscan.InProcessLogs) or not isinstance(tokens, logscan.TokenRecorder):
        return
    logs.uninstall()
    tokens.uninstall()
    files = [p for p in (path, *logscan.tracked()) if isinstance(p, Path)]
    findings = logscan.scan(files, logscan.test_data_values(), tokens.tokens)
    scanned = sum(1 for f in files if f.exists())
    if not findings and isinstance(path, Path):
        shutil.rmtree(path.parent, ignore_errors=True)  # kept only when it has something to show
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    if not findings:
        reporter.write_line(f"log scan: {scanned} log files, nothing personal and no secret in them")
        return
    reporter.write_sep("=", f"log scan: {len(findings)} log lines hold personal data or secrets", red=True)
    for finding in findings[:50]:
        reporter.write_line(str(finding))
    if len(findings) > 50:
        reporter.write_line(f"... and {len(findings) - 50} more")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
