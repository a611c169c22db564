"""An empty step. Issue 13 reserved this number for its regions and font work, which needed no change to the schema;
the revision stays so that databases already at 0015 or later keep their place in the chain.

Revision ID: 0015
Revises: 0014
"""

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
