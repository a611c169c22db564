"""Keys, enterprises, issued passes, revocations, policy and bundle versions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "signing_key",
        sa.Column("kid", sa.String(16), primary_key=True),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("alg", sa.String(8), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_key"),
    )
    op.create_table(
        "enterprise",
        sa.Column("uscc", sa.String(18), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("contact", sa.String(50), nullable=False),
        sa.Column("phone", sa.String(30), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uscc", name="pk_enterprise"),
    )
    op.create_table(
        "issued_pass",
        sa.Column("pass_id", sa.String(24), nullable=False),
        sa.Column("serial", sa.String(20), nullable=False),
        sa.Column("kid", sa.String(16), nullable=False),
        sa.Column("enterprise_uscc", sa.String(18), nullable=False),
        sa.Column("plate", sa.String(10), nullable=False),
        sa.Column("claims_json", sa.Text(), nullable=False),
        sa.Column("application_json", sa.Text(), nullable=False),
        sa.Column("qr_text", sa.Text(), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pass_id", name="pk_issued_pass"),
        sa.UniqueConstraint("serial", name="uq_issued_pass_serial"),
        sa.ForeignKeyConstraint(["kid"], ["signing_key.kid"], name="fk_issued_pass_kid_signing_key"),
        sa.ForeignKeyConstraint(
            ["enterprise_uscc"], ["enterprise.uscc"], name="fk_issued_pass_enterprise_uscc_enterprise"
        ),
    )
    op.create_index("ix_issued_pass_enterprise_uscc", "issued_pass", ["enterprise_uscc"])
    op.create_index("ix_issued_pass_plate", "issued_pass", ["plate"])
    op.create_table(
        "revocation",
        sa.Column("pass_id", sa.String(24), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("revoked_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("pass_id", name="pk_revocation"),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["issued_pass.pass_id"], name="fk_revocation_pass_id_issued_pass"
        ),
    )
    op.create_index("ix_revocation_revoked_at", "revocation", ["revoked_at"])
    op.create_table(
        "policy_version",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body_json", sa.Text(), nullable=False),
        sa.Column("effective_from", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_policy_version"),
    )
    op.create_table(
        "bundle_version",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("signed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_bundle_version"),
        sa.ForeignKeyConstraint(
            ["policy_version"],
            ["policy_version.version"],
            name="fk_bundle_version_policy_version_policy_version",
        ),
    )


def downgrade() -> None:
    op.drop_table("bundle_version")
    op.drop_table("policy_version")
    op.drop_index("ix_revocation_revoked_at", table_name="revocation")
    op.drop_table("revocation")
    op.drop_index("ix_issued_pass_plate", table_name="issued_pass")
    op.drop_index("ix_issued_pass_enterprise_uscc", table_name="issued_pass")
    op.drop_table("issued_pass")
    op.drop_table("enterprise")
    op.drop_table("signing_key")
