"""Checkpoint settings, read from CHECKPOINT_* environment variables by ``get_settings``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHECKPOINT_", extra="ignore")

    home: Path = Field(
        default=Path("."), description="state directory: keys/ (pinned root, device credential) and db/"
    )
    lang: Literal["zh", "en"] = "zh"
    timezone: str = "Asia/Shanghai"  # times are stored in UTC and shown in local time
    # Sync with the server (checkpoint sync, and the screen's background sync).
    sync_batch: int = Field(
        default=500, ge=1, le=500, description="records per upload (the server takes 500)"
    )
    sync_attempts: int = Field(default=5, ge=1, le=20, description="tries per request on transient errors")
    sync_backoff_s: float = Field(default=0.5, gt=0, le=60, description="first back-off; doubles each try")
    sync_backoff_max_s: float = Field(default=30.0, gt=0, le=600, description="cap on one back-off")
    sync_timeout_s: float = Field(default=30.0, gt=0, le=600, description="per HTTP request")
    # A handheld scanner in USB keyboard mode (docs/scanners.md): shown to the screen's page, which tells its fast
    # keystrokes from an officer's typing.
    scanner_end: Literal["enter", "tab", "enter_or_tab", "none"] = Field(
        default="enter_or_tab", description="the key the scanner sends after a code (none: ends by a pause)"
    )
    scanner_prefix: str = Field(default="", max_length=16, description="text the scanner sends before a code")
    scanner_suffix: str = Field(default="", max_length=16, description="text the scanner sends after a code")
    scanner_gap_ms: int = Field(
        default=50, ge=10, le=200, description="longest pause between a scanner's keystrokes"
    )
    scanner_min_chars: int = Field(
        default=12, ge=4, le=64, description="keystrokes in a burst before it counts as a scanner"
    )

    @property
    def root_path(self) -> Path:
        return self.home / "keys" / "root.pub.pem"

    @property
    def bundle_path(self) -> Path:
        return self.home / "db" / "trust-bundle.cose"

    @property
    def store_path(self) -> Path:
        return self.home / "db" / "checkpoint.sqlite3"

    @property
    def device_path(self) -> Path:
        return self.home / "keys" / "device.json"


def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
