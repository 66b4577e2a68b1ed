"""Settings: defaults, parsing, and one clear line for what is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, describe_error

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_run_without_any_configuration() -> None:
    s = Settings(_env_file=None)
    assert s.database_url.startswith("sqlite+aiosqlite:///var/")
    assert s.default_locale == "zh" and str(s.tz) == "Asia/Shanghai"
    assert s.uses_sandbox and s.redis_url is None
    assert (s.quiet_hours_start.hour, s.quiet_hours_end.hour) == (21, 8)


def test_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "11, 22;33")
    monkeypatch.setenv("QUIET_HOURS_START", "22:30")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    s = Settings(_env_file=None)
    assert s.admin_ids == [11, 22, 33] and s.quiet_hours_start.minute == 30
    assert not s.uses_sandbox and s.telegram_bot_token.get_secret_value() == "123:abc"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: Value error, use an async driver"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE: Value error, unknown time zone"),
        ("ADMIN_IDS", "12,abc", "ADMIN_IDS_1"),
        ("NLU_CONFIDENCE_THRESHOLD", "1.5", "NLU_CONFIDENCE_THRESHOLD"),
        ("DEFAULT_LOCALE", "fr", "DEFAULT_LOCALE"),
    ],
)
def test_invalid_settings_are_named(monkeypatch, name, value, message) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    line = describe_error(caught.value)
    assert line.startswith("settings error — ") and message in line and "\n" not in line


def test_webhook_mode_requires_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", "https://bot.example.org")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)
    line = describe_error(caught.value)
    assert line.startswith("settings error — WEBHOOK_SECRET: ") and "\n" not in line
    assert "required when WEBHOOK_URL is set" in line
    monkeypatch.setenv("WEBHOOK_SECRET", "has spaces and ü")  # Telegram would refuse it
    with pytest.raises(ValidationError, match="webhook_secret"):
        Settings(_env_file=None)
    monkeypatch.setenv("WEBHOOK_SECRET", "Abc_123-xyz")
    assert Settings(_env_file=None).webhook_secret.get_secret_value() == "Abc_123-xyz"
    monkeypatch.delenv("WEBHOOK_URL")
    monkeypatch.delenv("WEBHOOK_SECRET")
    assert Settings(_env_file=None).webhook_secret is None  # polling needs none


def test_webhook_without_secret_stops_start_up_with_one_line() -> None:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "123:abc", "WEBHOOK_URL": "https://bot.example.org"}
    env.pop("WEBHOOK_SECRET", None)
    result = subprocess.run([sys.executable, "-m", "bot"], env=env, capture_output=True,
                            text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(
        "settings error — WEBHOOK_SECRET: Value error, required when WEBHOOK_URL"
    )


def test_bad_setting_stops_start_up_with_one_line() -> None:
    env = {**os.environ, "TIMEZONE": "Nowhere/City"}
    result = subprocess.run([sys.executable, "-m", "bot"], env=env, capture_output=True,
                            text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "settings error — TIMEZONE: Value error, unknown time zone 'Nowhere/City'"
    ]


def test_missing_token_is_a_clear_message_not_a_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "bot"], env=env, capture_output=True,
                            text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr and "Traceback" not in result.stderr
