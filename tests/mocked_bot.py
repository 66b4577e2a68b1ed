"""A bot whose session records every API request instead of sending it (the idea of
aiogram's own tests/mocked_bot.py, written for ours). Requests get plausible results;
tests can queue Telegram errors for a method to see how the code copes."""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, File, Message, User

BOT_USER = User(id=42, is_bot=True, first_name="点菜", username="diancai_test_bot")


@dataclass
class Recorded:
    method: TelegramMethod[Any]
    at: float  # the session's clock (time.monotonic() unless a test gave a fake one) then
    result: Any = None

    @property
    def name(self) -> str:
        return type(self.method).__name__


class RecordingSession(BaseSession):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self.requests: list[Recorded] = []
        self._errors: dict[str, deque[tuple[int, str, dict[str, Any] | None]]] = defaultdict(deque)
        self._message_ids = itertools.count(1000)
        self.files: dict[str, bytes] = {}  # file_id -> content, for bot.download

    def upload(self, file_id: str, content: bytes) -> None:
        """What ``bot.download(file_id)`` receives (a file a user sent)."""
        self.files[file_id] = content

    def fail_next(
        self, method: str, status: int, description: str, *, retry_after: int | None = None
    ) -> None:
        """The next call of ``method`` (e.g. "SendMessage") answers with a Telegram error."""
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        self._errors[method].append((status, description, parameters))

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        recorded = Recorded(method, self.clock())
        self.requests.append(recorded)
        queued = self._errors.get(type(method).__name__)
        if queued:
            status, description, parameters = queued.popleft()
            body = {"ok": False, "error_code": status, "description": description}
            if parameters:
                body["parameters"] = parameters
            response = self.check_response(bot, method, status, json.dumps(body))
            return response.result  # type: ignore[return-value]  (check_response raised)
        recorded.result = self._result_for(method)
        return recorded.result  # type: ignore[no-any-return]

    def _result_for(self, method: TelegramMethod[Any]) -> Any:
        returning = method.__returning__
        if returning is Message or ("Message" in str(returning) and hasattr(method, "chat_id")):
            chat_id = getattr(method, "chat_id", None) or 1
            return Message(
                message_id=next(self._message_ids),
                date=int(time.time()),
                chat=Chat(id=int(chat_id), type="private"),
                from_user=BOT_USER,
                text=getattr(method, "text", None),
            )
        if returning is User:
            return BOT_USER
        if returning is File:
            file_id = getattr(method, "file_id", "f")
            return File(file_id=file_id, file_unique_id="u", file_path=f"files/{file_id}")
        if returning is bool or "bool" in str(returning):
            return True
        if "list" in str(returning):
            return []
        return True

    async def stream_content(
        self, url: str = "", *args: Any, **kwargs: Any
    ) -> AsyncGenerator[bytes, None]:
        yield self.files.get(url.rsplit("/files/", 1)[-1], b"")

    async def close(self) -> None:
        pass

    # --- what tests look at -----------------------------------------------------------

    def sent(self, method: str = "SendMessage") -> list[TelegramMethod[Any]]:
        return [r.method for r in self.requests if r.name == method]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [
            m.text  # type: ignore[attr-defined]
            for m in self.sent("SendMessage") + self.sent("EditMessageText")
            if chat_id is None or getattr(m, "chat_id", chat_id) == chat_id
        ]

    def last_text(self) -> str:
        texts = self.texts()
        assert texts, "the bot sent no text"
        return texts[-1]

    def clear(self) -> None:
        self.requests.clear()


def make_bot(clock: Callable[[], float] = time.monotonic) -> tuple[Bot, RecordingSession]:
    """A bot whose requests are recorded, each with the time on ``clock``."""
    session = RecordingSession(clock)
    bot = Bot("42:TEST", session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    return bot, session
