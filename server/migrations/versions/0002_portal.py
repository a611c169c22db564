"""Accounts, sessions and tokens; applications and their history; checkpoints, devices, crossings, escorts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from server.db import UTCDateTime

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoint")),
    )
    op.create_table(
        "crossing_conflict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crossing_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("body_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crossing_conflict")),
    )
    with op.batch_alter_table("crossing_conflict", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crossing_conflict_crossing_id"), ["crossing_id"], unique=False)

    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_attempt_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_attempt_client"), ["client"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_attempt_username"), ["username"], unique=False)

    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=True),
        sa.Column("display_name", sa.String(length=50), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_uscc"], ["enterprise.uscc"], name=op.f("fk_app_user_enterprise_uscc_enterprise")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_user_enterprise_uscc"), ["enterprise_uscc"], unique=False)

    op.create_table(
        "device",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("enrolled_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"], ["checkpoint.id"], name=op.f("fk_device_checkpoint_id_checkpoint")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_checkpoint_id"), ["checkpoint_id"], unique=False)

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], name=op.f("fk_api_token_device_id_device")),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_api_token_user_id_app_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_token_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_token_user_id"), ["user_id"], unique=False)

    op.create_table(
        "application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("body_json", sa.Text(), nullable=False),
        sa.Column("plate", sa.String(length=10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("pass_id", sa.String(length=24), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_application_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["app_user.id"], name=op.f("fk_application_decided_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_uscc"], ["enterprise.uscc"], name=op.f("fk_application_enterprise_uscc_enterprise")
        ),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["issued_pass.pass_id"], name=op.f("fk_application_pass_id_issued_pass")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application")),
        sa.UniqueConstraint("pass_id", name=op.f("uq_application_pass_id")),
    )
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_application_enterprise_uscc"), ["enterprise_uscc"], unique=False)
        batch_op.create_index(batch_op.f("ix_application_plate"), ["plate"], unique=False)
        batch_op.create_index(batch_op.f("ix_application_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_application_submitted_at"), ["submitted_at"], unique=False)

    op.create_table(
        "crossing",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("plate", sa.String(length=10), nullable=False),
        sa.Column("pass_id", sa.String(length=24), nullable=True),
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=True),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("bundle_version", sa.Integer(), nullable=False),
        sa.Column("body_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"], ["checkpoint.id"], name=op.f("fk_crossing_checkpoint_id_checkpoint")
        ),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], name=op.f("fk_crossing_device_id_device")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crossing")),
        sa.UniqueConstraint("device_id", "seq", name="uq_crossing_device_id_seq"),
    )
    with op.batch_alter_table("crossing", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crossing_checkpoint_id"), ["checkpoint_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crossing_decided_at"), ["decided_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_crossing_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crossing_enterprise_uscc"), ["enterprise_uscc"], unique=False)
        batch_op.create_index(batch_op.f("ix_crossing_outcome"), ["outcome"], unique=False)
        batch_op.create_index(batch_op.f("ix_crossing_pass_id"), ["pass_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crossing_plate"), ["plate"], unique=False)

    op.create_table(
        "enrolment_code",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"], ["checkpoint.id"], name=op.f("fk_enrolment_code_checkpoint_id_checkpoint")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_enrolment_code_created_by_app_user")
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_enrolment_code")),
    )
    with op.batch_alter_table("enrolment_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enrolment_code_checkpoint_id"), ["checkpoint_id"], unique=False)

    op.create_table(
        "web_session",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], name=op.f("fk_web_session_user_id_app_user")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_session")),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_session_user_id"), ["user_id"], unique=False)

    op.create_table(
        "application_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("from_status", sa.String(length=10), nullable=False),
        sa.Column("to_status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["app_user.id"], name=op.f("fk_application_event_actor_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
            name=op.f("fk_application_event_application_id_application"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_event")),
    )
    with op.batch_alter_table("application_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_event_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "escort_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crossing_id", sa.String(length=36), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("enterprise_uscc", sa.String(length=18), nullable=True),
        sa.Column("plate", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("staff_name", sa.String(length=50), nullable=False),
        sa.Column("staff_phone", sa.String(length=30), nullable=False),
        sa.Column("eta", UTCDateTime(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("handed_over_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["app_user.id"], name=op.f("fk_escort_request_answered_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"], ["checkpoint.id"], name=op.f("fk_escort_request_checkpoint_id_checkpoint")
        ),
        sa.ForeignKeyConstraint(
            ["crossing_id"], ["crossing.id"], name=op.f("fk_escort_request_crossing_id_crossing")
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_uscc"],
            ["enterprise.uscc"],
            name=op.f("fk_escort_request_enterprise_uscc_enterprise"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escort_request")),
        sa.UniqueConstraint("crossing_id", name=op.f("uq_escort_request_crossing_id")),
    )
    with op.batch_alter_table("escort_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escort_request_checkpoint_id"), ["checkpoint_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_escort_request_enterprise_uscc"), ["enterprise_uscc"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_escort_request_status"), ["status"], unique=False)

    with op.batch_alter_table("enterprise", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=6), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("verified_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("verified_by", sa.Integer(), nullable=True))

    with op.batch_alter_table("issued_pass", schema=None) as batch_op:
        batch_op.add_column(sa.Column("application_id", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_issued_pass_application_id"), ["application_id"])


def downgrade() -> None:

    with op.batch_alter_table("issued_pass", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_issued_pass_application_id"), type_="unique")
        batch_op.drop_column("application_id")

    with op.batch_alter_table("enterprise", schema=None) as batch_op:
        batch_op.drop_column("verified_by")
        batch_op.drop_column("verified_at")
        batch_op.drop_column("region")

    with op.batch_alter_table("escort_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escort_request_status"))
        batch_op.drop_index(batch_op.f("ix_escort_request_enterprise_uscc"))
        batch_op.drop_index(batch_op.f("ix_escort_request_checkpoint_id"))

    op.drop_table("escort_request")
    with op.batch_alter_table("application_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_event_application_id"))

    op.drop_table("application_event")
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_user_id"))

    op.drop_table("web_session")
    with op.batch_alter_table("enrolment_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrolment_code_checkpoint_id"))

    op.drop_table("enrolment_code")
    with op.batch_alter_table("crossing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crossing_plate"))
        batch_op.drop_index(batch_op.f("ix_crossing_pass_id"))
        batch_op.drop_index(batch_op.f("ix_crossing_outcome"))
        batch_op.drop_index(batch_op.f("ix_crossing_enterprise_uscc"))
        batch_op.drop_index(batch_op.f("ix_crossing_device_id"))
        batch_op.drop_index(batch_op.f("ix_crossing_decided_at"))
        batch_op.drop_index(batch_op.f("ix_crossing_checkpoint_id"))

    op.drop_table("crossing")
    with op.batch_alter_table("application", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_submitted_at"))
        batch_op.drop_index(batch_op.f("ix_application_status"))
        batch_op.drop_index(batch_op.f("ix_application_plate"))
        batch_op.drop_index(batch_op.f("ix_application_enterprise_uscc"))

    op.drop_table("application")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_token_user_id"))
        batch_op.drop_index(batch_op.f("ix_api_token_device_id"))

    op.drop_table("api_token")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_checkpoint_id"))

    op.drop_table("device")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_user_enterprise_uscc"))

    op.drop_table("app_user")
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempt_username"))
        batch_op.drop_index(batch_op.f("ix_login_attempt_client"))
        batch_op.drop_index(batch_op.f("ix_login_attempt_at"))

    op.drop_table("login_attempt")
    with op.batch_alter_table("crossing_conflict", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crossing_conflict_crossing_id"))

    op.drop_table("crossing_conflict")
    op.drop_table("checkpoint")
