"""Escort hand-overs record the staff member's identity and the officer (issue 12): who took the vehicle over
(name and the last four characters of their ID) and the officer signed in on the checkpoint's laptop. Requests
handed over before have '' and NULL.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"

COLUMNS = ("handover_staff_name", "handover_staff_id_last4", "handover_officer")


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: SQLite adds a column with a constant default in place, and copying the
    # table would fail the foreign-key check once alerts refer to its rows.
    op.add_column(
        "escort_request",
        sa.Column("handover_staff_name", sa.String(length=50), nullable=False, server_default=""),
    )
    op.add_column(
        "escort_request",
        sa.Column("handover_staff_id_last4", sa.String(length=4), nullable=False, server_default=""),
    )
    op.add_column("escort_request", sa.Column("handover_officer", sa.String(length=16), nullable=True))


def downgrade() -> None:
    for column in reversed(COLUMNS):
        op.drop_column("escort_request", column)
