"""The sandbox's world: the bot, users, chats, messages, files and the update queue.

Everything lives in memory and belongs to one event loop. The HTTP layers (`botapi`, `control`)
call into `Sandbox`; Telegram objects are built with aiogram's own types so their JSON shape is
the one the Bot API documents.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import logging
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiogram.types import (
    CallbackQuery,
    Chat,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberUpdated,
    Document,
    InlineKeyboardMarkup,
    Message,
    PhotoSize,
    Sticker,
    TelegramObject,
    Update,
    User,
    Voice,
)

from sandbox.entities import detect_entities, render_html

log = logging.getLogger("sandbox")

BOT_USERNAME = "diancai_sandbox_bot"
BOT_FIRST_NAME = "点菜 Diancai (sandbox)"
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
CALLBACK_ANSWER_WINDOW = 15.0  # seconds; Telegram: "query is too old" afterwards
# Telegram's default when allowed_updates is empty: everything except these.
_OPT_IN_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
SHENYANG = {"latitude": 41.805699, "longitude": 123.431472}  # 沈阳市 中街 area
DEFAULT_TIMEZONE = "Asia/Shanghai"  # the bot's default TIMEZONE

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """An error answer of the Bot API: `{"ok": false, "error_code", "description", ...}`."""

    def __init__(self, error_code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


class ControlError(Exception):
    """A control-API error: HTTP status and a human-readable description."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status = status
        self.description = description


def dump(obj: TelegramObject) -> dict[str, Any]:
    """A Telegram object as the Bot API's JSON (aliases like `from`, no nulls)."""
    return obj.model_dump(mode="json", exclude_none=True, by_alias=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --------------------------------------------------------------------------------------------
# Rate limits


@dataclass
class _Bucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take a token; 0 if granted, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """Telegram's flood limits as the sandbox models them.

    * overall: at most GLOBAL_PER_SECOND messages in any sliding one-second window;
    * one private chat: a token bucket of PRIVATE_BURST messages refilled at one per second, so a
      short burst (an answer in a few parts) passes and a sustained rate above 1/s does not;
    * one group: GROUP_PER_MINUTE messages a minute, as a bucket of that size.
    """

    GLOBAL_PER_SECOND = 30
    PRIVATE_BURST = 4
    PRIVATE_PER_SECOND = 1.0
    GROUP_PER_MINUTE = 20

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._recent: deque[float] = deque()
        self._buckets: dict[int, _Bucket] = {}

    def check(self, chat_id: int, is_group: bool) -> int:
        """0 if the message may go now, else `retry_after` in whole seconds (>= 1)."""
        now = self._clock()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.GLOBAL_PER_SECOND:
            return max(1, math.ceil(1.0 - (now - self._recent[0])))
        bucket = self._buckets.get(chat_id)
        if bucket is None:
            if is_group:
                cap, rate = self.GROUP_PER_MINUTE, self.GROUP_PER_MINUTE / 60
            else:
                cap, rate = self.PRIVATE_BURST, self.PRIVATE_PER_SECOND
            bucket = self._buckets[chat_id] = _Bucket(cap, rate, cap, now)
        wait = bucket.take(now)
        if wait > 0:
            return max(1, math.ceil(wait))
        self._recent.append(now)
        return 0


# --------------------------------------------------------------------------------------------
# The world


@dataclass
class SandboxUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "zh"
    blocked: bool = False  # this user blocked the bot

    def tg(self) -> User:
        return User(
            id=self.id,
            is_bot=False,
            first_name=self.first_name,
            last_name=self.last_name,
            username=self.username,
            language_code=self.language_code,
        )

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "chat_id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "language_code": self.language_code,
            "blocked": self.blocked,
        }


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None


@dataclass
class StoredMessage:
    message: Message  # exactly what the bot gets (or got) from the API
    sender: str  # "bot" or "user"
    markup: dict[str, Any] | None  # the keyboard as sent, reply keyboards included
    seq: int  # the chat's change counter at the last change of this message
    edited: bool = False
    deleted: bool = False


