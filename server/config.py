"""Server settings, read from CHECKPASS_* environment variables by ``get_settings`` (never at import time)."""

from __future__ import annotations

import json
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from passcore import ids, keys
from passcore.errors import InputError

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHECKPASS_", extra="ignore")

    home: Path = Field(default=Path("."), description="state directory: keys/ and db/ live here")
    database_url: str | None = Field(default=None, description="PostgreSQL URL; embedded SQLite when unset")
    key_passphrase: SecretStr | None = Field(default=None, description="encrypts private key files")
    issuer_region: str = Field(
        default="320583", description="region code of the issuing bureau (pass numbers)"
    )
    issuer_name: str = "昆山市交通运输局"
    issuer_alg: str = Field(
        default="EdDSA",
        description="signing algorithm of new issuer keys (init, keys rotate): EdDSA or ES256; the root stays EdDSA",
    )
    # Issuer keys in a PKCS#11 token (issue 15, part D; server/keyring/pkcs11.py, docs/deploy.md "Key ceremony").
    pkcs11_module: Path | None = Field(
        default=None,
        description="PKCS#11 library of the token holding issuer keys (e.g. /usr/lib/softhsm/libsofthsm2.so)",
    )
    pkcs11_token: str = Field(
        default="", max_length=32, description="label of the PKCS#11 token that holds the issuer keys"
    )
    pkcs11_pin: SecretStr | None = Field(default=None, description="user PIN of the PKCS#11 token")
    bundle_validity_days: int = Field(default=7, ge=1, le=90)
    timezone: str = "Asia/Shanghai"
    session_hours: int = Field(default=12, ge=1, le=720)
    login_max_failures: int = Field(default=5, ge=1, le=100, description="failed logins before throttling")
    login_window_minutes: int = Field(default=15, ge=1, le=1440)
    login_source_max_failures: int = Field(
        default=20,
        ge=1,
        le=10000,
        description="failed logins from one address, any account, before throttling",
    )
    registration_max_per_hour: int = Field(
        default=10, ge=1, le=1000, description="registrations tried from one address within an hour"
    )
    api_token_days: int = Field(default=30, ge=1, le=365, description="lifetime of a user's API token")
    # Comma-separated networks (or a JSON list); empty: X-Forwarded-For is never believed.
    trusted_proxies: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="reverse proxies whose X-Forwarded-For is believed (login and registration throttling)",
    )
    enrolment_code_hours: int = Field(default=24, ge=1, le=720)
    # Bodies are counted as they arrive and refused past these (413), however they are sent. The largest forms
    # (the policy text, an application) stay under 200 KiB; a batch of 500 crossing records at their limits is
    # under 6 MiB as the checkpoint sends it.
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024, description="largest request body"
    )
    max_upload_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=64 * 1024,
        le=256 * 1024 * 1024,
        description="largest body of a checkpoint's crossing upload (POST /api/v1/crossings)",
    )
    # Documents (server/documents): a phone photo of a licence or a scanned PDF is 1-4 MB. A request that carries
    # documents (registration, the application form, an upload) may be up to three of these plus its form.
    max_document_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=64 * 1024,
        le=64 * 1024 * 1024,
        description="largest uploaded document (vehicle, driving or business licence; JPEG, PNG or PDF)",
    )
    cookie_secure: bool | None = Field(
        default=None, description="Secure cookies; default: when served over HTTPS"
    )
    # The audit (server/alerts, server/retention).
    audit_max_speed_kmh: float = Field(
        default=150.0,
        gt=0,
        le=1000,
        description="cloned pass: fastest believable road speed, applied to the straight line between checkpoints",
    )
    audit_clock_skew_minutes: int = Field(
        default=5,
        ge=0,
        le=120,
        description="cloned pass: added to the time between two sightings (device clocks)",
    )
    audit_distance_slack_km: float = Field(
        default=2.0,
        ge=0,
        le=50,
        description="cloned pass: taken off the distance between two checkpoints (where their coordinates point)",
    )
    audit_interval_minutes: int = Field(
        default=10, ge=1, le=1440, description="periodic audit checks; the retention purge runs once a day"
    )
    audit_schedule: bool = Field(default=True, description="run the periodic checks and purge inside `serve`")
    # Audit queue and workers (issue 15, part A: server/alerts/queue.py, `checkpass worker`).
    audit_mode: Literal["inline", "queue"] = Field(
        default="inline",
        description="inline: each upload's request audits its records right after storing them; "
        "queue: uploads are only stored and queued, and `checkpass worker` processes audit them",
    )
    # The review desk (server/applications/desk.py).
    review_claim_minutes: int = Field(
        default=30, ge=1, le=1440, description="how long a reviewer's claim on an application holds it"
    )
    review_page_size: int = Field(
        default=50, ge=10, le=500, description="applications per page of the review queue"
    )
    # Notices (server/notices): e-mail through SMTP, signed webhooks, password resets by e-mail.
    public_url: str = Field(
        default="",
        description="the portal's address as users reach it (links in e-mails); default: the request's own address",
    )
    smtp_host: str = Field(
        default="", description="SMTP server for notices and password resets; empty: no e-mail"
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port")
    smtp_starttls: bool = Field(default=False, description="upgrade the SMTP connection with STARTTLS")
    smtp_user: str = Field(default="", description="SMTP login; empty: no login")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password")
    smtp_from: str = Field(default="checkpass@localhost", description="From address of notice e-mails")
    notices_schedule: bool = Field(
        default=True, description="send the notice outbox from a thread inside `serve`"
    )
    notices_interval_seconds: int = Field(
        default=5, ge=1, le=3600, description="how often `serve`'s sender looks for notices due"
    )
    notice_max_attempts: int = Field(
        default=8, ge=1, le=50, description="tries of one e-mail or webhook call before it is marked failed"
    )
    notice_retry_seconds: int = Field(
        default=30,
        ge=1,
        le=86400,
        description="wait before the first retry; doubled after each failure (max 6 h)",
    )
    webhook_timeout_seconds: int = Field(default=10, ge=1, le=120, description="a webhook call's time limit")
    webhook_allow_private: bool = Field(
        default=False,
        description="let webhooks reach loopback, private and link-local addresses (tests, closed networks)",
    )
    password_reset_minutes: int = Field(
        default=30, ge=5, le=1440, description="lifetime of a password-reset link"
    )
    password_reset_max_per_hour: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="password-reset requests per address and per account within an hour",
    )
    # Several nodes and a read replica (issue 15, part F; docs/deploy.md "PostgreSQL").
    read_database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of a read replica for the audit pages (GET only); unset: the primary",
    )
    # Metrics and logs (issue 15, part B; server/ops, docs/deploy.md "Metrics and logs"). /metrics answers only a
    # scraper that sends the token or comes from one of the networks; with neither set it is not there (404).
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token a Prometheus scraper sends to read /metrics"
    )
    metrics_networks: Annotated[list[IPv4Network | IPv6Network], NoDecode] = Field(
        default_factory=list,
        description="networks (comma-separated or a JSON list) whose scrapers may read /metrics without the token",
    )
    pdf_font: Path = Field(
        default=Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
        description="TrueType CJK font embedded in every PDF (first face of a .ttc); checked at start",
    )

    @field_validator("issuer_region")
    @classmethod
    def _region(cls, value: str) -> str:
        return ids.validate_region(value)

    @field_validator("trusted_proxies", "metrics_networks", mode="before")
    @classmethod
    def _proxies(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            value = [part for part in text.replace(" ", ",").split(",") if part]
        if isinstance(value, list):
            try:
                return [ip_network(str(item).strip(), strict=False) for item in value]
            except ValueError as err:
                raise InputError(f"CHECKPASS_{(info.field_name or '').upper()}: {err}") from err
        return value

    @field_validator("read_database_url")
    @classmethod
    def _read_url(cls, value: str | None) -> str | None:
        # A replica of an embedded SQLite file makes no sense: the audit reads a PostgreSQL standby or the primary.
        if value and not value.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            raise InputError(
                "CHECKPASS_READ_DATABASE_URL must be a PostgreSQL URL (postgresql://user@host/db)",
                code="READ_DATABASE_INVALID",
            )
        return value or None

    @field_validator("issuer_alg")
    @classmethod
    def _issuer_alg(cls, value: str) -> str:
        # InputError, like the region's: pydantic passes it through and the CLI prints it as one line.
        if value not in keys.SIGNING_ALGORITHMS:
            raise InputError(
                f"CHECKPASS_ISSUER_ALG must be {' or '.join(keys.SIGNING_ALGORITHMS)}, not {value[:16]!r}",
                code="KEY_INVALID",
            )
        return value

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def db_dir(self) -> Path:
        return self.home / "db"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # The psycopg 3 driver is the one installed; plain postgresql:// would ask for psycopg2.
            if url.startswith(("postgresql://", "postgres://")):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{(self.db_dir / 'checkpass.sqlite3').resolve()}"

    @property
    def read_sqlalchemy_url(self) -> str | None:
        """The read replica's URL with the installed driver, or None (the audit reads the primary)."""
        if not self.read_database_url:
            return None
        if not self.database_url:
            raise InputError(
                "CHECKPASS_READ_DATABASE_URL needs CHECKPASS_DATABASE_URL (a PostgreSQL primary) too",
                code="READ_DATABASE_INVALID",
            )
        return "postgresql+psycopg://" + self.read_database_url.split("://", 1)[1]


def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
