"""What happens to an update whose handling failed: an outage is waited out, a bug is kept for
a human. Either way the person hears from us, and nothing they sent is lost."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import CancelHandler, SkipHandler
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update
from aiogram.utils.i18n import I18n
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import N_, KnownLanguages, translate
from bot.spool import Spool, is_database_down
from models.replays import first_replay

log = logging.getLogger(__name__)

# Said without the database: in the language the person chose when we last saw them, else in
# their Telegram app's (bot.i18n.KnownLanguages).
DOWN_REPLY = N_("系统正在维护，您的消息已经保存，恢复后会自动处理，不用重发。给您添麻烦了！")
BUG_REPLY = N_("抱歉，处理您的消息时出了问题。消息已经保存，等技术人员查明后处理，不用重发。")


class ResilienceMiddleware(BaseMiddleware):
    """Outermost. When the database is down, the update is kept on disk (replayed later) and
    the person is told so. When handling fails for another reason, that is a bug: it is logged
    with its traceback, the update goes to the dead-letter file for a human, and the person
    gets an apology. Telegram errors (a reply that could not be sent) are not ours to handle."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        try:
            return await handler(event, data)
        except (TelegramAPIError, SkipHandler, CancelHandler):
            raise
        except Exception as error:
            if is_database_down(error):
                if data.get("replaying"):
                    raise  # the replayer keeps it in its batch and stops for now
                log.warning("database unreachable (%s); update %s spooled", error, event.update_id)
                await self.spool.append(event)
                await _tell(data, DOWN_REPLY)
                return None
            log.exception("update %s failed; kept in the dead-letter file", event.update_id)
            if await self.spool.dead_letter(event, error):
                await _tell(data, BUG_REPLY)
            return None


async def _tell(data: dict[str, Any], message: str) -> None:
    """A private chat gets ``message`` in the person's language (as known without the database)."""
    chat = data.get("event_chat")
    if chat is None or chat.type != "private":
        return
    languages: KnownLanguages = data["languages"]
    language = languages.of(data.get("event_from_user"))
    i18n: I18n = data["i18n"]
    try:
        await data["bot"].send_message(chat.id, translate(i18n, language, message))
    except Exception:
        log.exception("could not tell chat %s what happened to its message", chat.id)


class ReplayOnceMiddleware(BaseMiddleware):
    """Inside the update's transaction: a replayed update is marked as done together with its
    effects, so replaying a batch again after a crash skips it."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if data.get("replaying"):
            assert isinstance(event, Update)
            session: AsyncSession = data["session"]
            if not await first_replay(session=session, update_id=event.update_id):
                log.info("spool: update %s was replayed before; skipped", event.update_id)
                return None
        return await handler(event, data)