@dataclass
class ChatRecord:
    id: int
    type: str  # "private" or "group"
    title: str | None = None
    user_id: int | None = None  # the user of a private chat
    members: list[int] = field(default_factory=list)
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    seq: int = 0
    reply_keyboard: dict[str, Any] | None = None  # the keyboard the phone shows under the input
    bot_member: bool = True  # the bot is in the group

    @property
    def is_group(self) -> bool:
        return self.type != "private"


@dataclass
class CallbackRecord:
    id: str
    chat_id: int
    message_id: int
    user_id: int
    data: str
    created: float
    answered: bool = False
    answer: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "user_id": self.user_id,
            "data": self.data,
            "answered": self.answered,
            **self.answer,
        }


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class InjectedFault:
    method: str | None  # lower-case method name, or None for any
    error_code: int
    description: str
    retry_after: int | None
    remaining: int


class Stats:
    def __init__(self) -> None:
        self.started = time.time()
        self.requests: dict[str, int] = {}
        self.errors: dict[str, int] = {}  # "429", "400", ...
        self.too_many_requests = 0
        self.delivered = 0
        self._delivered_at: deque[float] = deque(maxlen=100_000)
        self.peak_per_second = 0
        self.webhook_deliveries = 0
        self.webhook_failures = 0

    def request(self, method: str) -> None:
        self.requests[method] = self.requests.get(method, 0) + 1

    def error(self, code: int) -> None:
        self.errors[str(code)] = self.errors.get(str(code), 0) + 1
        if code == 429:
            self.too_many_requests += 1

    def delivered_message(self) -> None:
        now = time.monotonic()
        self.delivered += 1
        self._delivered_at.append(now)
        recent = itertools.takewhile(lambda t: now - t < 1.0, reversed(self._delivered_at))
        in_last_second = sum(1 for _ in recent)
        self.peak_per_second = max(self.peak_per_second, in_last_second)

    def view(self) -> dict[str, Any]:
        now = time.monotonic()
        last_10 = list(itertools.takewhile(lambda t: now - t < 10.0, reversed(self._delivered_at)))
        last_1 = sum(1 for t in last_10 if now - t < 1.0)
        return {
            "uptime_seconds": round(time.time() - self.started, 1),
            "requests": dict(sorted(self.requests.items())),
            "requests_total": sum(self.requests.values()),
            "errors": dict(sorted(self.errors.items())),
            "too_many_requests": self.too_many_requests,
            "delivered_messages": self.delivered,
            "delivered_per_second": {
                "last_1s": last_1,
                "avg_last_10s": round(len(last_10) / 10, 2),
                "peak_1s": self.peak_per_second,
            },
            "webhook": {
                "deliveries": self.webhook_deliveries,
                "failures": self.webhook_failures,
            },
        }


