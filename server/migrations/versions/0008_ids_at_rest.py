"""Full ID numbers encrypted at rest (issue 11): the sealed people of applications and issued passes, and the
keyed hashes of their ID numbers.

The upgrade only adds the columns and the table: sealing needs the data key under keys/, which `checkpass init`
(and `serve`) create and then use to seal the rows stored before (``server.applications.people.seal_legacy``);
until then a row's ``people_sealed`` is NULL and its body still holds the numbers, which reads take as they are.
The downgrade puts the numbers back into the bodies, so it needs the data keys (the engine carries them).

Revision ID: 0008
Revises: 0007
"""

import json

import sqlalchemy as sa
from alembic import op

from server.keyring import datakeys

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.add_column(sa.Column("people_sealed", sa.Text(), nullable=True))
    with op.batch_alter_table("issued_pass", schema=None) as batch_op:
        batch_op.add_column(sa.Column("people_sealed", sa.Text(), nullable=True))
    op.create_table(
        "person_hash",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("pass_id", sa.String(length=24), nullable=True),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=8), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["application.id"], name=op.f("fk_person_hash_application_id_application")
        ),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["issued_pass.pass_id"], name=op.f("fk_person_hash_pass_id_issued_pass")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_hash")),
    )
    with op.batch_alter_table("person_hash", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_person_hash_application_id"), ["application_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_hash_digest"), ["digest"], unique=False)
        batch_op.create_index(batch_op.f("ix_person_hash_pass_id"), ["pass_id"], unique=False)


def _unseal(keys: datakeys.DataKeys, table: str, key: str, body: str, context: str) -> None:
    rows = sa.table(table, sa.column(key), sa.column(body), sa.column("people_sealed"))
    bind = op.get_bind()
    for row_key, text, sealed in bind.execute(
        sa.select(rows.c[key], rows.c[body], rows.c.people_sealed).where(
            rows.c.people_sealed.startswith(f"{datakeys.VERSION}:")
        )
    ):
        data, people = json.loads(text), json.loads(keys.open(sealed, context.format(row_key)))
        data["driver"].update(people["driver"])
        for escort, number in zip(data.get("escorts") or [], people["escorts"], strict=True):
            escort["id_number"] = number
        bind.execute(
            rows.update().where(rows.c[key] == row_key).values({body: json.dumps(data, ensure_ascii=False)})
        )


def downgrade() -> None:
    keys = datakeys.of_connection(op.get_bind())
    _unseal(keys, "application", "id", "body_json", "application/{}/people")
    _unseal(keys, "issued_pass", "pass_id", "application_json", "issued_pass/{}/people")
    with op.batch_alter_table("person_hash", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_person_hash_pass_id"))
        batch_op.drop_index(batch_op.f("ix_person_hash_digest"))
        batch_op.drop_index(batch_op.f("ix_person_hash_application_id"))
    op.drop_table("person_hash")
    # Not in batch mode: SQLite would copy the table, and a copy of a table that other rows refer to fails the
    # foreign-key check once it holds data. SQLite (3.35 on) and PostgreSQL drop a plain column in place.
    op.drop_column("issued_pass", "people_sealed")
    op.drop_column("application", "people_sealed")
