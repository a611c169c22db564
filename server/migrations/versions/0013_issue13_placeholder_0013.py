"""Placeholder for issue 13 work (replaced by the helper that owns this number; an empty step keeps the chain whole).

Revision ID: 0013
Revises: 0012
"""

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
