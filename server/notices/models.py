"""Notices and their deliveries.

A ``notice`` row is one message to one user, shown in the portal's notification list. A ``notice_delivery`` row is
the outbox: one e-mail to one address or one webhook call to one enterprise's URL, written in the transaction that
caused it and sent later by the sender (``server.notices.sender``), never in the request. Texts are not stored:
they are rendered from the kind and its parameters in the recipient's language, when shown or sent.
"""

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.db import UTCDateTime

CHANNEL_EMAIL, CHANNEL_WEBHOOK = "email", "webhook"
CHANNELS = (CHANNEL_EMAIL, CHANNEL_WEBHOOK)
# pending: waiting for its (next) try; sending: claimed by a sender until lease_until; sent; failed: given up.
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
DELIVERY_STATES = (PENDING, SENDING, SENT, FAILED)


class Notice(SQLModel, table=True):
    __tablename__ = "notice"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    kind: str = Field(max_length=40)
    params: str = Field(default="{}")  # JSON object of plain strings (never ID numbers)
    link: str = Field(default="", max_length=300)  # a path inside the portal, or ""
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NoticeDelivery(SQLModel, table=True):
    __tablename__ = "notice_delivery"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=8)
    # The enterprise a delivery is for (its settings page lists its webhook deliveries); NULL for bureau users.
    enterprise_uscc: str | None = Field(default=None, index=True, max_length=18)
    target: str = Field(max_length=300)  # an e-mail address, or the webhook URL at the time of the notice
    lang: str = Field(default="zh", max_length=2)
    kind: str = Field(max_length=40)
    params: str = Field(default="{}")
    link: str = Field(default="", max_length=300)
    state: str = Field(default=PENDING, max_length=8, index=True)
    attempts: int = 0
    next_try_at: datetime = Field(sa_type=UTCDateTime, index=True)
    lease_until: datetime | None = Field(
        default=None, sa_type=UTCDateTime
    )  # a claimed row's sender holds it until
    status_code: int | None = (
        None  # the webhook's last HTTP status (SMTP: the server's reply code on failure)
    )
    last_error: str = Field(default="", max_length=300)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class NoticeConfig(SQLModel, table=True):
    """Where an enterprise wants its notices: e-mail addresses and a webhook (URL and its signing secret)."""

    __tablename__ = "notice_config"

    enterprise_uscc: str = Field(primary_key=True, foreign_key="enterprise.uscc", max_length=18)
    emails: str = Field(default="", max_length=500)  # comma-separated addresses
    webhook_url: str = Field(default="", max_length=300)
    # Sealed with the installation's data key (context notice_config/<uscc>/webhook_secret): the sender needs the
    # secret itself to sign, so it cannot be a hash; a copy of the database alone does not reveal it.
    webhook_secret_sealed: str = Field(default="")
    updated_at: datetime = Field(sa_type=UTCDateTime)


class PasswordReset(SQLModel, table=True):
    """A password-reset request: the token's hash (the token itself is only in the e-mail), single use, expiring.
    A request for an unknown account is recorded too (user_id NULL, no token), so throttling counts it alike."""

    __tablename__ = "password_reset"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    token_hash: str | None = Field(default=None, unique=True, max_length=64)
    client: str = Field(index=True, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
