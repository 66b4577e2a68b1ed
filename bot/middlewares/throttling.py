from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject

from bot.i18n import _
from bot.safety import URGENT_KEY


class ThrottlingMiddleware(BaseMiddleware):
    """Notices a flood of messages from one chat. Nothing is dropped: handlers still see
    every message with ``flooding=True`` and may answer more quietly; the person gets one
    polite note per window instead of an answer to each message."""

    MAX_TRACKED_CHATS = 10_000

    def __init__(self, *, limit: int = 5, window: float = 10.0) -> None:
        self.limit, self.window = limit, window
        self._recent: dict[int, deque[float]] = {}
        self._noted_until: dict[int, float] = {}

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Message):
            return await handler(event, data)
        now = time.monotonic()
        if len(self._recent) > self.MAX_TRACKED_CHATS:
            self._forget_quiet_chats(now)
        recent = self._recent.setdefault(event.chat.id, deque())
        recent.append(now)
        while recent and recent[0] < now - self.window:
            recent.popleft()
        flooding = len(recent) > self.limit
        data["flooding"] = flooding
        # An urgent message got its safety reply first; no note about speed after it.
        if flooding and not data.get(URGENT_KEY) and self._noted_until.get(event.chat.id, 0) < now:
            self._noted_until[event.chat.id] = now + self.window
            result = await handler(event, data)
            await event.answer(_("您发得有点快，消息我们都收到了，会一条一条处理，请稍等。"))
            return result
        return await handler(event, data)

    def _forget_quiet_chats(self, now: float) -> None:
        """Chats silent for a whole window have nothing to remember (keeps memory bounded)."""
        for chat_id in [c for c, times in self._recent.items() if times[-1] < now - self.window]:
            del self._recent[chat_id]
            self._noted_until.pop(chat_id, None)
