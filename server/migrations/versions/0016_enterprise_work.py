"""The enterprise's work and the driver's link (issue 13): application.derived_from and application.derivation (the
application a copy, renewal or amendment was made from, and which of the three), and the driver_link table (a
pass's phone page opened without a password; only the SHA-256 of its token is kept). Applications from before
were made from nothing (NULL, "").

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: SQLite adds a column with a constant default in place, and copying the
    # table would fail the foreign-key check once events and person hashes refer to its rows. derived_from is a
    # plain number, not a reference: a draft that was copied may be deleted, and the copy stays.
    op.add_column("application", sa.Column("derived_from", sa.Integer(), nullable=True))
    op.add_column(
        "application", sa.Column("derivation", sa.String(length=8), nullable=False, server_default="")
    )
    op.create_table(
        "driver_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.String(length=24), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("last_seen_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["issued_pass.pass_id"], name=op.f("fk_driver_link_pass_id_issued_pass")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_driver_link_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["app_user.id"], name=op.f("fk_driver_link_revoked_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_driver_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_driver_link_token_hash")),
    )
    op.create_index(op.f("ix_driver_link_pass_id"), "driver_link", ["pass_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_driver_link_pass_id"), table_name="driver_link")
    op.drop_table("driver_link")
    op.drop_column("application", "derivation")
    op.drop_column("application", "derived_from")
