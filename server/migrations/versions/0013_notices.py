"""Notices that arrive (issue 13): the portal's notification list (notice), the outbox of e-mails and webhook calls
with their delivery log (notice_delivery), each enterprise's notice settings (notice_config), password resets by
e-mail (password_reset) and the users' e-mail addresses (app_user.email, "" for users from before).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: SQLite adds a column with a constant default in place, and copying the
    # table would fail the foreign-key check once other tables refer to its rows.
    op.add_column("app_user", sa.Column("email", sa.String(length=254), nullable=False, server_default=""))
    op.create_index(op.f("ix_app_user_email"), "app_user", ["email"], unique=False)
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("params", sa.String(), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("read_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_notice_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
    )
    op.create_index(op.f("ix_notice_user_id"), "notice", ["user_id"], unique=False)
    op.create_index(op.f("ix_notice_created_at"), "notice", ["created_at"], unique=False)
    op.create_table(
        "notice_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=True),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("params", sa.String(), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_delivery")),
    )
    op.create_index(
        op.f("ix_notice_delivery_enterprise_uscc"), "notice_delivery", ["enterprise_uscc"], unique=False
    )
    op.create_index(op.f("ix_notice_delivery_state"), "notice_delivery", ["state"], unique=False)
    op.create_index(op.f("ix_notice_delivery_next_try_at"), "notice_delivery", ["next_try_at"], unique=False)
    op.create_table(
        "notice_config",
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=False),
        sa.Column("emails", sa.String(length=500), nullable=False),
        sa.Column("webhook_url", sa.String(length=300), nullable=False),
        sa.Column("webhook_secret_sealed", sa.String(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_uscc"], ["enterprise.uscc"], name=op.f("fk_notice_config_enterprise_uscc_enterprise")
        ),
        sa.PrimaryKeyConstraint("enterprise_uscc", name=op.f("pk_notice_config")),
    )
    op.create_table(
        "password_reset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_password_reset_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_reset_token_hash")),
    )
    op.create_index(op.f("ix_password_reset_user_id"), "password_reset", ["user_id"], unique=False)
    op.create_index(op.f("ix_password_reset_client"), "password_reset", ["client"], unique=False)
    op.create_index(op.f("ix_password_reset_created_at"), "password_reset", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("password_reset")
    op.drop_table("notice_config")
    op.drop_table("notice_delivery")
    op.drop_table("notice")
    op.drop_index(op.f("ix_app_user_email"), table_name="app_user")
    op.drop_column("app_user", "email")
