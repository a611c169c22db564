"""Placeholder for issue 13 work (replaced by the helper that owns this number; an empty step keeps the chain whole).

Revision ID: 0018
Revises: 0017
"""

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
