"""Retention of everything personal (issue 11): applications and issued passes say when their personal data was
purged; the purge finds crossings and conflicting uploads by their time of receipt as well as their claimed time.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0009"
down_revision = "0008"

RECEIVED = (
    ("crossing", "ix_crossing_received_at"),
    ("crossing_conflict", "ix_crossing_conflict_received_at"),
)


def upgrade() -> None:
    for table in ("application", "issued_pass"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("purged_at", UTCDateTime(), nullable=True))
    for table, index in RECEIVED:
        op.create_index(index, table, ["received_at"])


def downgrade() -> None:
    for table, index in RECEIVED:
        op.drop_index(index, table_name=table)
    # Not in batch mode: SQLite would copy the table, and copying a table other rows refer to fails the foreign
    # key check (SQLite ≥ 3.35 drops a plain column in place).
    for table in ("issued_pass", "application"):
        op.drop_column(table, "purged_at")
