"""Placeholder for issue 13 work (replaced by the helper that owns this number; an empty step keeps the chain whole).

Revision ID: 0020
Revises: 0019
"""

revision = "0020"
down_revision = "0019"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
