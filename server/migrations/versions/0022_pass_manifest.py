"""The signed manifest pages of a personnel-transport (bus) pass (issue 14): one row a page, the CPM1 text as
signed at issue, deleted by retention with the pass's people.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"


def upgrade() -> None:
    op.create_table(
        "pass_manifest_page",
        sa.Column("pass_id", sa.String(length=24), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["issued_pass.pass_id"], name=op.f("fk_pass_manifest_page_pass_id_issued_pass")
        ),
        sa.PrimaryKeyConstraint("pass_id", "number", name=op.f("pk_pass_manifest_page")),
    )


def downgrade() -> None:
    op.drop_table("pass_manifest_page")
