"""Problems and appeals (issue 13): departments with their own staff (``app_user.department_id``), the problems
enterprises raise and their timeline, and each checkpoint's traffic state for the public status page.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0019"
down_revision = "0018"

TRAFFIC = ("traffic", "traffic_note", "traffic_at")


def upgrade() -> None:
    op.create_table(
        "department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=50), nullable=False),
        sa.Column("name_en", sa.String(length=80), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
        sa.UniqueConstraint("name_zh", name=op.f("uq_department_name_zh")),
    )
    # Plain ADD COLUMN (no batch copy of app_user, which many tables refer to); the id is not a foreign key.
    op.add_column("app_user", sa.Column("department_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_app_user_department_id"), "app_user", ["department_id"], unique=False)
    op.add_column(
        "checkpoint", sa.Column("traffic", sa.String(length=12), nullable=False, server_default="open")
    )
    op.add_column(
        "checkpoint", sa.Column("traffic_note", sa.String(length=200), nullable=False, server_default="")
    )
    op.add_column("checkpoint", sa.Column("traffic_at", UTCDateTime(), nullable=True))
    op.create_table(
        "problem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=False),
        sa.Column("raised_by", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("crossing_id", sa.String(length=36), nullable=True),
        sa.Column("pass_id", sa.String(length=24), nullable=True),
        sa.Column("checkpoint_id", sa.Integer(), nullable=True),
        sa.Column("plate", sa.String(length=10), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("forwarded_at", UTCDateTime(), nullable=True),
        sa.Column("forwarded_late", sa.Boolean(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_uscc"], ["enterprise.uscc"], name=op.f("fk_problem_enterprise_uscc_enterprise")
        ),
        sa.ForeignKeyConstraint(["raised_by"], ["app_user.id"], name=op.f("fk_problem_raised_by_app_user")),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_problem_department_id_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problem")),
    )
    for column in (
        "enterprise_uscc",
        "crossing_id",
        "pass_id",
        "status",
        "received_at",
        "due_on",
        "department_id",
    ):
        op.create_index(op.f(f"ix_problem_{column}"), "problem", [column], unique=False)
    op.create_table(
        "problem_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["by"], ["app_user.id"], name=op.f("fk_problem_event_by_app_user")),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_problem_event_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["problem_id"], ["problem.id"], name=op.f("fk_problem_event_problem_id_problem")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problem_event")),
    )
    op.create_index(op.f("ix_problem_event_problem_id"), "problem_event", ["problem_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_problem_event_problem_id"), table_name="problem_event")
    op.drop_table("problem_event")
    op.drop_table("problem")  # its indexes go with it
    for column in reversed(TRAFFIC):
        op.drop_column("checkpoint", column)
    op.drop_index(op.f("ix_app_user_department_id"), table_name="app_user")
    op.drop_column("app_user", "department_id")
    op.drop_table("department")
