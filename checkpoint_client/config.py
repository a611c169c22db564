"""Checkpoint settings, read from CHECKPOINT_* environment variables by ``get_settings``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHECKPOINT_", extra="ignore")

    home: Path = Field(default=Path("."), description="state directory: keys/ (pinned root) and db/")
    lang: Literal["zh", "en"] = "zh"
    timezone: str = "Asia/Shanghai"  # times are stored in UTC and shown in local time

    @property
    def root_path(self) -> Path:
        return self.home / "keys" / "root.pub.pem"

    @property
    def bundle_path(self) -> Path:
        return self.home / "db" / "trust-bundle.cose"


def get_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
