"""Risk flags and the replaced pass on applications (issue 13): application.risk (the number of reasons, indexed so
that the queue sorts and filters by it), application.risk_reasons (JSON) and application.replaces_pass_id (the pass
a renewal or an amendment replaces). Applications from before have no flag (0, "[]"); the flags of those still
submitted are worked out again the next time the hard-hit list is saved.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"

INDEX = "ix_application_risk"
FOREIGN_KEY = "fk_application_replaces_pass_id_issued_pass"


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: SQLite adds a column with a constant default in place, and copying the
    # table would fail the foreign-key check once events and person hashes refer to its rows.
    op.add_column("application", sa.Column("risk", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("application", sa.Column("risk_reasons", sa.Text(), nullable=False, server_default="[]"))
    op.create_index(INDEX, "application", ["risk"])
    if op.get_context().dialect.name == "sqlite":
        # SQLite cannot add a constraint to a table (Alembic refuses outside batch mode), but it takes a reference
        # written on a new nullable column, and drops such a column again.
        op.execute(
            f"ALTER TABLE application ADD COLUMN replaces_pass_id VARCHAR(24) "
            f"CONSTRAINT {FOREIGN_KEY} REFERENCES issued_pass (pass_id)"
        )
    else:
        op.add_column("application", sa.Column("replaces_pass_id", sa.String(length=24), nullable=True))
        op.create_foreign_key(FOREIGN_KEY, "application", "issued_pass", ["replaces_pass_id"], ["pass_id"])


def downgrade() -> None:
    if op.get_context().dialect.name != "sqlite":
        op.drop_constraint(FOREIGN_KEY, "application", type_="foreignkey")
    op.drop_column("application", "replaces_pass_id")
    op.drop_index(INDEX, table_name="application")
    op.drop_column("application", "risk_reasons")
    op.drop_column("application", "risk")
