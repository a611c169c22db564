"""The migrations create exactly the tables the models describe, on both databases, and go back down."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import server.models  # noqa: F401  (registers every table)
from server import db
from server.config import get_settings


def test_models_and_migrations_agree(tmp_path, database_url):
    engine = db.make_engine(get_settings(home=tmp_path, database_url=database_url))
    db.migrate(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    # A difference means a model changed without a migration (or the reverse): write the migration.
    assert differences == []
