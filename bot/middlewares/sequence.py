from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject


class ChatSequenceMiddleware(BaseMiddleware):
    """One update at a time per chat. Polling and webhooks hand updates over concurrently;
    two parts of one demand sent a second apart would otherwise both read the same draft and
    one of them would be lost. Other chats are not held up. (Within one bot process: with
    several processes behind a webhook, Telegram still delivers a chat's updates in order.)"""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}  # updates holding or waiting for each lock

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat: Chat | None = data.get("event_chat")
        if chat is None:
            return await handler(event, data)
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._users[chat.id] = self._users.get(chat.id, 0) + 1
        try:
            async with lock:
                return await handler(event, data)
        finally:
            self._users[chat.id] -= 1
            if not self._users[chat.id]:  # nobody waits: forget it (bounded memory)
                del self._users[chat.id], self._locks[chat.id]
