"""The audit queue (issue 15): ingest stores its records and their audit work in one transaction; the audit
(`checkpass worker`, or the uploading request itself in the inline mode) works the entries and deletes them in
the transaction that raises their alerts. Crossings stored before this revision and never audited are queued
here, so none is left unaudited.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0024"
down_revision = "0023"


def upgrade() -> None:
    op.create_table(
        "audit_queue",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("crossing_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("digest", sa.String(length=16), nullable=True),
        sa.Column("enqueued_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_queue")),
    )
    op.create_index(op.f("ix_audit_queue_enqueued_at"), "audit_queue", ["enqueued_at"], unique=False)
    # Crossings whose audit never ran (the server stopped between storing and auditing them, or the audit
    # failed): queued at their time of receipt, oldest first, so the lag shows how long they have waited.
    op.execute(
        "INSERT INTO audit_queue (kind, crossing_id, device_id, enqueued_at) "
        "SELECT 'crossing', id, device_id, received_at FROM crossing WHERE audited_at IS NULL "
        "ORDER BY received_at, device_id, seq"
    )


def downgrade() -> None:
    # Entries still queued are crossings not yet audited: their audited_at is unset, which is how the periodic
    # sweep of the revisions before this one finds them. (Queued conflicts lose their alert: their bodies stay
    # in crossing_conflict for the audit to read.)
    op.drop_table("audit_queue")
