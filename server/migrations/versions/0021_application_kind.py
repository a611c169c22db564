"""Personnel-transport applications (issue 14): ``application.kind`` ("freight" | "personnel"; every stored
application is freight), and ``person_hash.role`` one of driver | escort | manager | passenger (10 characters).

The bus itself (seats, stations, manager) and its passengers live in the application's body like its driver and
escorts, their ID numbers masked there and sealed in ``people_sealed``: no other table is needed.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"


def upgrade() -> None:
    op.add_column(
        "application",
        sa.Column("kind", sa.String(length=10), nullable=False, server_default="freight"),
    )
    # person_hash is referred to by no other table: batch mode may copy it on SQLite.
    with op.batch_alter_table("person_hash") as batch_op:
        batch_op.alter_column("role", existing_type=sa.String(length=8), type_=sa.String(length=10))


def downgrade() -> None:
    # A bus's manager and passengers have no place in the old schema: their hashes go (the sealed bodies keep them).
    op.execute("DELETE FROM person_hash WHERE role NOT IN ('driver', 'escort')")
    with op.batch_alter_table("person_hash") as batch_op:
        batch_op.alter_column("role", existing_type=sa.String(length=10), type_=sa.String(length=8))
    # Plain DROP COLUMN (SQLite 3.35+ does it in place): batch mode would copy application, which others refer to.
    op.drop_column("application", "kind")
