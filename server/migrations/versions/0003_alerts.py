"""Audit alerts and their history, the retention-run marker, and the purge and audit marks on crossings (and the purge mark on conflicts).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("crossing_id", sa.String(length=36), nullable=True),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.Column("pass_id", sa.String(length=24), nullable=True),
        sa.Column("checkpoint_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("acted_by", sa.Integer(), nullable=True),
        sa.Column("acted_at", UTCDateTime(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["acted_by"], ["app_user.id"], name=op.f("fk_alert_acted_by_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_alert_dedupe_key")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_checkpoint_id"), ["checkpoint_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_crossing_id"), ["crossing_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_occurred_at"), ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_pass_id"), ["pass_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_status"), ["status"], unique=False)

    op.create_table(
        "alert_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("by", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"], name=op.f("fk_alert_event_alert_id_alert")),
        sa.ForeignKeyConstraint(["by"], ["app_user.id"], name=op.f("fk_alert_event_by_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_event")),
    )
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_event_alert_id"), ["alert_id"], unique=False)

    op.create_table(
        "retention_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("crossings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_run")),
        sa.UniqueConstraint("day", name=op.f("uq_retention_run_day")),
    )
    with op.batch_alter_table("crossing", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("audited_at", UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_crossing_audited_at"), ["audited_at"], unique=False)
    with op.batch_alter_table("crossing_conflict", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purged_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crossing_conflict", schema=None) as batch_op:
        batch_op.drop_column("purged_at")
    with op.batch_alter_table("crossing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crossing_audited_at"))
        batch_op.drop_column("audited_at")
        batch_op.drop_column("purged_at")
    op.drop_table("retention_run")
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_event_alert_id"))
    op.drop_table("alert_event")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_status"))
        batch_op.drop_index(batch_op.f("ix_alert_pass_id"))
        batch_op.drop_index(batch_op.f("ix_alert_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_alert_kind"))
        batch_op.drop_index(batch_op.f("ix_alert_device_id"))
        batch_op.drop_index(batch_op.f("ix_alert_crossing_id"))
        batch_op.drop_index(batch_op.f("ix_alert_created_at"))
        batch_op.drop_index(batch_op.f("ix_alert_checkpoint_id"))
    op.drop_table("alert")
