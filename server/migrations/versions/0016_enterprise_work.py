"""Placeholder for issue 13 work (replaced by the helper that owns this number; an empty step keeps the chain whole).

Revision ID: 0016
Revises: 0015
"""

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
