"""Throw-away PostgreSQL clusters for the deployment tests: an initdb'd primary in a temporary directory, a
streaming replica of it made by ``pg_basebackup -R``, both on loopback ports of their own.

The test cluster at 127.0.0.1:5432 is not used for these: its pg_hba.conf lets ``all`` databases in but has no
``replication`` line (``all`` does not cover replication connections), and a test must not rewrite a shared
server's access rules. The temporary primary gets initdb's default rules, which allow replication from loopback.

PostgreSQL refuses to run as root; when the tests run as root (CI) the cluster's programs run as the ``postgres``
account, which owns the temporary directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.integration.client_helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
PG_SNIPPET = ROOT / "deploy" / "postgresql" / "checkpass.conf"


def bindir() -> Path | None:
    """The server programs' directory (Debian keeps initdb and postgres out of PATH, under the major version)."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and (Path(found.stdout.strip()) / "initdb").exists():
            return Path(found.stdout.strip())
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def require_server_programs() -> Path:
    found = bindir()
    if found is None:
        message = "PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) are not installed"
        if os.environ.get("CI"):
            pytest.fail(message + " — in CI they must be: .ci/run uses the same packages")
        pytest.skip(message)
    return found


def _as_owner() -> list[str]:
    """The prefix that runs a cluster's program as its owner: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


class Cluster:
    """One PostgreSQL server: its data directory, port and programs."""

    def __init__(self, programs: Path, datadir: Path, port: int, sockets: Path) -> None:
        self.programs, self.datadir, self.port, self.sockets = programs, datadir, port, sockets

    def run(self, program: str, *args: str) -> str:
        done = subprocess.run(
            [*_as_owner(), str(self.programs / program), *args], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"{program} {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def configure(self, lines: Sequence[str]) -> None:
        """Append settings to postgresql.conf (later lines win over earlier ones and over includes before them)."""
        with open(self.datadir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n".join(lines) + "\n")

    def start(self) -> None:
        # -w: pg_ctl returns once the server accepts connections (a standby: once it reached a consistent state).
        self.run("pg_ctl", "-D", str(self.datadir), "-l", str(self.datadir / "server.log"), "-w", "start")

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def log(self) -> str:
        path = self.datadir / "server.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=5)

    def value(self, sql: str, *params: object, database: str = "postgres") -> object:
        with self.connect(database) as connection:
            row = connection.execute(sql, params).fetchone()
        assert row is not None
        return row[0]


def _local_settings(port: int, sockets: Path) -> list[str]:
    return [
        "# the test's own: loopback only, its own port and socket directory; no fsync (a throw-away cluster)",
        "listen_addresses = '127.0.0.1'",
        f"port = {port}",
        f"unix_socket_directories = '{sockets}'",
        "fsync = off",
    ]


@contextmanager
def workspace() -> Iterator[tuple[Path, Path]]:
    """A temporary directory the cluster owner may write (pytest's tmp_path is root's alone when run as root)."""
    programs = require_server_programs()
    top = Path(tempfile.mkdtemp(prefix="checkpass-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(top, owner.pw_uid, owner.pw_gid)
    try:
        yield programs, top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def new_primary(programs: Path, top: Path, *, snippet: Path | None = PG_SNIPPET) -> Cluster:
    """initdb a cluster under ``top`` (trust on loopback, as initdb writes it), include the deploy/ snippet."""
    cluster = Cluster(programs, top / "primary", free_port(), top)
    cluster.run(
        "initdb",
        "-D",
        str(cluster.datadir),
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "-N",
    )
    lines = []
    if snippet is not None:
        # A copy inside the data directory: the owner can read it wherever the checkout is (root's home is 0700),
        # and pg_basebackup copies it to the replica with everything else.
        copy = cluster.datadir / snippet.name
        shutil.copyfile(snippet, copy)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(copy, owner.pw_uid, owner.pw_gid)
        lines.append(f"include '{snippet.name}'")
    cluster.configure([*lines, *_local_settings(cluster.port, top)])
    return cluster


def new_replica(primary: Cluster, top: Path) -> Cluster:
    """A streaming replica of ``primary``: a base backup that writes standby.signal and primary_conninfo (-R)."""
    replica = Cluster(primary.programs, top / "replica", free_port(), top)
    primary.run(
        "pg_basebackup",
        "-h",
        "127.0.0.1",
        "-p",
        str(primary.port),
        "-U",
        "postgres",
        "-D",
        str(replica.datadir),
        "-R",
        "-X",
        "stream",
        "-c",
        "fast",
        "-N",
    )
    # The copied postgresql.conf names the primary's port; the last setting wins.
    replica.configure(_local_settings(replica.port, top))
    return replica


class Replicated:
    """A primary and its streaming replica, and what a test needs to read one after writing the other."""

    def __init__(self, primary: Cluster, replica: Cluster) -> None:
        self.primary, self.replica = primary, replica

    def create_database(self) -> str:
        name = f"checkpass_test_{uuid.uuid4().hex[:12]}"
        with self.primary.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def wait_replayed(self) -> str:
        """Wait until the replica has replayed everything the primary has written so far; returns that LSN.

        The primary's current WAL position is taken first; the replica's replay position is then compared with it
        by the server (pg_lsn arithmetic), so the wait ends exactly when that write is visible there."""
        lsn = str(self.primary.value("SELECT pg_current_wal_lsn()"))
        with self.replica.connect() as connection:
            for _ in range(3000):
                row = connection.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
                if row is not None and row[0]:
                    return lsn
                paused = connection.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()
                assert paused is not None and paused[0] == "not paused", "waiting on a paused replica"
                time.sleep(0.01)
        pytest.fail(f"the replica never replayed {lsn}: its log says\n{self.replica.log()[-3000:]}")

    def pause(self) -> None:
        """Stop the replica applying WAL (it keeps receiving it): what the primary writes now stays unseen there."""
        with self.replica.connect() as connection:
            connection.execute("SELECT pg_wal_replay_pause()")
            for _ in range(3000):
                row = connection.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()
                if row is not None and row[0] == "paused":
                    return
                time.sleep(0.01)
        pytest.fail("the replica did not pause its replay")

    def resume(self) -> None:
        with self.replica.connect() as connection:
            connection.execute("SELECT pg_wal_replay_resume()")


@contextmanager
def replicated_clusters() -> Iterator[Replicated]:
    """A primary (with deploy/postgresql/checkpass.conf) and a streaming replica, stopped and deleted afterwards."""
    with workspace() as (programs, top):
        primary = new_primary(programs, top)
        primary.start()
        try:
            replica = new_replica(primary, top)
            replica.start()
            try:
                yield Replicated(primary, replica)
            finally:
                replica.stop()
        finally:
            primary.stop()
