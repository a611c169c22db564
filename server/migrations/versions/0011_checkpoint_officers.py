"""Checkpoint officers with PINs, carried to the laptops by sync (issue 12).

Only a salted scrypt hash of each PIN is stored (``passcore.pins``); an officer is deactivated, never deleted, so
that the number on old crossing records still names someone.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "checkpoint_officer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("pin_set_at", UTCDateTime(), nullable=False),
        sa.Column("deactivated_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"], ["checkpoint.id"], name=op.f("fk_checkpoint_officer_checkpoint_id_checkpoint")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoint_officer")),
        sa.UniqueConstraint("checkpoint_id", "number", name=op.f("uq_checkpoint_officer_checkpoint_id")),
    )
    with op.batch_alter_table("checkpoint_officer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checkpoint_officer_checkpoint_id"), ["checkpoint_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("checkpoint_officer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkpoint_officer_checkpoint_id"))
    op.drop_table("checkpoint_officer")
