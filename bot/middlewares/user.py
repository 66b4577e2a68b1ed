from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject
from aiogram.types import User as TelegramUser
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from models.users import get_or_create_user


class UserMiddleware(BaseMiddleware):
    """The current user, created on first contact. Only private chats have one: in groups
    the bot says where to talk to it and keeps nobody's data."""

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
            session: AsyncSession = data["session"]
            data["user"], data["user_is_new"] = await get_or_create_user(
                session=session,
                telegram_id=from_user.id,
                chat_id=chat.id,
                first_name=from_user.first_name,
                username=from_user.username,
                language_code=from_user.language_code,
                admin_ids=frozenset(settings.admin_ids),
                default_locale=settings.default_locale,
            )
        return await handler(event, data)
