"""Issuer keys held in a PKCS#11 token (issue 15, part D): each signing key says where its private part lives
(``private_store``: "file" under keys/, or "pkcs11") and, for a token, the token's label. Every key stored before
this revision is a file.

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"


def upgrade() -> None:
    op.add_column(
        "signing_key", sa.Column("private_store", sa.String(length=8), nullable=False, server_default="file")
    )
    op.add_column("signing_key", sa.Column("token_label", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # Without the column a token key would be looked for as a file and every pass it signs would stop being
    # issued with an unclear error; refuse instead, while such a key is not retired.
    bind = op.get_bind()
    held = bind.execute(
        sa.text("SELECT count(*) FROM signing_key WHERE private_store <> 'file' AND status <> 'retired'")
    ).scalar_one()
    if held:
        raise RuntimeError(
            f"{held} issuer key(s) live in a PKCS#11 token: rotate to a file key and retire them before downgrading"
        )
    # Plain DROP COLUMN (SQLite 3.35+ and PostgreSQL), like 0023's: a batch copy of signing_key would drop a table
    # that passes and bundle statements point at, which SQLite's foreign keys refuse.
    op.drop_column("signing_key", "token_label")
    op.drop_column("signing_key", "private_store")
