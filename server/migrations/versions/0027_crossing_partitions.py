"""Crossings partitioned by day of receipt on PostgreSQL (issue 15); crossing_key on both databases.

``crossing_key`` (id, device_id, seq, record_hash, received_at) keeps a crossing's id and its device's counter unique
across every day: a partitioned table's unique constraints must contain its partition key, so ``crossing`` alone
could only say "unique within one day". Ingest writes the key in the crossing's transaction and looks duplicates up
there; the escort requests and quarantine tasks point at it, so a day's partition can be dropped whole.

PostgreSQL: ``crossing`` becomes ``PARTITION BY RANGE (received_at)``, one partition per UTC day that holds rows
(``crossing_pYYYYMMDD``) plus ``crossing_default`` (rows of a day nobody made a partition for yet: ingest never
fails on a missing day; server/crossings/partitions.py moves them out). Its primary key is (id, received_at); the
(device_id, seq) uniqueness becomes the plain index ``ix_crossing_device_seq``. Every other index keeps its name.
The rows are copied over in this one transaction (a large table takes a while: see docs/deploy.md "Partitions").

SQLite (a single site): ``crossing`` stays as it is; only crossing_key is added and the two foreign keys move.

Revision ID: 0027
Revises: 0026
"""

from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0027"
down_revision = "0026"

# The indexes of crossing as of 0026 (the names tests, docs and server/audit/queries.py use), without the
# uniqueness ones: re-made on the partitioned table, where each becomes one index per partition.
INDEXES = (
    "ix_crossing_audited_at ON crossing (audited_at)",
    "ix_crossing_checkpoint_time ON crossing (checkpoint_id, decided_at, id)",
    "ix_crossing_device_id ON crossing (device_id)",
    "ix_crossing_enterprise_time ON crossing (enterprise_uscc, decided_at, id)",
    "ix_crossing_kind_time ON crossing (kind, decided_at, id)",
    "ix_crossing_officer_time ON crossing (officer, decided_at, id)",
    "ix_crossing_outcome_time ON crossing (outcome, decided_at, id)",
    "ix_crossing_pass_time ON crossing (pass_id, decided_at, id)",
    "ix_crossing_plate_time ON crossing (plate, decided_at, id)",
    "ix_crossing_plate_trgm ON crossing USING gin (plate gin_trgm_ops)",
    "ix_crossing_received_at ON crossing (received_at)",
    "ix_crossing_time ON crossing (decided_at, id) INCLUDE (checkpoint_id, outcome, enterprise_uscc)",
)
REFERRERS = ("escort_request", "quarantine_task")


def _point(referred: str, old: str) -> None:
    """Move the crossing_id foreign key of the escort requests and quarantine tasks to ``referred``."""
    for table in REFERRERS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_crossing_id_{old}", type_="foreignkey")
            batch.create_foreign_key(f"fk_{table}_crossing_id_{referred}", referred, ["crossing_id"], ["id"])


def _bound(day: date) -> str:
    return f"'{day.isoformat()} 00:00:00+00'"


def _partition_days(bind: sa.Connection) -> list[date]:
    """Every UTC day that holds a crossing, and today: the partitions the copied rows need."""
    query = "SELECT DISTINCT (received_at AT TIME ZONE 'UTC')::date FROM crossing"
    days = {row[0] for row in bind.execute(sa.text(query))}
    days.add(bind.execute(sa.text("SELECT (now() AT TIME ZONE 'UTC')::date")).scalar_one())
    return sorted(days)


def _foreign_keys() -> None:
    op.execute(
        "ALTER TABLE crossing ADD CONSTRAINT fk_crossing_checkpoint_id_checkpoint"
        " FOREIGN KEY (checkpoint_id) REFERENCES checkpoint (id)"
    )
    op.execute(
        "ALTER TABLE crossing ADD CONSTRAINT fk_crossing_device_id_device"
        " FOREIGN KEY (device_id) REFERENCES device (id)"
    )


def upgrade() -> None:
    op.create_table(
        "crossing_key",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], name=op.f("fk_crossing_key_device_id_device")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crossing_key")),
        sa.UniqueConstraint("device_id", "seq", name="uq_crossing_key_device_id_seq"),
    )
    op.execute(
        "INSERT INTO crossing_key (id, device_id, seq, record_hash, received_at)"
        " SELECT id, device_id, seq, record_hash, received_at FROM crossing"
    )
    _point("crossing_key", "crossing")
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # Same columns, types and defaults (LIKE), in the same order, so INSERT ... SELECT * copies row for row.
    op.execute(
        "CREATE TABLE crossing_new (LIKE crossing INCLUDING DEFAULTS) PARTITION BY RANGE (received_at)"
    )
    op.execute("CREATE TABLE crossing_default PARTITION OF crossing_new DEFAULT")
    for day in _partition_days(bind):
        op.execute(
            f"CREATE TABLE crossing_p{day:%Y%m%d} PARTITION OF crossing_new"
            f" FOR VALUES FROM ({_bound(day)}) TO ({_bound(day + timedelta(days=1))})"
        )
    op.execute("INSERT INTO crossing_new SELECT * FROM crossing")
    op.execute("DROP TABLE crossing")
    op.execute("ALTER TABLE crossing_new RENAME TO crossing")
    # Keys and indexes after the rows: one sorted build per partition instead of one insert at a time.
    op.execute("ALTER TABLE crossing ADD CONSTRAINT pk_crossing PRIMARY KEY (id, received_at)")
    _foreign_keys()
    for index in (*INDEXES, "ix_crossing_device_seq ON crossing (device_id, seq)"):
        op.execute(f"CREATE INDEX {index}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE TABLE crossing_old (LIKE crossing INCLUDING DEFAULTS)")
        op.execute("INSERT INTO crossing_old SELECT * FROM crossing")
        op.execute("DROP TABLE crossing")  # its partitions go with it
        op.execute("ALTER TABLE crossing_old RENAME TO crossing")
        op.execute("ALTER TABLE crossing ADD CONSTRAINT pk_crossing PRIMARY KEY (id)")
        op.execute("ALTER TABLE crossing ADD CONSTRAINT uq_crossing_device_id_seq UNIQUE (device_id, seq)")
        _foreign_keys()
        for index in INDEXES:
            op.execute(f"CREATE INDEX {index}")
    _point("crossing", "crossing_key")
    op.drop_table("crossing_key")
