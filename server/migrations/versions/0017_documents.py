"""Documents (vehicle licence, driving licence, business licence) and the administrator's refusal of an
enterprise's verification (issue 13). The files live under <home>/documents/; the table holds what they are.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("stored_name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("media_type", sa.String(length=20), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["application.id"], name=op.f("fk_document_application_id_application")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_uscc"], ["enterprise.uscc"], name=op.f("fk_document_enterprise_uscc_enterprise")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["app_user.id"], name=op.f("fk_document_uploaded_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_document_stored_name")),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_application_id"), ["application_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_enterprise_uscc"), ["enterprise_uscc"], unique=False)
    op.add_column("enterprise", sa.Column("rejected_at", UTCDateTime(), nullable=True))
    op.add_column("enterprise", sa.Column("rejected_by", sa.Integer(), nullable=True))
    op.add_column(
        "enterprise", sa.Column("rejected_reason", sa.String(length=500), nullable=False, server_default="")
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+ does it in place): batch mode would copy enterprise, which other tables
    # refer to, and SQLite refuses to drop the old copy.
    for column in ("rejected_reason", "rejected_by", "rejected_at"):
        op.drop_column("enterprise", column)
    op.drop_index(op.f("ix_document_enterprise_uscc"), table_name="document")
    op.drop_index(op.f("ix_document_application_id"), table_name="document")
    op.drop_table("document")
