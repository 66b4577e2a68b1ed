"""Translations: gettext catalogs in bot/locales, compiled by Babel (`make i18n-compile`).

Message ids are simplified Chinese, the default locale: a string missing from the English
catalog shows in Chinese rather than as an identifier. Users choose "zh" or "en"; the catalogs
are named by their full locale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n, I18nMiddleware
from aiogram.utils.i18n import gettext as _  # noqa: F401  (re-exported for handlers)
from aiogram.utils.i18n import lazy_gettext as __  # noqa: F401

LOCALES_DIR = Path(__file__).with_name("locales")
CATALOG_FOR = {"zh": "zh_CN", "en": "en"}
LANGUAGE_FOR = {catalog: language for language, catalog in CATALOG_FOR.items()}
LANGUAGE_NAMES = {"zh": "简体中文", "en": "English"}


def make_i18n(default_language: str = "zh") -> I18n:
    return I18n(path=LOCALES_DIR, default_locale=CATALOG_FOR[default_language], domain="messages")


class UserLocaleMiddleware(I18nMiddleware):
    """The locale is the user's saved language (set by UserMiddleware, changed by /language)."""

    async def get_locale(
        self,
        event: TelegramObject,  # noqa: ARG002 - aiogram passes it by this name
        data: dict[str, Any],
    ) -> str:
        user = data.get("user")
        if user is not None and user.language in CATALOG_FOR:
            return CATALOG_FOR[user.language]
        return self.i18n.default_locale


def N_(message: str) -> str:
    """Marks a message id for extraction; translate it where it is shown."""
    return message


def variants(i18n: I18n, message: str) -> frozenset[str]:
    """A message in every language: for matching a button label whatever the user's locale."""
    return frozenset(i18n.gettext(message, locale=catalog) for catalog in CATALOG_FOR.values())


def translate(
    i18n: I18n, language: str, message: str, plural: str | None = None, n: int = 1
) -> str:
    """Outside a handler (the outbox sender, scheduler jobs): text in ``language``."""
    return i18n.gettext(message, plural, n, locale=CATALOG_FOR.get(language, i18n.default_locale))
