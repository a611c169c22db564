"""Placeholder for issue 13 work (replaced by the helper that owns this number; an empty step keeps the chain whole).

Revision ID: 0017
Revises: 0016
"""

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
