"""The database engine and migrations. Only this module knows which database it is."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import ARRAY, ColumnElement, DateTime, MetaData, TypeDecorator, any_, bindparam, event, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, SQLModel, create_engine

from server.config import Settings
from server.documents import storage as documents_storage
from server.keyring import datakeys

__all__ = [
    "UTCDateTime",
    "is_in",
    "lock_name",
    "make_engine",
    "make_read_engine",
    "migrate",
    "reclaim",
    "session_scope",
]

# Explicit constraint names, so migrations can name what they alter on every database.
SQLModel.metadata.naming_convention = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
).naming_convention
MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Deleted and overwritten content is zeroed in the file, not left in free space (retention's purge).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _private_files(database: Path) -> None:
    """Its folder 0700 and the database file 0600 (created so if missing): personal data is the owner's alone.
    SQLite creates -wal and -shm with the database file's permissions; existing files are tightened too."""
    database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(database.parent, 0o700)
    os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
    for path in (database, *(database.with_name(database.name + end) for end in ("-wal", "-shm"))):
        if path.exists():
            os.chmod(path, 0o600)


def make_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            _private_files(Path(database))
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return _equipped(engine, settings)


def _equipped(engine: Engine, settings: Settings) -> Engine:
    # The engine carries its installation's data keys: any session on it can seal and open (keyring.datakeys).
    datakeys.attach(engine, datakeys.DataKeys.of_settings(settings))
    # And its documents directory: any session can store or remove an uploaded document (documents.storage).
    documents_storage.attach(engine, settings.home / "documents")
    return engine


def make_read_engine(settings: Settings, primary: Engine) -> Engine:
    """The engine the audit pages read from: the replica at ``read_database_url`` (a PostgreSQL hot standby), or
    ``primary`` when none is set.

    Its transactions are read-only even when the URL names a writable server (a pooler, or the primary itself):
    a write that strays onto it fails loudly instead of landing on a database the rest of the system does not
    write to. A standby refuses writes anyway; this makes the primary behave the same."""
    url = settings.read_sqlalchemy_url
    if url is None:
        return primary
    engine = create_engine(
        url, pool_pre_ping=True, connect_args={"options": "-c default_transaction_read_only=on"}
    )
    return _equipped(engine, settings)


def reclaim(engine: Engine, tables: Sequence[str], *, full: bool = False) -> dict[str, Any]:
    """After a purge: leave no earlier version of the purged rows where the database keeps them (what holds on
    each database: docs/design.md "Retention"). Returns what was done, for the purge's report.

    SQLite: VACUUM rewrites the file (moved cells can leave old bytes in a page's unused area even with
    secure_delete), then the WAL, which holds the old pages too, is checkpointed and truncated to zero bytes.
    PostgreSQL: VACUUM removes the dead row versions from every page, so no query, dump or replica reads them;
    ``full`` (VACUUM FULL, an exclusive lock while each table is rewritten) also leaves no old bytes in the
    tables' files."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("VACUUM")
            busy, _log, _done = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            return {"vacuum": "VACUUM", "wal_truncated": not busy}
        verb = "VACUUM FULL" if full else "VACUUM"
        for table in tables:
            # Table names come from the models, never from input.
            connection.exec_driver_sql(f'{verb} "{table}"')
        return {"vacuum": verb, "wal_truncated": None}


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent).

    PostgreSQL: several nodes started together (`checkpass serve` migrates at start) take turns on an advisory
    lock held for the whole upgrade, one transaction; the next finds the schema at head and does nothing, instead
    of both creating the same tables at once."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('checkpass:migrate', 0))"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def lock_name(session: Session, name: str) -> None:
    """Hold a lock on ``name`` until the session's transaction ends, so that transactions which check something and
    then write on that check (the live passes of one plate) take turns. PostgreSQL: an advisory transaction lock on
    the name's hash (READ COMMITTED would let two of them check at once). SQLite: nothing to do, its writers take
    turns already, provided the caller has written in this transaction before it checks."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})


def is_in(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values``, written for PostgreSQL as ``column = ANY(:array)``: one parameter however many values.
    The audit passes hundreds of ids at once; as IN (...) each statement's text is new (psycopg parses and cannot
    cache it, the server cannot prepare it) and that cost more than the lookups themselves. SQLite: IN."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)  # type: ignore[no-any-return]


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class UTCDateTime(TypeDecorator[datetime]):
    """Stored in UTC on every database and always read back with its zone (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
