"""Crossings name the officer who decided (issue 12): crossing.officer, filled at ingest from the record's
``officer`` key, indexed for the audit's filter by officer (newest first, as every crossing list). Records from
before have no officer (NULL); the claimed contents of a forged pass, the referral, absent people and the record a
decision repeats stay in the record's body, which the audit reads.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"

INDEX = "ix_crossing_officer_time"


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: SQLite adds a nullable column in place, and copying the table would fail
    # the foreign-key check once alerts and escort requests refer to its rows.
    op.add_column("crossing", sa.Column("officer", sa.String(length=16), nullable=True))
    op.create_index(INDEX, "crossing", ["officer", "decided_at", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="crossing")
    op.drop_column("crossing", "officer")
