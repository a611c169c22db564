"""Roll-ups of crossing counts for the dashboard and the daily summary, one column per outcome: per UTC hour and
checkpoint (``crossing_hour``) and per UTC day and enterprise (``crossing_enterprise_day``), filled here from the
crossings already stored; ingest keeps them up to date from then on. PostgreSQL's index on escort requests' time
also carries what the dashboard reads of them (checkpoint, hand-over time), so it need not read the rows.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0005"
down_revision = "0004"

ESCORT_INCLUDE = ["checkpoint_id", "handed_over_at"]
COUNTS = {"released": "RELEASE", "escorted": "ESCORT_REQUIRED", "refused": "REFUSE", "held": "MEDICAL_HOLD"}
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


def _counts() -> list[sa.Column]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS]


def _fill(table: str, key: str, column: str, unit: str, where: str = "") -> None:
    floor = FLOOR[op.get_bind().dialect.name][unit]
    sums = ", ".join(f"sum(CASE WHEN outcome = '{outcome}' THEN 1 ELSE 0 END)" for outcome in COUNTS.values())
    insert = f"INSERT INTO {table} ({key}, {column}, {', '.join(COUNTS)})"
    query = f"SELECT {floor}, {column}, {sums} FROM crossing {where} GROUP BY {floor}, {column}"  # noqa: S608 (constants)
    op.execute(f"{insert} {query}")


def upgrade() -> None:
    op.create_table(
        "crossing_hour",
        sa.Column("hour", UTCDateTime(), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        *_counts(),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"], ["checkpoint.id"], name=op.f("fk_crossing_hour_checkpoint_id_checkpoint")
        ),
        sa.PrimaryKeyConstraint("hour", "checkpoint_id", name=op.f("pk_crossing_hour")),
    )
    op.create_table(
        "crossing_enterprise_day",
        sa.Column("day", UTCDateTime(), nullable=False),
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=False),
        *_counts(),
        sa.PrimaryKeyConstraint("day", "enterprise_uscc", name=op.f("pk_crossing_enterprise_day")),
    )
    _fill("crossing_hour", "hour", "checkpoint_id", "hour")
    _fill("crossing_enterprise_day", "day", "enterprise_uscc", "day", "WHERE enterprise_uscc IS NOT NULL")
    _escort_index(ESCORT_INCLUDE)


def _escort_index(include: list[str]) -> None:
    op.drop_index("ix_escort_request_requested_at", table_name="escort_request")
    op.create_index(
        "ix_escort_request_requested_at", "escort_request", ["requested_at"], postgresql_include=include
    )


def downgrade() -> None:
    _escort_index([])
    op.drop_table("crossing_enterprise_day")
    op.drop_table("crossing_hour")
