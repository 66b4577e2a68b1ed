"""The settings the rules in models/ depend on: the database and the deadline policy.

``bot.settings.Settings`` extends ``ModelSettings``, so one `.env` with the same variable names
configures both, and the bot and the scheduler pass their ``Settings`` wherever a model function
takes ``settings``. This keeps models/ free of imports from bot/ (the scheduler and the command
lines in models/ use them without the bot); a model function called without settings reads the
same environment (``get_model_settings``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import time
from functools import cache
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class ModelSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/diancai.db"
    timezone: str = "Asia/Shanghai"

    # Deadlines (models/deadlines.py). Working days follow China's public holidays and adjusted
    # workdays; a deadline counted in working days ends at ``workday_end`` of its last day.
    workday_end: time = time(18, 0)
    response_hours_urgent: float = Field(default=2, gt=0)
    response_working_days: int = Field(default=1, ge=1)  # "24 h" as 12345 hotlines count it
    urgent_resolution_working_days: int = Field(default=1, ge=1)
    resolution_working_days: dict[str, int] = {
        "basic": 15, "improvement": 30, "enhancement": 60, "management": 15,
        "supervision": 5, "none": 15,
    }  # fmt: skip

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use an async driver: sqlite+aiosqlite:///path or postgresql+asyncpg://host/db"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@cache
def get_model_settings() -> ModelSettings:
    return ModelSettings()


def describe_error(error: ValidationError) -> str:
    """One line naming every bad setting, as its environment variable."""
    parts = []
    for item in error.errors():
        name = "_".join(str(p) for p in item["loc"]).upper() or "settings"
        parts.append(f"{name}: {item['msg']}")
    return "settings error — " + "; ".join(parts)


def load_or_exit(load: Callable[[], SettingsT]) -> SettingsT:
    """For entry points: a clear single line instead of a traceback on bad settings."""
    try:
        return load()
    except ValidationError as error:
        print(describe_error(error), file=sys.stderr)
        raise SystemExit(2) from None
