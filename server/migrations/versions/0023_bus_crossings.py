"""Bus crossings and quarantine follow-up (issue 14): each crossing's kind (freight or personnel), a bus's wait
in the priority lane and its passenger counts; the quarantine tasks of passengers released into their
enterprise's quarantine.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0023"
down_revision = "0022"

COUNTS = ("passengers_aboard", "passengers_absent", "passengers_quarantined", "passengers_held")


def upgrade() -> None:
    # Plain ADD COLUMN with defaults: every stored crossing is a freight vehicle with no passengers (no batch copy
    # of crossing, which escort requests, problems and the roll-ups refer to).
    op.add_column(
        "crossing", sa.Column("kind", sa.String(length=12), nullable=False, server_default="freight")
    )
    op.add_column("crossing", sa.Column("bus_wait_seconds", sa.Integer(), nullable=True))
    for column in COUNTS:
        op.add_column("crossing", sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_crossing_kind_time", "crossing", ["kind", "decided_at", "id"], unique=False)
    op.create_table(
        "quarantine_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crossing_id", sa.String(length=36), nullable=False),
        sa.Column("passenger", sa.Integer(), nullable=False),
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=True),
        sa.Column("pass_id", sa.String(length=24), nullable=True),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("place", sa.String(length=100), nullable=False),
        sa.Column("arrived_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("purged_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["crossing_id"], ["crossing.id"], name=op.f("fk_quarantine_task_crossing_id_crossing")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_uscc"],
            ["enterprise.uscc"],
            name=op.f("fk_quarantine_task_enterprise_uscc_enterprise"),
        ),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"], ["checkpoint.id"], name=op.f("fk_quarantine_task_checkpoint_id_checkpoint")
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by"], ["app_user.id"], name=op.f("fk_quarantine_task_confirmed_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_task")),
        sa.UniqueConstraint("crossing_id", "passenger", name="uq_quarantine_task_crossing_id_passenger"),
    )
    op.create_index("ix_quarantine_task_status_due", "quarantine_task", ["status", "due_at"], unique=False)
    op.create_index(
        "ix_quarantine_task_enterprise_due", "quarantine_task", ["enterprise_uscc", "due_at"], unique=False
    )
    op.create_index(op.f("ix_quarantine_task_pass_id"), "quarantine_task", ["pass_id"], unique=False)
    op.create_index(op.f("ix_quarantine_task_created_at"), "quarantine_task", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("quarantine_task")  # its indexes go with it
    op.drop_index("ix_crossing_kind_time", table_name="crossing")
    # Plain DROP COLUMN (SQLite 3.35+ and PostgreSQL), like 0017's downgrade: no batch copy of crossing.
    for column in reversed(COUNTS):
        op.drop_column("crossing", column)
    op.drop_column("crossing", "bus_wait_seconds")
    op.drop_column("crossing", "kind")
