from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.spool import DATABASE_DOWN, Spool

log = logging.getLogger(__name__)

# Said without the database (so without the user's saved language): by Telegram's language.
DOWN_REPLY = {
    "zh": "系统正在维护，您的消息已经保存，恢复后会自动处理，不用重发。给您添麻烦了！",
    "en": "We're doing maintenance. Your message is saved and will be handled automatically "
    "when we're back — no need to send it again. Sorry for the wait!",
}


class ResilienceMiddleware(BaseMiddleware):
    """Outermost: when the database is down, the update is kept on disk (replayed later) and
    the person is told so. Nothing a resident sends is lost."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except DATABASE_DOWN as error:
            assert isinstance(event, Update)
            log.warning("database unreachable (%s); update %s spooled", error, event.update_id)
            await self.spool.append(event)
            chat = data.get("event_chat")
            user = data.get("event_from_user")
            if chat is not None and chat.type == "private" and not data.get("replaying"):
                language = "en" if (user and (user.language_code or "").startswith("en")) else "zh"
                try:
                    await data["bot"].send_message(chat.id, DOWN_REPLY[language])
                except Exception:
                    log.exception("could not tell chat %s about the outage", chat.id)
            return None
