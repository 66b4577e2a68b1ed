from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject
from aiogram.types import User as TelegramUser
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models.users import contact_is_news, find_user, record_contact


class UserMiddleware(BaseMiddleware):
    """The current user, created on first contact. Only private chats have one: in groups
    the bot says where to talk to it and keeps nobody's data.

    What a message changes about its sender (a new account, a new name, last seen) is written
    in a short transaction of its own, committed before the handler runs, and only when there is
    something to write: the update's own transaction then takes SQLite's single write lock only
    if its handler writes, not for the whole time the handler waits for NLU or Telegram."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        from_user: TelegramUser | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if (
            from_user is not None
            and not from_user.is_bot
            and chat is not None
            and chat.type == "private"
        ):
            settings: Settings = data["settings"]
            factory: async_sessionmaker[AsyncSession] = data["session_factory"]
            admin_ids = frozenset(settings.admin_ids)
            # Read before the update's session takes a connection (one at a time from the pool).
            async with factory() as own:
                user = await find_user(session=own, telegram_id=from_user.id)
            created = False
            if user is None or contact_is_news(
                user, first_name=from_user.first_name, username=from_user.username,
                admin_ids=admin_ids,
            ):  # fmt: skip
                user, created = await record_contact(
                    factory=factory, telegram_id=from_user.id, chat_id=chat.id,
                    first_name=from_user.first_name, username=from_user.username,
                    language_code=from_user.language_code, admin_ids=admin_ids,
                    default_locale=settings.default_locale,
                )  # fmt: skip
            # As read or written a moment ago: into the update's session without a query.
            session: AsyncSession = data["session"]
            data["user"] = await session.merge(user, load=False)
            data["user_is_new"] = created
            data["languages"].remember(from_user.id, user.language)
        return await handler(event, data)
