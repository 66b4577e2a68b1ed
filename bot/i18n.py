"""Translations: gettext catalogs in bot/locales, compiled by Babel (`make i18n-compile`).

Message ids are simplified Chinese, the default locale: a string missing from the English
catalog shows in Chinese rather than as an identifier. Users choose "zh" or "en"; the catalogs
are named by their full locale.

Where one Chinese word reads two ways in English (受理 is the button "Accept" and, in a ticket's
history, "Accepted"), the message id carries a context (gettext's msgctxt): ``NC_`` marks it,
``pgettext`` translates it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser
from aiogram.utils.i18n import I18n, I18nMiddleware, get_i18n
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
        # No saved language (a group chat, where nobody's data is kept): Telegram's.
        telegram_user = data.get("event_from_user")
        if telegram_user is not None and (telegram_user.language_code or "").startswith("en"):
            return CATALOG_FOR["en"]
        return self.i18n.default_locale


class KnownLanguages:
    """The language each person chose, as last read from the database, for what is said before
    or without it (the safety reply, the outage notice). Someone not seen since the process
    started, or forgotten (the oldest go first past ``limit``), gets their Telegram app's."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._chosen: dict[int, str] = {}

    def remember(self, telegram_id: int, language: str) -> None:
        self._chosen.pop(telegram_id, None)  # the newest last
        self._chosen[telegram_id] = language
        if len(self._chosen) > self.limit:
            del self._chosen[next(iter(self._chosen))]

    def of(self, person: TelegramUser | None) -> str:
        if person is None:
            return "zh"
        chosen = self._chosen.get(person.id)
        if chosen is not None:
            return chosen
        return "en" if (person.language_code or "").startswith("en") else "zh"


def N_(message: str) -> str:
    """Marks a message id for extraction; translate it where it is shown."""
    return message


def NC_(_context: str, message: str) -> str:
    """Marks a message id with its context for extraction; translate it with ``pgettext``."""
    return message


def pgettext(context: str, message: str, *, i18n: I18n | None = None,
             locale: str | None = None) -> str:  # fmt: skip
    """``message`` read in ``context``, in ``locale`` (by default the current update's)."""
    i18n = i18n or get_i18n()
    translations = i18n.locales.get(locale or i18n.current_locale)
    return translations.pgettext(context, message) if translations else message


def variants(i18n: I18n, message: str) -> frozenset[str]:
    """A message in every language: for matching a button label whatever the user's locale."""
    return frozenset(i18n.gettext(message, locale=catalog) for catalog in CATALOG_FOR.values())


def translate(
    i18n: I18n, language: str, message: str, plural: str | None = None, n: int = 1,
    *, context: str | None = None,
) -> str:  # fmt: skip
    """Outside a handler (the outbox sender, scheduler jobs): text in ``language``."""
    locale = CATALOG_FOR.get(language, i18n.default_locale)
    if context is not None:
        return pgettext(context, message, i18n=i18n, locale=locale)
    return i18n.gettext(message, plural, n, locale=locale)
