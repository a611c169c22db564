"""Root statements that travel with the trust bundle (issue 15): the certificate of a delegated bundle-signing key
(the root stays offline) and the cross-signatures of a root rollover.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0025"
down_revision = "0024"


def upgrade() -> None:
    op.create_table(
        "bundle_statement",
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=8), nullable=False),
        sa.Column("signer_kid", sa.String(length=16), nullable=False),
        sa.Column("alg", sa.String(length=8), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("statement", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_bundle_statement")),
    )


def downgrade() -> None:
    op.drop_table("bundle_statement")
