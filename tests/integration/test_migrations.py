"""The migrations create exactly the tables the models describe, on both databases, and go back down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import server.models  # noqa: F401  (registers every table)
from server import db
from server.config import get_settings
from server.crossings.models import DEVICE_SEQ_INDEX, DEVICE_SEQ_UNIQUE, PLATE_TRIGRAM_INDEX
from server.crossings.partitions import is_partition

POSTGRESQL_ONLY_INDEXES = {PLATE_TRIGRAM_INDEX, DEVICE_SEQ_INDEX}
SQLITE_ONLY = {
    DEVICE_SEQ_UNIQUE
}  # crossing's (device_id, seq): unique on SQLite, crossing_key's on PostgreSQL


def test_models_and_migrations_agree(tmp_path, database_url):
    engine = db.make_engine(get_settings(home=tmp_path, database_url=database_url))
    db.migrate(engine)
    with engine.connect() as connection:
        postgresql = connection.dialect.name == "postgresql"

        def expected(obj, name, type_, reflected, compare_to) -> bool:
            # Declared for one database only (ddl_if), which autogenerate does not know: not expected elsewhere.
            if type_ == "table" and reflected and is_partition(name):
                return (
                    False  # a day's partition of crossing (PostgreSQL): made at run time, no model of its own
                )
            if postgresql:
                return name not in SQLITE_ONLY
            return not (type_ == "index" and name in POSTGRESQL_ONLY_INDEXES)

        context = MigrationContext.configure(connection, opts={"include_object": expected})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    # A difference means a model changed without a migration (or the reverse): write the migration.
    assert differences == []
