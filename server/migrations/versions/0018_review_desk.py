"""The reviewer's desk (issue 13): an application's answer deadline (due_on, 3 working days on the Chinese holiday
calendar), the texts the queue searches (names and plate) and filters (region codes), a claim (who works it, until
when), indexes for the queue's orders (oldest, deadline, risk: 0014's risk column), and internal review notes. Submitted applications get their deadline from
their submission; every application gets its search texts from its stored body.

Revision ID: 0018
Revises: 0017
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

from server.applications.desk_index import columns
from server.db import UTCDateTime
from server.workdays import APPLICATION_DAYS, deadline

revision = "0018"
down_revision = "0017"

_BATCH = 500


def upgrade() -> None:
    # Plain ADD COLUMN (in place on SQLite, as 0010-0012): copying the table would fail the foreign-key check.
    op.add_column("application", sa.Column("due_on", sa.Date(), nullable=True))
    op.add_column("application", sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    op.add_column("application", sa.Column("regions", sa.Text(), nullable=False, server_default=""))
    op.add_column("application", sa.Column("claimed_by", sa.Integer(), nullable=True))
    op.add_column("application", sa.Column("claim_until", UTCDateTime(), nullable=True))
    op.create_index("ix_application_due_on", "application", ["due_on"])
    op.create_index("ix_application_status_submitted", "application", ["status", "submitted_at"])
    op.create_index("ix_application_status_due_on", "application", ["status", "due_on"])
    op.create_index("ix_application_status_risk", "application", ["status", "risk", "submitted_at"])
    op.create_table(
        "review_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["application.id"], name="fk_review_note_application_id_application"
        ),
        sa.ForeignKeyConstraint(["author_id"], ["app_user.id"], name="fk_review_note_author_id_app_user"),
        sa.PrimaryKeyConstraint("id", name="pk_review_note"),
    )
    op.create_index("ix_review_note_application_id", "review_note", ["application_id"])
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    table = sa.table(
        "application",
        sa.column("id", sa.Integer()),
        sa.column("status", sa.String()),
        sa.column("body_json", sa.Text()),
        sa.column("submitted_at", UTCDateTime()),
        sa.column("due_on", sa.Date()),
        sa.column("search_text", sa.Text()),
        sa.column("regions", sa.Text()),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(table.c.id, table.c.status, table.c.body_json, table.c.submitted_at)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            values: dict[str, object] = dict(columns(row.body_json))
            submitted: datetime | None = row.submitted_at
            if row.status == "submitted" and submitted is not None:
                values["due_on"] = deadline(submitted, APPLICATION_DAYS)
            bind.execute(sa.update(table).where(table.c.id == row.id).values(**values))
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_review_note_application_id", table_name="review_note")
    op.drop_table("review_note")
    for index in (
        "ix_application_status_risk",
        "ix_application_status_due_on",
        "ix_application_status_submitted",
        "ix_application_due_on",
    ):
        op.drop_index(index, table_name="application")
    # Not in batch mode: SQLite ≥ 3.35 drops a plain column in place (see 0009).
    for column in ("claim_until", "claimed_by", "regions", "search_text", "due_on"):
        op.drop_column("application", column)
