"""Placeholder for issue 13 work (replaced by the helper that owns this number; an empty step keeps the chain whole).

Revision ID: 0015
Revises: 0014
"""

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
