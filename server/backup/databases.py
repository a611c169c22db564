"""The database in and out of a backup. SQLite: the online backup API (``sqlite3.Connection.backup``), one read
transaction, so the copy is consistent while the server writes (WAL lets writers go on). PostgreSQL: ``pg_dump
-Fc`` on a snapshot exported by our own REPEATABLE READ transaction, so the row counts in the manifest are those
of the very snapshot dumped; restored by ``pg_restore`` into ``psql`` as ONE transaction that ends by checking
the row counts and the revision: a restore that fails for any reason leaves the target as it was.

Debian's ``postgresql-client-NN`` provides pg_dump, pg_restore and psql. pg_dump refuses servers newer than
itself, and a dump is read only by a pg_restore at least as new as the pg_dump that wrote it: both are checked
here first, with a message naming the package to install.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3

# The PostgreSQL client programs (found on PATH), each run with an argument list, never through a shell.
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine, make_url

from passcore.errors import InputError
from server.backup.archive import Manifest

__all__ = ["Snapshot", "kind_of", "load_postgresql", "load_sqlite", "snapshot", "sqlite_path", "tables_of"]

_TOOL_VERSION = re.compile(r"\(PostgreSQL\) (\d+)")


def _error(message: str) -> InputError:
    return InputError(message, code="BACKUP_FAILED")


@dataclass(frozen=True)
class Snapshot:
    revision: str
    tables: dict[str, int]
    server_version: int | None = None
    tool_version: int | None = None


def kind_of(engine: Engine) -> str:
    return "sqlite" if engine.dialect.name == "sqlite" else "postgresql"


def sqlite_path(engine: Engine) -> Path:
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        raise _error("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def tables_of(connection: Connection) -> list[str]:
    """Every table of ours in the database (PostgreSQL: in the public schema), in name order."""
    if connection.dialect.name == "sqlite":
        query = (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    else:
        query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    return [row[0] for row in connection.execute(text(query))]


def _count(table: str) -> str:
    # Names come from the database's own catalogue or from a manifest whose names were checked against
    # [a-z_][a-z0-9_]*; quoted either way.
    return f'SELECT count(*) FROM "{table}"'  # noqa: S608


def _counts_and_revision(connection: Connection) -> tuple[dict[str, int], str]:
    tables = tables_of(connection)
    if "alembic_version" not in tables:
        raise _error("the database has no schema yet: run `checkpass init` (nothing to back up)")
    counts = {t: int(connection.execute(text(_count(t))).scalar_one()) for t in tables}
    revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    return counts, str(revision)


def _sqlite_copy(source: sqlite3.Connection, target: Path) -> None:
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)  # all pages in one step: one read transaction, one consistent copy
        destination.execute("PRAGMA journal_mode=DELETE")  # a self-contained file: no -wal beside it
    finally:
        destination.close()


def _sqlite_snapshot(engine: Engine, dest: Path) -> Snapshot:
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        _sqlite_copy(raw, dest)
    copy = sqlite3.connect(dest)
    try:  # counted on the copy itself: the numbers describe exactly what is in the archive
        tables = [r[0] for r in copy.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        if "alembic_version" not in tables:
            raise _error("the database has no schema yet: run `checkpass init` (nothing to back up)")
        counts = {
            t: int(copy.execute(_count(t)).fetchone()[0]) for t in tables if not t.startswith("sqlite_")
        }
        revision = str(copy.execute("SELECT version_num FROM alembic_version").fetchone()[0])
    finally:
        copy.close()
    return Snapshot(revision, counts)


def _program(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise _error(f"{name} is not installed: install Debian's postgresql-client (the server's version)")
    return found


def _tool_version(program: str) -> int:
    done = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)  # noqa: S603 (our argument list)
    found = _TOOL_VERSION.search(done.stdout)
    if found is None:
        raise _error(f"cannot tell the version of {program}: {done.stdout.strip()[:80]!r}")
    return int(found.group(1))


def _libpq(engine: Engine) -> tuple[str, dict[str, str]]:
    """The connection as libpq takes it, and the environment for the client programs. The password goes in
    PGPASSWORD, never on the command line, where every user of the machine could read it in the process list."""
    url = make_url(str(engine.url))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603 (our argument list)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise _error(f"{what} failed: {lines[-1] if lines else f'exit {done.returncode}'}")


def _postgresql_snapshot(engine: Engine, dest: Path) -> Snapshot:
    pg_dump = _program("pg_dump")
    tool = _tool_version(pg_dump)
    conninfo, env = _libpq(engine)
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        server = int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000
        if tool < server:
            raise _error(
                f"pg_dump {tool} cannot dump a PostgreSQL {server} server: install postgresql-client-{server}"
            )
        # The transaction's snapshot, exported before anything is read: the counts and pg_dump see one state.
        name = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        counts, revision = _counts_and_revision(connection)
        _run(
            [pg_dump, "--format=custom", f"--snapshot={name}", f"--file={dest}", "--no-password", conninfo],
            env,
            "pg_dump",
        )
        connection.rollback()
    return Snapshot(revision, counts, server, tool)


def snapshot(engine: Engine, dest: Path) -> Snapshot:
    """A consistent copy of the database in ``dest`` (0600), with its row counts and Alembic revision."""
    os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    if kind_of(engine) == "sqlite":
        return _sqlite_snapshot(engine, dest)
    return _postgresql_snapshot(engine, dest)


def load_sqlite(staged: Path, engine: Engine, manifest: Manifest) -> None:
    """Check the staged copy (integrity, revision, counts) and then copy it over the target in one step."""
    copy = sqlite3.connect(f"file:{staged}?mode=ro", uri=True)
    try:
        if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise InputError("the backup's SQLite database fails its integrity check", code="BACKUP_INVALID")
        revision = copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        counts = {
            t: int(copy.execute(_count(t)).fetchone()[0])  # names checked when the manifest was read
            for t in manifest.tables
        }
        if revision != manifest.revision or counts != manifest.tables:
            raise InputError(
                "the backup's database does not match its manifest (revision or row counts): refused",
                code="BACKUP_INVALID",
            )
        with engine.connect() as connection:
            raw = connection.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            copy.backup(raw)  # under the target's write lock, all pages at once
    except sqlite3.DatabaseError as err:
        raise InputError(
            f"the backup's SQLite database is unreadable ({err})", code="BACKUP_INVALID"
        ) from err
    finally:
        copy.close()


def _checks(manifest: Manifest) -> str:
    """SQL run last in the restoring transaction: a count or revision other than the manifest's aborts it all.
    Table names and the revision were checked against strict patterns when the manifest was read."""
    lines = ["DO $checkpass$ BEGIN"]
    for table, rows in sorted(manifest.tables.items()):
        lines.append(
            f'  IF (SELECT count(*) FROM public."{table}") <> {rows} THEN '  # noqa: S608 (checked names)
            f"RAISE EXCEPTION 'checkpass restore: table {table} does not hold the {rows} rows the backup lists'; "
            "END IF;"
        )
    lines.append(
        f"  IF (SELECT max(version_num) FROM public.alembic_version) IS DISTINCT FROM '{manifest.revision}' THEN "  # noqa: S608
        "RAISE EXCEPTION 'checkpass restore: the database is not at the revision the backup lists'; END IF;"
    )
    lines.append("END $checkpass$;")
    return "\n".join(lines) + "\n"


def load_postgresql(staged: Path, engine: Engine, manifest: Manifest, *, replace: bool) -> None:
    """``pg_restore`` as SQL into ``psql --single-transaction``: dropping what was there (``replace``), loading,
    checking; all of it or nothing."""
    pg_restore, psql = _program("pg_restore"), _program("psql")
    tool = _tool_version(pg_restore)
    if manifest.tool_version and tool < manifest.tool_version:
        raise _error(
            f"the backup was written by pg_dump {manifest.tool_version}; pg_restore {tool} cannot read it: "
            f"install postgresql-client-{manifest.tool_version}"
        )
    with engine.connect() as connection:
        server = int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    if manifest.server_version and server < manifest.server_version:
        raise _error(
            f"the backup is of a PostgreSQL {manifest.server_version} database; this server is {server}: "
            "restore into the same major version or newer"
        )
    conninfo, env = _libpq(engine)
    with tempfile.TemporaryDirectory(prefix="checkpass-restore-") as scratch:
        errors = Path(scratch) / "stderr"
        with errors.open("w+b") as restore_err, errors.with_name("psql").open("w+b") as psql_err:
            loader = subprocess.Popen(  # noqa: S603 (our argument list)
                [psql, "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
                 "--no-password", "--file=-", f"--dbname={conninfo}"],
                env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_err,
            )  # fmt: skip
            dumper = subprocess.Popen(  # noqa: S603 (our argument list)
                [pg_restore, "--no-owner", "--no-privileges", "--file=-", str(staged)],
                stdout=subprocess.PIPE, stderr=restore_err,
            )  # fmt: skip
            assert loader.stdin is not None and dumper.stdout is not None
            try:
                if replace:
                    loader.stdin.write(b"DROP SCHEMA IF EXISTS public CASCADE;\nCREATE SCHEMA public;\n")
                shutil.copyfileobj(dumper.stdout, loader.stdin, _CHUNK)
                dumped = dumper.wait()
                # A pg_restore that failed half-way must not commit half a database: stop psql with an error.
                loader.stdin.write(_checks(manifest).encode() if dumped == 0 else b"SELECT 1/0;\n")
                loader.stdin.close()
            except BrokenPipeError:
                dumper.kill()
                dumped = dumper.wait()
            loaded = loader.wait()
            if dumped != 0 or loaded != 0:
                restore_err.seek(0)
                psql_err.seek(0)
                said = [
                    line
                    for line in (restore_err.read() + psql_err.read()).decode(errors="replace").splitlines()
                    # The error lines only: psql's DETAIL lines may quote a row, and rows hold personal data.
                    if "ERROR:" in line or line.startswith("pg_restore: error:")
                ]
                raise _error(
                    "restoring the PostgreSQL database failed, nothing was changed: "
                    + (said[0] if said else f"pg_restore exit {dumped}, psql exit {loaded}")
                )


_CHUNK = 1024 * 1024