def known_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone (the browser's Intl knows the same names), else
    ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


_TOKEN = re.compile(r"^(\d{1,20}):([A-Za-z0-9_-]{1,100})$")


class Sandbox:
    """One bot and its users. Not thread-safe: use from one event loop."""

    def __init__(
        self, *, faults: bool = True, quiet_period: float = 0.3, timezone: str = DEFAULT_TIMEZONE
    ) -> None:
        self.default_faults = faults
        self.quiet_period = quiet_period
        # The zone the web chat shows times in: the bot's (its TIMEZONE setting), so a time on
        # screen matches the times the bot writes into its texts, wherever the browser is.
        self.timezone = known_timezone(timezone)
        self._events: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._changed = asyncio.Condition()
        self._ids = itertools.count(1)
        self.webhook_task: asyncio.Task[None] | None = None
        self.closing = False  # set at shutdown: long polls return at once
        self._init_state()

    def _init_state(self) -> None:
        self.faults = self.default_faults
        self.privacy_mode = True
        self.token: str | None = None
        self.bot_id: int | None = None
        self.users: dict[int, SandboxUser] = {}
        self.chats: dict[int, ChatRecord] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.updates: list[tuple[int, str, dict[str, Any]]] = []  # (update_id, type, json)
        self.next_update_id = 1
        self.allowed_updates: list[str] = []
        self.webhook: WebhookConfig | None = None
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.profile: dict[str, str] = {}  # setMyName / setMyDescription ...
        self.last_seen: float | None = None  # monotonic time of the bot's last request
        self.injected: list[InjectedFault] = []
        self.stats = Stats()
        self.limiter = RateLimiter()
        self.poll_generation = 0
        self.next_user_id = 1001
        self.next_group_id = -1001

    # ---- the bot and its token ------------------------------------------------------------

    def authorize(self, token: str) -> None:
        """Accept any well-formed token; the first one used binds the sandbox until reset."""
        match = _TOKEN.match(token)
        if match is None:
            raise ApiError(404, "Not Found")
        if self.token is None:
            self.token = token
            self.bot_id = int(match.group(1))
            log.info("bot %s connected (token bound until reset)", self.bot_id)
        elif token != self.token:
            log.warning("rejected a second token: the sandbox serves one bot; POST /sandbox/reset")
            raise ApiError(401, "Unauthorized")

    def bot_user(self, *, full: bool = False) -> User:
        """The bot as a User; `full` adds the fields only getMe returns."""
        user = User(
            id=self.bot_id or 1, is_bot=True, first_name=BOT_FIRST_NAME, username=BOT_USERNAME
        )
        if not full:
            return user
        return user.model_copy(
            update={
                "can_join_groups": True,
                "can_read_all_group_messages": not self.privacy_mode,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )

    # ---- events (the web chat's live feed and the control API's long polls) ---------------

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=1000)
        self._events.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self._events.discard(queue)

    def close_subscribers(self) -> None:
        self.closing = True
        self.poke()
        for queue in list(self._events):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._events):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:  # a stalled browser tab: drop it
                self._events.discard(queue)
        asyncio.get_running_loop().create_task(self._notify())

    def poke(self) -> None:
        """Wake every waiter to re-check its condition."""
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], within: float) -> bool:
        """Wait until predicate() holds (re-checked on every change) or timeout; its value."""
        deadline = time.monotonic() + within
        async with self._changed:
            while not predicate() and not self.closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining)
            return predicate()

    # ---- reset -----------------------------------------------------------------------------

    def reset(self) -> None:
        if self.webhook_task is not None:
            self.webhook_task.cancel()
            self.webhook_task = None
        generation = self.poll_generation
        self._init_state()
        self.poll_generation = generation  # a waiting getUpdates simply sees no updates
        self.publish({"type": "reset"})

    # ---- users, chats ----------------------------------------------------------------------

    def create_user(
        self,
        *,
        id: int | None = None,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh",
    ) -> SandboxUser:
        if not first_name or not first_name.strip():
            raise ControlError(400, "first_name is required")
        if id is None:
            while self.next_user_id in self.users:
                self.next_user_id += 1
            id = self.next_user_id
            self.next_user_id += 1
        if id <= 0:
            raise ControlError(400, "a user id must be a positive integer")
        user = self.users.get(id)
        if user is None:
            user = self.users[id] = SandboxUser(
                id=id,
                first_name=first_name.strip(),
                last_name=last_name,
                username=username,
                language_code=language_code,
            )
            self.chats[id] = ChatRecord(id=id, type="private", user_id=id)
        else:  # idempotent: seeding twice updates the profile
            user.first_name = first_name.strip()
            user.last_name = last_name
            user.username = username
            user.language_code = language_code
        self.publish({"type": "user", "user": user.view()})
        return user

    def get_user(self, user_id: int) -> SandboxUser:
        user = self.users.get(user_id)
        if user is None:
            raise ControlError(404, f"no user {user_id}; create it with POST /sandbox/users")
        return user

    def get_chat(self, chat_id: int) -> ChatRecord:
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ControlError(404, f"no chat {chat_id}")
        return chat

    def create_group(
        self,
        *,
        title: str,
        members: list[int],
        id: int | None = None,
    ) -> ChatRecord:
        if not title.strip():
            raise ControlError(400, "title is required")
        for member in members:
            self.get_user(member)
        if id is None:
            id = self.next_group_id
            self.next_group_id -= 1
        if id >= 0:
            raise ControlError(400, "a group id must be negative, as Telegram's are")
        if id in self.chats:
            raise ControlError(409, f"chat {id} exists")
        chat = self.chats[id] = ChatRecord(id=id, type="group", title=title, members=members)
        self.publish({"type": "chat", "chat": self.chat_view(chat)})
        if members:  # the first member created the group and added the bot
            adder = self.users[members[0]]
            self._enqueue(
                "my_chat_member",
                ChatMemberUpdated(
                    chat=self.tg_chat(chat),
                    from_user=adder.tg(),
                    date=_now(),
                    old_chat_member=ChatMemberLeft(user=self.bot_user()),
                    new_chat_member=ChatMemberMember(user=self.bot_user()),
                ),
            )
            self._store(
                chat,
                "user",
                lambda mid: Message(
                    message_id=mid,
                    date=_now(),
                    chat=self.tg_chat(chat),
                    from_user=adder.tg(),
                    group_chat_created=True,
                ),
                update_type="message",
            )
        return chat

    def chat_view(self, chat: ChatRecord) -> dict[str, Any]:
        return {
            "id": chat.id,
            "type": chat.type,
            "title": chat.title,
            "members": chat.members,
            "seq": chat.seq,
        }

    def tg_chat(self, chat: ChatRecord) -> Chat:
        if chat.is_group:
            return Chat(id=chat.id, type="group", title=chat.title)
        user = self.users[chat.user_id or chat.id]
        return Chat(
            id=chat.id,
            type="private",
            first_name=user.first_name,
            last_name=user.last_name,
            username=user.username,
        )

    # ---- updates ---------------------------------------------------------------------------

    def _enqueue(self, update_type: str, obj: TelegramObject) -> int | None:
        allowed = set(self.allowed_updates) if self.allowed_updates else None
        if allowed is not None and update_type not in allowed:
            return None
        if allowed is None and update_type in _OPT_IN_UPDATES:
            return None
        update_id = self.next_update_id
        self.next_update_id += 1
        update = Update.model_validate({"update_id": update_id, update_type: obj})
        self.updates.append((update_id, update_type, dump(update)))
        self.publish({"type": "update", "update_id": update_id, "update_type": update_type})
        return update_id

    def confirm_updates(self, offset: int) -> None:
        """getUpdates' offset: forget updates before `offset`; negative: keep the last -offset."""
        if offset > 0:
            self.updates = [u for u in self.updates if u[0] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def pending_updates(self, limit: int) -> list[dict[str, Any]]:
        allowed = set(self.allowed_updates) if self.allowed_updates else None
        kept = [
            u
            for u in self.updates
            if (u[1] in allowed if allowed is not None else u[1] not in _OPT_IN_UPDATES)
        ]
        self.updates = kept
        return [u[2] for u in kept[:limit]]

    def drop_pending_updates(self) -> None:
        self.updates.clear()

    # ---- messages --------------------------------------------------------------------------

    def _store(
        self,
        chat: ChatRecord,
        sender: str,
        build: Callable[[int], Message],
        *,
        markup: dict[str, Any] | None = None,
        update_type: str | None = None,
    ) -> StoredMessage:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        chat.seq += 1
        stored = StoredMessage(
            message=build(message_id), sender=sender, markup=markup, seq=chat.seq
        )
        chat.messages[message_id] = stored
        if update_type and (sender == "user" and self._bot_sees(chat, stored.message)):
            self._enqueue(update_type, stored.message)
        self.publish({"type": "message", "chat_id": chat.id, "message": self.view(chat, stored)})
        return stored

    def _bot_sees(self, chat: ChatRecord, message: Message) -> bool:
        """Privacy mode: in groups the bot sees commands, replies to it and mentions only."""
        if not chat.is_group:
            return True
        if not chat.bot_member:
            return False
        if not self.privacy_mode or message.group_chat_created:
            return True
        text = message.text or message.caption or ""
        if text.startswith("/"):
            command = text.split()[0]
            return "@" not in command or command.lower().endswith("@" + BOT_USERNAME)
        if f"@{BOT_USERNAME}" in text.lower():
            return True
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.is_bot)

    def bot_message(
        self,
        chat: ChatRecord,
        *,
        content: dict[str, Any],
        markup: dict[str, Any] | None,
        reply_to: int | None = None,
    ) -> Message:
        """Store a message the bot sent (content: Message fields); return it as the API does."""
        inline = markup if markup and "inline_keyboard" in markup else None

        def build(message_id: int) -> Message:
            data: dict[str, Any] = {
                "message_id": message_id,
                "date": _now(),
                "chat": self.tg_chat(chat),
                "from": self.bot_user(),
                **content,
            }
            if inline is not None:
                data["reply_markup"] = InlineKeyboardMarkup.model_validate(inline)
            if reply_to is not None and reply_to in chat.messages:
                data["reply_to_message"] = chat.messages[reply_to].message
            return Message.model_validate(data)

        stored = self._store(chat, "bot", build, markup=markup)
        if markup is not None:
            if "keyboard" in markup:
                self.set_keyboard(chat, markup)
            elif markup.get("remove_keyboard"):
                self.set_keyboard(chat, None)
        self.stats.delivered_message()
        return stored.message

    def user_message(
        self,
        chat: ChatRecord,
        user: SandboxUser,
        content: dict[str, Any],
        reply_to: int | None = None,
    ) -> StoredMessage:
        if chat.is_group and user.id not in chat.members:
            raise ControlError(400, f"user {user.id} is not a member of group {chat.id}")
        if not chat.is_group and user.blocked:
            raise ControlError(
                409, "this user has blocked the bot; POST .../unblock first (as Telegram's Restart)"
            )
        if "text" in content and not content.get("entities"):
            entities = detect_entities(content["text"])
            if entities:
                content = {**content, "entities": entities}

        if reply_to is not None and (
            reply_to not in chat.messages or chat.messages[reply_to].deleted
        ):
            raise ControlError(400, f"no message {reply_to} to reply to")

        def build(message_id: int) -> Message:
            data = {
                "message_id": message_id,
                "date": _now(),
                "chat": self.tg_chat(chat),
                "from": user.tg(),
                **content,
            }
            if reply_to is not None:
                data["reply_to_message"] = chat.messages[reply_to].message
            return Message.model_validate(data)

        return self._store(chat, "user", build, update_type="message")

    def set_keyboard(self, chat: ChatRecord, keyboard: dict[str, Any] | None) -> None:
        chat.reply_keyboard = keyboard
        self.publish({"type": "keyboard", "chat_id": chat.id, "reply_keyboard": keyboard})

    def user_edit(self, chat: ChatRecord, user: SandboxUser, message_id: int, text: str) -> int:
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted or stored.sender != "user":
            raise ControlError(404, f"no message {message_id} of this user to edit")
        if stored.message.from_user is None or stored.message.from_user.id != user.id:
            raise ControlError(400, "a user can edit only their own messages")
        if stored.message.text is None:
            raise ControlError(400, "only text messages can be edited")
        data = dump(stored.message) | {"text": text, "edit_date": int(time.time())}
        data.pop("entities", None)
        entities = detect_entities(text)
        if entities:
            data["entities"] = entities
        message = Message.model_validate(data)
        self._replace(chat, stored, message, stored.markup)
        if self._bot_sees(chat, message):
            self._enqueue("edited_message", message)
        return message_id

    def _replace(
        self,
        chat: ChatRecord,
        stored: StoredMessage,
        message: Message,
        markup: dict[str, Any] | None,
    ) -> None:
        chat.seq += 1
        stored.message = message
        stored.markup = markup
        stored.edited = True
        stored.seq = chat.seq
        self.publish({"type": "edit", "chat_id": chat.id, "message": self.view(chat, stored)})

    def bot_edit(
        self,
        chat: ChatRecord,
        message_id: int,
        *,
        changes: dict[str, Any],
        markup: dict[str, Any] | None,
    ) -> Message:
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            raise bad_request("message to edit not found")
        if stored.sender != "bot":
            raise bad_request("message can't be edited")
        data = dump(stored.message)
        same_content = all(data.get(key) == value for key, value in changes.items())
        if same_content and _inline(stored.markup) == _inline(markup):
            raise ApiError(400, NOT_MODIFIED)
        for key, value in changes.items():
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value
        data["edit_date"] = int(time.time())
        data.pop("reply_markup", None)  # an edit without reply_markup removes the keyboard
        if _inline(markup):
            data["reply_markup"] = markup
        message = Message.model_validate(data)
        self._replace(chat, stored, message, _inline(markup))
        return message

    def delete_message(self, chat: ChatRecord, message_id: int) -> None:
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted:
            raise bad_request("message to delete not found")
        chat.seq += 1
        stored.deleted = True
        stored.seq = chat.seq
        self.publish({"type": "delete", "chat_id": chat.id, "message_id": message_id})

    # ---- buttons ---------------------------------------------------------------------------

    def press(
        self, chat: ChatRecord, user: SandboxUser, message_id: int | None, label: str
    ) -> dict[str, Any]:
        stored = chat.messages.get(message_id) if message_id is not None else None
        if message_id is not None and (stored is None or stored.deleted):
            raise ControlError(404, f"no message {message_id} in chat {chat.id}")
        markup = stored.markup if stored is not None else chat.reply_keyboard
        if markup and "inline_keyboard" in markup:
            assert stored is not None
            return self._press_inline(chat, user, stored, markup, label)
        keyboard = markup if markup and "keyboard" in markup else chat.reply_keyboard
        if keyboard:
            for row in keyboard.get("keyboard", []):
                for button in row:
                    button = {"text": button} if isinstance(button, str) else button
                    if button.get("text") == label:
                        return self._press_reply(chat, user, button)
        labels = _labels(markup) or _labels(chat.reply_keyboard)
        where = f"message {message_id}" if message_id is not None else "the reply keyboard"
        raise ControlError(
            400,
            f"no button {label!r} on {where}; buttons there: {labels}"
            if labels
            else f"{where} has no buttons",
        )

    def _press_inline(
        self,
        chat: ChatRecord,
        user: SandboxUser,
        stored: StoredMessage,
        markup: dict[str, Any],
        label: str,
    ) -> dict[str, Any]:
        for row in markup["inline_keyboard"]:
            for button in row:
                if button.get("text") != label:
                    continue
                if "callback_data" not in button:
                    kind = next((k for k in button if k != "text"), "unknown")
                    return {"kind": kind, "value": button.get(kind), "seq": chat.seq}
                query_id = str(secrets.randbits(63))
                record = CallbackRecord(
                    id=query_id,
                    chat_id=chat.id,
                    message_id=stored.message.message_id,
                    user_id=user.id,
                    data=button["callback_data"],
                    created=time.monotonic(),
                )
                self.callbacks[query_id] = record
                query = CallbackQuery(
                    id=query_id,
                    from_user=user.tg(),
                    chat_instance=str(abs(hash(("sandbox", chat.id))) % 10**18),
                    message=stored.message,
                    data=record.data,
                )
                self._enqueue("callback_query", query)
                return {
                    "kind": "callback_query",
                    "callback_query_id": query_id,
                    "data": record.data,
                    "seq": chat.seq,
                }
        raise ControlError(
            400,
            f"no button {label!r} on message {stored.message.message_id}; "
            f"buttons there: {_labels(markup)}",
        )

    def _press_reply(
        self, chat: ChatRecord, user: SandboxUser, button: dict[str, Any]
    ) -> dict[str, Any]:
        if button.get("request_location"):
            content: dict[str, Any] = {"location": dict(SHENYANG)}
        elif button.get("request_contact"):
            content = {
                "contact": {
                    "phone_number": f"+86138{user.id % 10**8:08d}",
                    "first_name": user.first_name,
                    "user_id": user.id,
                }
            }
        else:
            content = {"text": button["text"]}
        if chat.reply_keyboard and chat.reply_keyboard.get("one_time_keyboard"):
            self.set_keyboard(chat, None)  # a one-time keyboard hides once used
        stored = self.user_message(chat, user, content)
        return {"kind": "message", "message_id": stored.message.message_id, "seq": chat.seq}

    def answer_callback(self, query_id: str, answer: dict[str, Any]) -> None:
        record = self.callbacks.get(query_id)
        too_old = record is not None and (
            time.monotonic() - record.created > CALLBACK_ANSWER_WINDOW
        )
        if record is None or record.answered or too_old:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        record.answered = True
        record.answer = {k: v for k, v in answer.items() if v is not None}
        self.publish({"type": "callback_answer", "chat_id": record.chat_id, **record.view()})

    # ---- block -----------------------------------------------------------------------------

    def set_blocked(self, user: SandboxUser, blocked: bool) -> None:
        if user.blocked == blocked:
            return
        user.blocked = blocked
        chat = self.chats[user.id]
        member = ChatMemberMember(user=self.bot_user())
        kicked = ChatMemberBanned(user=self.bot_user(), until_date=0)
        self._enqueue(
            "my_chat_member",
            ChatMemberUpdated(
                chat=self.tg_chat(chat),
                from_user=user.tg(),
                date=_now(),
                old_chat_member=member if blocked else kicked,
                new_chat_member=kicked if blocked else member,
            ),
        )
        self.publish({"type": "user", "user": user.view()})

    # ---- files -----------------------------------------------------------------------------

    def store_file(
        self, data: bytes, *, kind: str, mime_type: str | None, file_name: str | None
    ) -> StoredFile:
        number = next(self._ids)
        extension = {
            "photos": "jpg",
            "voice": "oga",
            "documents": (file_name or "").rsplit(".", 1)[-1]
            if file_name and "." in file_name
            else "bin",
            "stickers": "webp",
        }.get(kind, "bin")
        stored = StoredFile(
            file_id=f"SBX{kind[:2].upper()}{number}_{secrets.token_urlsafe(18)}",
            file_unique_id=f"U{number}{secrets.token_hex(4)}",
            data=data,
            file_path=f"{kind}/file_{number}.{extension}",
            mime_type=mime_type,
            file_name=file_name,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def photo_sizes(self, stored: StoredFile) -> list[PhotoSize]:
        width, height = image_size(stored.data) or (0, 0)
        return [
            PhotoSize(
                file_id=stored.file_id,
                file_unique_id=stored.file_unique_id,
                width=width,
                height=height,
                file_size=len(stored.data),
            )
        ]

    def document(self, stored: StoredFile) -> Document:
        return Document(
            file_id=stored.file_id,
            file_unique_id=stored.file_unique_id,
            file_name=stored.file_name,
            mime_type=stored.mime_type,
            file_size=len(stored.data),
        )

    def voice(self, stored: StoredFile, duration: int) -> Voice:
        return Voice(
            file_id=stored.file_id,
            file_unique_id=stored.file_unique_id,
            duration=duration,
            mime_type=stored.mime_type or "audio/ogg",
            file_size=len(stored.data),
        )

    def sticker(self) -> Sticker:
        stored = self.store_file(
            b"RIFF\x00\x00\x00\x00WEBP", kind="stickers", mime_type="image/webp", file_name=None
        )
        return Sticker(
            file_id=stored.file_id,
            file_unique_id=stored.file_unique_id,
            type="regular",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
            emoji="👍",
            file_size=len(stored.data),
        )

    # ---- commands --------------------------------------------------------------------------

    def commands_for(self, user_id: int, chat_id: int | None = None) -> list[dict[str, str]]:
        """The command menu a user sees, resolving scopes and languages as Telegram does."""
        user = self.users.get(user_id)
        language = user.language_code if user and user.language_code else ""
        chat_id = user_id if chat_id is None else chat_id
        chat = self.chats.get(chat_id)
        if chat is not None and chat.is_group:
            scopes = [
                {"type": "chat_member", "chat_id": chat_id, "user_id": user_id},
                {"type": "chat", "chat_id": chat_id},
                {"type": "all_group_chats"},
                {"type": "default"},
            ]
        else:
            scopes = [
                {"type": "chat", "chat_id": chat_id},
                {"type": "all_private_chats"},
                {"type": "default"},
            ]
        for scope in scopes:
            key = scope_key(scope)
            for lang in (language, ""):
                if (key, lang) in self.commands:
                    return self.commands[(key, lang)]
        return []

    # ---- the phone's view of a chat --------------------------------------------------------

    def view(self, chat: ChatRecord, stored: StoredMessage) -> dict[str, Any]:
        message = stored.message
        data = dump(message)
        sender = message.from_user
        item: dict[str, Any] = {
            "message_id": message.message_id,
            "chat_id": chat.id,
            "from": stored.sender,
            "sender": {"id": sender.id, "name": sender.full_name} if sender else None,
            "date": data.get("date"),
            "edited": stored.edited,
            "seq": stored.seq,
        }
        if message.text is not None:
            item["text"] = message.text
            item["entities"] = data.get("entities", [])
            item["html"] = render_html(message.text, item["entities"])
        if message.caption is not None:
            item["caption"] = message.caption
            item["caption_entities"] = data.get("caption_entities", [])
            item["html"] = render_html(message.caption, item["caption_entities"])
        if message.photo:
            largest = message.photo[-1]
            item["photo"] = {
                "file_id": largest.file_id,
                "width": largest.width,
                "height": largest.height,
                "file_size": largest.file_size,
                "url": f"/sandbox/files/{largest.file_id}",
            }
        for kind in ("document", "voice", "location", "contact", "venue"):
            if kind in data:
                item[kind] = data[kind]
                if "file_id" in data[kind]:
                    item[kind]["url"] = f"/sandbox/files/{data[kind]['file_id']}"
        if message.sticker:
            item["sticker"] = {"emoji": message.sticker.emoji, "file_id": message.sticker.file_id}
        if message.group_chat_created:
            item["service"] = "group_chat_created"
        if message.reply_to_message is not None:
            item["reply_to_message_id"] = message.reply_to_message.message_id
        if stored.markup is not None:
            item["reply_markup"] = stored.markup
        return item

    def chat_messages(self, chat: ChatRecord, since: int = 0) -> list[dict[str, Any]]:
        return [
            self.view(chat, stored)
            for message_id, stored in chat.messages.items()
            if message_id > since and not stored.deleted
        ]


def scope_key(scope: dict[str, Any] | None) -> str:
    scope = scope or {"type": "default"}
    return json.dumps(scope, sort_keys=True, separators=(",", ":"))


def _labels(markup: dict[str, Any] | None) -> list[str]:
    if not markup:
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b if isinstance(b, str) else b.get("text", "") for row in rows for b in row]


def _inline(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    return markup if markup and "inline_keyboard" in markup else None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an image, or None if it is not one (Pillow reads the header)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a project dependency
        return (0, 0)
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:
        return None
