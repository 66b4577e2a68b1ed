"""Application settings, read once from the environment and `.env` (see `.env.example`). The
database and the deadline policy are declared in models/config.py, which this class extends."""

from __future__ import annotations

import re
from datetime import time
from functools import cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import NoDecode

from models.config import ModelSettings, describe_error, load_or_exit

__all__ = ["Settings", "describe_error", "get_settings", "load_settings_or_exit"]

# The token `make run` gives the bot when it runs against the local sandbox (no real token).
SANDBOX_TOKEN = "1000000001:diancai-sandbox"
# What Telegram accepts as setWebhook's secret_token.
WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Settings(ModelSettings):
    # Telegram. Without a token the launcher runs the local sandbox instead of Telegram.
    telegram_bot_token: SecretStr | None = None
    # Base URL of a Bot API server other than Telegram's (the sandbox sets this).
    telegram_api_base: str | None = None
    webhook_url: str | None = None  # public URL; when set the bot runs in webhook mode
    # Required in webhook mode: Telegram sends it in every request, others cannot guess it.
    webhook_secret: SecretStr | None = Field(default=None, validate_default=True)
    webhook_listen_host: str = "127.0.0.1"
    webhook_listen_port: int = Field(default=8443, ge=1, le=65535)
    webhook_path: str = "/telegram/webhook"

    # Storage (the database: models/config.py).
    redis_url: str | None = None  # FSM storage in Redis when set, in memory otherwise

    # NLU service (Rasa over HTTP).
    rasa_url: str = "http://127.0.0.1:5005"
    nlu_timeout_seconds: float = Field(default=1.5, gt=0, le=10)
    # At or above this confidence the bot proposes one category; below it, the top three.
    nlu_confidence_threshold: float = Field(default=0.6, ge=0, le=1)

    # People and places.
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    default_locale: Literal["zh", "en"] = "zh"
    quiet_hours_start: time = time(21, 0)
    quiet_hours_end: time = time(8, 0)
    # The local gas company's 24 h emergency line, shown in urgent replies (set per city).
    gas_emergency_line: str | None = None

    # Outbox sender limits. Telegram allows about 30 messages/s overall and 1/s per chat; pacing
    # at exactly 30/s lets 31 fall into some one-second window (a 429), so stay a little under.
    outbox_global_rate: float = Field(default=28.0, gt=0)
    outbox_per_chat_interval: float = Field(default=1.0, ge=0)
    outbox_max_attempts: int = Field(default=5, ge=1)

    # Deadlines: the policy is in models/config.py; workers are reminded this early.
    deadline_warning_hours: float = Field(default=2, ge=0)

    # The scheduler (python -m scheduler).
    survey_hour: int = Field(default=10, ge=8, le=20)  # 回访: the day after, at this hour
    survey_reminder_days: int = Field(default=3, ge=1)
    survey_expiry_days: int = Field(default=7, ge=2)
    digest_time: time = time(8, 30)  # the workers' morning digest
    # A standby takes over within lease + poll seconds after the active scheduler died.
    scheduler_lease_seconds: float = Field(default=30, gt=0)
    scheduler_poll_seconds: float = Field(default=10, gt=0)

    # Local sandbox (used only without a Telegram token).
    sandbox_host: str = "127.0.0.1"
    sandbox_api_port: int = Field(default=8081, ge=1, le=65535)
    sandbox_web_port: int = Field(default=8080, ge=1, le=65535)

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_in_webhook_mode(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is None:
            if info.data.get("webhook_url"):
                raise ValueError(
                    "required when WEBHOOK_URL is set (webhook mode): without it anyone could "
                    "post updates to the bot"
                )
            return None
        if not WEBHOOK_SECRET_PATTERN.fullmatch(value.get_secret_value()):
            raise ValueError("use 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @property
    def uses_sandbox(self) -> bool:
        return self.telegram_bot_token is None

    @property
    def sandbox_api_url(self) -> str:
        return f"http://{self.sandbox_host}:{self.sandbox_api_port}"

    def for_sandbox(self) -> Settings:
        """These settings pointed at the local sandbox's Bot API, with the sandbox token."""
        return self.model_copy(
            update={
                "telegram_bot_token": SecretStr(SANDBOX_TOKEN),
                "telegram_api_base": self.sandbox_api_url,
            }
        )


@cache
def get_settings() -> Settings:
    return Settings()


def load_settings_or_exit() -> Settings:
    """For entry points: a clear single line instead of a traceback on bad settings."""
    return load_or_exit(get_settings)
