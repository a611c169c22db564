"""Placeholder for issue 13 work (replaced by the helper that owns this number; an empty step keeps the chain whole).

Revision ID: 0019
Revises: 0018
"""

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
