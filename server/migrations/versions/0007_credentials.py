"""Credentials: token expiry and revocation, sign-in back-off (issue 11).

A user's API token now expires (``api_token.expires_at``; a device's token stays without one). Tokens already
issued to users get the default lifetime (30 days) from the upgrade, so scripts keep working until then instead of
failing at once. Registrations are counted per client address (``registration_attempt``) to throttle them; sign-in
back-off reads the existing ``login_attempt`` rows.

Revision ID: 0007
Revises: 0006
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0007"
down_revision = "0006"

DEFAULT_TOKEN_DAYS = 30


def upgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
    token = sa.table("api_token", sa.column("user_id", sa.Integer()), sa.column("expires_at", UTCDateTime()))
    op.execute(
        token.update()
        .where(token.c.user_id.is_not(None))
        .values(expires_at=datetime.now(UTC) + timedelta(days=DEFAULT_TOKEN_DAYS))
    )
    op.create_table(
        "registration_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration_attempt")),
    )
    with op.batch_alter_table("registration_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_attempt_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_attempt_client"), ["client"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("registration_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_attempt_client"))
        batch_op.drop_index(batch_op.f("ix_registration_attempt_at"))
    op.drop_table("registration_attempt")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
