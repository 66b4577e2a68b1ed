"""Driving the real dispatcher with synthetic updates, as Telegram would deliver them, and
reading what the bot answered from the recording session. No network."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import EditMessageReplyMarkup, EditMessageText, SendMessage, SendPhoto
from aiogram.types import (
    CallbackQuery,
    Chat,
    Document,
    InlineKeyboardMarkup,
    Location,
    Message,
    PhotoSize,
    Update,
    User,
)
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.tables import Ticket
from models.tables import User as DbUser
from nlu.client import Interpretation, RankedCategory, unavailable
from tests.mocked_bot import RecordingSession


@dataclass
class FakeNLU:
    """Stands in for the Rasa client: taught answers per text, or unavailable."""

    answers: dict[str, tuple[str, float, list[str]]] = field(default_factory=dict)
    available: bool = True
    calls: list[str] = field(default_factory=list)

    def teach(
        self, text: str, intent: str, confidence: float, ranking: list[str] | None = None
    ) -> None:
        self.answers[text] = (intent, confidence, ranking or [intent])

    async def interpret(self, text: str) -> Interpretation:
        self.calls.append(text)
        offline = unavailable(text)  # the urgent patterns apply whatever the model says
        if not self.available:
            return offline
        common = {"text": text, "normalized": offline.normalized, "urgent": offline.urgent,
                  "urgent_reason": offline.urgent_reason}  # fmt: skip
        intent, confidence, ranking = self.answers.get(text, ("out_of_scope", 0.9, []))
        categories = [
            c
            for c in ranking
            if c not in {"greet", "goodbye", "ask_progress", "ask_plan", "out_of_scope"}
        ]
        while len(categories) < 3:
            categories.append(
                next(c for c in ("other", "water", "roads", "building") if c not in categories)
            )
        return Interpretation(
            **common, available=True, intent=intent,
            category=intent if intent == categories[0] else None, confidence=confidence,
            ranking=[RankedCategory(c, confidence if i == 0 else 0.05) for i, c in enumerate(categories)],
            model_version="fake",
        )  # fmt: skip

    async def close(self) -> None:
        pass


# The people of the dispatcher tests (Telegram ids).
RESIDENT, NEIGHBOUR, WORKER, ADMIN = 1001, 1002, 2001, 9001


class Harness:
    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        recorder: RecordingSession,
        factory: async_sessionmaker[AsyncSession] | None = None,
        nlu: FakeNLU | None = None,
    ) -> None:
        self.dp, self.bot, self.recorder = dispatcher, bot, recorder
        self.factory, self.nlu = factory, nlu
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._people: dict[int, tuple[str, str]] = {}  # Telegram id -> (language_code, name)

    # --- the database, as the tests check it ------------------------------------------

    async def user(self, telegram_id: int) -> DbUser:
        async with self.factory() as s:  # type: ignore[misc]
            return (await s.exec(select(DbUser).where(DbUser.telegram_id == telegram_id))).one()

    async def tickets(self) -> list[Ticket]:
        async with self.factory() as s:  # type: ignore[misc]
            return list((await s.exec(select(Ticket).order_by(Ticket.id))).all())

    async def bind(self, telegram_id: int, code: str = "hp01") -> None:
        await self.send(telegram_id, f"/start c_{code}")

    def speaks(self, user_id: int, language_code: str, first_name: str) -> None:
        """Every update from ``user_id`` from now on (messages, presses, edits) carries this
        Telegram language and name, as one person's phone would."""
        self._people[user_id] = (language_code, first_name)

    def _user(
        self, user_id: int, language_code: str | None = None, name: str | None = None
    ) -> User:
        usual_code, usual_name = self._people.get(user_id, ("zh-hans", "居民"))
        return User(id=user_id, is_bot=False, first_name=name or usual_name,
                    language_code=language_code or usual_code)  # fmt: skip

    async def _feed(self, **update: Any) -> list[Any]:
        before = len(self.recorder.requests)
        await self.dp.feed_update(self.bot, Update(update_id=next(self._update_ids), **update))
        return [r.method for r in self.recorder.requests[before:]]

    def _message(self, user_id: int, *, chat_type: str = "private",
                 language_code: str | None = None, message_id: int | None = None,
                 first_name: str | None = None, **content: Any) -> Message:  # fmt: skip
        chat = Chat(id=user_id if chat_type == "private" else -100500, type=chat_type)
        return Message(message_id=message_id or next(self._message_ids), date=int(time.time()),
                       chat=chat, from_user=self._user(user_id, language_code, first_name),
                       **content)  # fmt: skip

    def next_message_id(self) -> int:
        return next(self._message_ids)

    async def send(self, user_id: int, text: str | None = None, **kwargs: Any) -> list[str]:
        """A message from the user; returns the texts the bot answered with."""
        person = {"chat_type", "language_code", "first_name"}
        content = {k: v for k, v in kwargs.items() if k not in person}
        if text is not None:
            content["text"] = text
        message = self._message(user_id, **{k: v for k, v in kwargs.items() if k in person},
                                **content)  # fmt: skip
        return _texts(await self._feed(message=message))

    async def send_photo(self, user_id: int, caption: str | None = None) -> list[str]:
        photo = [
            PhotoSize(
                file_id=f"photo-{user_id}", file_unique_id=f"u{user_id}", width=800, height=600
            )
        ]
        return await self.send(user_id, photo=photo, caption=caption)

    async def send_document(
        self, user_id: int, content: bytes, file_name: str = "compounds.csv"
    ) -> list[str]:
        """A file the user sends (the bot can download ``content``)."""
        file_id = f"doc-{user_id}-{self.next_message_id()}"
        self.recorder.upload(file_id, content)
        document = Document(file_id=file_id, file_unique_id=file_id, file_name=file_name,
                            mime_type="text/csv", file_size=len(content))  # fmt: skip
        return await self.send(user_id, document=document)

    async def send_location(
        self, user_id: int, latitude: float = 41.8, longitude: float = 123.4
    ) -> list[str]:
        return await self.send(user_id, location=Location(latitude=latitude, longitude=longitude))

    async def edit(self, user_id: int, text: str, message_id: int | None = None) -> list[str]:
        """An edit of the user's message ``message_id`` (a new id when not given)."""
        message = self._message(user_id, text=text, edit_date=int(time.time()),
                                message_id=message_id)  # fmt: skip
        return _texts(await self._feed(edited_message=message))

    def last_markup(self, user_id: int) -> tuple[int, InlineKeyboardMarkup]:
        """The newest inline keyboard the bot showed this user, and its message id."""
        for recorded in reversed(self.recorder.requests):
            method = recorded.method
            if getattr(method, "chat_id", None) not in (user_id, None):
                continue
            markup = getattr(method, "reply_markup", None)
            if isinstance(method, (SendMessage, SendPhoto)) and isinstance(
                markup, InlineKeyboardMarkup
            ):
                return recorded.result.message_id, markup
            if isinstance(method, (EditMessageText, EditMessageReplyMarkup)) and isinstance(
                markup, InlineKeyboardMarkup
            ):
                return int(method.message_id), markup  # type: ignore[arg-type]
        raise AssertionError(f"no inline keyboard was shown to {user_id}")

    def buttons(self, user_id: int) -> list[str]:
        _, markup = self.last_markup(user_id)
        return [b.text for row in markup.inline_keyboard for b in row]

    async def press(self, user_id: int, label: str) -> list[str]:
        return await self.press_on(user_id, self.last_markup(user_id), label)

    async def press_starting(self, user_id: int, prefix: str) -> list[str]:
        """A press on the newest keyboard's button whose label starts with ``prefix`` (a ticket's
        reference, shown with the start of its text)."""
        labels = [label for label in self.buttons(user_id) if label.startswith(prefix)]
        assert len(labels) == 1, f"no single button starting {prefix!r}: {self.buttons(user_id)}"
        return await self.press(user_id, labels[0])

    async def callback(self, user_id: int, data: str, message_id: int = 1) -> list[str]:
        """A callback query with ``data`` as a client could forge it."""
        message = Message(message_id=message_id, date=int(time.time()),
                          chat=Chat(id=user_id, type="private"),
                          from_user=User(id=42, is_bot=True, first_name="bot"), text="…")  # fmt: skip
        query = CallbackQuery(id=str(next(self._update_ids)), from_user=self._user(user_id),
                              chat_instance="ci", message=message, data=data)  # fmt: skip
        return _texts(await self._feed(callback_query=query))

    async def press_on(
        self, user_id: int, shown: tuple[int, InlineKeyboardMarkup], label: str
    ) -> list[str]:
        """A press on a keyboard kept from earlier (``last_markup``): maybe a stale one."""
        message_id, markup = shown
        for row in markup.inline_keyboard:
            for button in row:
                if button.text == label:
                    return await self.callback(user_id, button.callback_data or "", message_id)
        labels = [b.text for row in markup.inline_keyboard for b in row]
        raise AssertionError(f"no button {label!r}; buttons: {labels}")


def _texts(methods: list[Any]) -> list[str]:
    out = []
    for method in methods:
        text = getattr(method, "text", None) or getattr(method, "caption", None)
        if text:
            out.append(text)
    return out
