"""Roll-ups of crossing counts for the dashboard and the daily summary: per UTC hour, checkpoint and outcome
(``crossing_hour``), and per UTC day, enterprise and outcome (``crossing_enterprise_day``), filled here from the
crossings already stored; ingest keeps them up to date from then on.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0005"
down_revision = "0004"

# The start of the UTC hour or day of decided_at, written exactly as each database stores a UTCDateTime (SQLite:
# the text SQLAlchemy writes; PostgreSQL: a time with zone), so ingest's upserts meet these rows.
FLOOR = {
    "postgresql": {
        "hour": "date_trunc('hour', decided_at, 'UTC')",
        "day": "date_trunc('day', decided_at, 'UTC')",
    },
    "sqlite": {
        "hour": "strftime('%Y-%m-%d %H:00:00.000000', decided_at)",
        "day": "strftime('%Y-%m-%d 00:00:00.000000', decided_at)",
    },
}


def upgrade() -> None:
    op.create_table(
        "crossing_hour",
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("crossings", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"], ["checkpoint.id"], name=op.f("fk_crossing_hour_checkpoint_id_checkpoint")
        ),
        sa.PrimaryKeyConstraint("hour", "checkpoint_id", "outcome", name=op.f("pk_crossing_hour")),
    )
    op.create_table(
        "crossing_enterprise_day",
        sa.Column("day", UTCDateTime(), nullable=False),
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("crossings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "enterprise_uscc", "outcome", name=op.f("pk_crossing_enterprise_day")),
    )
    floor = FLOOR[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO crossing_hour (hour, checkpoint_id, outcome, crossings)"
        f" SELECT {floor['hour']}, checkpoint_id, outcome, count(*) FROM crossing"
        f" GROUP BY {floor['hour']}, checkpoint_id, outcome"
    )
    op.execute(
        "INSERT INTO crossing_enterprise_day (day, enterprise_uscc, outcome, crossings)"
        f" SELECT {floor['day']}, enterprise_uscc, outcome, count(*) FROM crossing"
        f" WHERE enterprise_uscc IS NOT NULL GROUP BY {floor['day']}, enterprise_uscc, outcome"
    )


def downgrade() -> None:
    op.drop_table("crossing_enterprise_day")
    op.drop_table("crossing_hour")
