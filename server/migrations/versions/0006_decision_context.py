"""The server's view of what each device was served (issue 11): ``bundle_serving``, one row per trust-bundle
version answered to an enrolled device (at most one per device, version and ten minutes). The audit replays a
device's records under the bundle it held by then, not under the one the record claims. Devices enrolled before
this revision have no history until their next fetch; the audit judges what it can without one.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "bundle_serving",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("served_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_bundle_serving_device_id_device")
        ),
        sa.ForeignKeyConstraint(
            ["version"], ["bundle_version.version"], name=op.f("fk_bundle_serving_version_bundle_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_serving")),
    )
    op.create_index("ix_bundle_serving_device_time", "bundle_serving", ["device_id", "served_at"])


def downgrade() -> None:
    op.drop_index("ix_bundle_serving_device_time", table_name="bundle_serving")
    op.drop_table("bundle_serving")
