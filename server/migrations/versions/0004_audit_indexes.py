"""Indexes for the audit's crossing lists: one per filter, each ending in (decided_at, id) for keyset pages; they
replace the single-column indexes they start with. An index on escort requests' time for the dashboard.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"

# name -> columns; each makes the single-column index of its first column redundant
COMPOSITE = {
    "ix_crossing_time": ["decided_at", "id"],
    "ix_crossing_checkpoint_time": ["checkpoint_id", "decided_at", "id"],
    "ix_crossing_enterprise_time": ["enterprise_uscc", "decided_at", "id"],
    "ix_crossing_pass_time": ["pass_id", "decided_at", "id"],
    "ix_crossing_plate_time": ["plate", "decided_at", "id"],
    "ix_crossing_outcome_time": ["outcome", "decided_at", "id"],
}
SINGLE = {f"ix_crossing_{columns[0]}": [columns[0]] for columns in COMPOSITE.values()}


# PostgreSQL keeps the dashboard's grouping columns in the time index: its aggregates read the index alone.
INCLUDE = {"ix_crossing_time": ["checkpoint_id", "outcome", "enterprise_uscc"]}


def upgrade() -> None:
    for name, columns in COMPOSITE.items():
        op.create_index(name, "crossing", columns, unique=False, postgresql_include=INCLUDE.get(name, []))
    for name in SINGLE:
        op.drop_index(name, table_name="crossing")
    op.create_index("ix_escort_request_requested_at", "escort_request", ["requested_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_escort_request_requested_at", table_name="escort_request")
    for name, columns in SINGLE.items():
        op.create_index(name, "crossing", columns, unique=False)
    for name in COMPOSITE:
        op.drop_index(name, table_name="crossing")
