"""The audit's plate search matches part of a plate (issue 13: "A1234" finds 苏E·A1234): on PostgreSQL a trigram
index (pg_trgm, GIN) on crossing.plate serves LIKE '%A1234%'. pg_trgm ships with PostgreSQL and is a trusted
extension (13+): the database's owner may create it. SQLite gets nothing; it reads the time index.

Revision ID: 0020
Revises: 0019
"""

from alembic import op

revision = "0020"
down_revision = "0019"

INDEX = "ix_crossing_plate_trgm"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        INDEX,
        "crossing",
        ["plate"],
        postgresql_using="gin",
        postgresql_ops={"plate": "gin_trgm_ops"},
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The extension stays: dropping it would break anything else of the database's that came to use it.
    op.drop_index(INDEX, table_name="crossing")
