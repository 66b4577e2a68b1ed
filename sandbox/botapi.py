"""The Bot API over HTTP: `/bot<token>/<method>` and `/file/bot<token>/<path>`.

Requests may be GET or POST with a query string, JSON, urlencoded or multipart body (files as
parts, referenced as `attach://<name>` or sent under the parameter's own name), as Telegram
accepts them. Answers are `{"ok": true, "result": ...}` or Telegram's error objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiogram.types import (
    AcceptedGiftTypes,
    BotCommand,
    ChatFullInfo,
    ChatMemberMember,
    ChatMemberOwner,
    File,
    ForceReply,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    WebhookInfo,
)
from aiohttp import ClientError, ClientSession, ClientTimeout, web
from aiohttp.web_request import FileField
from pydantic import ValidationError

from sandbox.core import (
    MAX_CALLBACK_DATA,
    MAX_CAPTION,
    MAX_TEXT,
    ApiError,
    ChatRecord,
    InjectedFault,
    Sandbox,
    StoredFile,
    WebhookConfig,
    bad_request,
    dump,
    image_size,
    scope_key,
)
from sandbox.entities import EntityParseError, parse_html, utf16_len

log = logging.getLogger("sandbox.botapi")

SANDBOX_KEY: web.AppKey[Sandbox] = web.AppKey("sandbox", Sandbox)
MAX_UPLOAD = 50 * 1024 * 1024  # Telegram's limit for bot uploads
WEBHOOK_TIMEOUT = 10.0
WEBHOOK_BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0)  # seconds between failed deliveries, then the last
CHAT_ACTIONS = {
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note",
    "upload_video_note",
}  # fmt: skip

Upload = tuple[bytes, str | None, str | None]  # data, file name, content type


class Params:
    """A method's parameters whatever the encoding; form values arrive as strings."""

    def __init__(self, values: dict[str, Any], files: dict[str, Upload]):
        self.values = values
        self.files = files

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "") or name in self.files

    def str(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def int(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def float(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def bool(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)

    def json(self, name: str, what: str | None = None) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise bad_request(f"can't parse {what or name} JSON object") from None
        return value


async def read_params(request: web.Request) -> Params:
    values: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                raise bad_request("can't parse JSON encoded request body") from None
            if not isinstance(body, dict):
                raise bad_request("JSON object expected as request body")
            values.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, FileField):
                    files[key] = (value.file.read(), value.filename, value.content_type)
                else:
                    values[key] = value
    return Params(values, files)


def ok(result: Any, description: str | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return web.json_response(body, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Shared checks


def resolve_chat(sb: Sandbox, params: Params, name: str = "chat_id") -> ChatRecord:
    raw = params.values.get(name)
    if raw is None or raw == "":
        raise bad_request(f"{name} is empty")
    try:
        chat_id = int(raw)
    except (TypeError, ValueError):
        raise bad_request("chat not found") from None  # "@username": no public chats here
    chat = sb.chats.get(chat_id)
    if chat is None:
        raise bad_request("chat not found")
    return chat


def check_reachable(sb: Sandbox, chat: ChatRecord) -> None:
    if chat.is_group:
        if not chat.bot_member:
            raise ApiError(403, "Forbidden: bot was kicked from the group chat")
        return
    if sb.users[chat.id].blocked:
        raise ApiError(403, "Forbidden: bot was blocked by the user")


def check_rate(sb: Sandbox, chat: ChatRecord) -> None:
    if not sb.faults:
        return
    retry_after = sb.limiter.check(chat.id, chat.is_group)
    if retry_after:
        raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


def formatted(
    params: Params, text_key: str, entities_key: str, *, limit: int, required: bool
) -> tuple[str | None, list[dict[str, Any]] | None]:
    """Text and entities after parse_mode; Telegram's errors for empty, long or bad HTML."""
    text = params.str(text_key)
    if text is None:
        if required:
            raise bad_request("message text is empty")
        return None, None
    entities = params.json(entities_key)
    mode = (params.str("parse_mode") or "").strip().lower()
    if mode == "html":
        try:
            text, entities = parse_html(text)
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    elif mode not in ("", "markdown", "markdownv2"):
        raise bad_request("unsupported parse_mode")
    # Markdown modes are passed through unparsed (see README: only HTML is validated).
    if required and not text.strip():
        raise bad_request("message text is empty")
    if utf16_len(text) > limit:
        raise bad_request("message is too long" if required else "message caption is too long")
    if not text.strip():
        return None, None
    return text, entities or None


def reply_markup(params: Params) -> dict[str, Any] | None:
    raw = params.json("reply_markup", "reply keyboard markup")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    try:
        if "inline_keyboard" in raw:
            markup = InlineKeyboardMarkup.model_validate(raw)
            for row in markup.inline_keyboard:
                for button in row:
                    actions = [
                        k for k, v in dump(button).items() if k != "text" and v not in (None, "")
                    ]
                    if not actions:
                        raise bad_request(
                            "can't parse inline keyboard button: Text buttons are unallowed "
                            "in the inline keyboard"
                        )
                    data = button.callback_data
                    if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                        raise bad_request("BUTTON_DATA_INVALID")
            return dump(markup)
        if "keyboard" in raw:
            rows = [
                [{"text": b} if isinstance(b, str) else b for b in row] for row in raw["keyboard"]
            ]
            return dump(ReplyKeyboardMarkup.model_validate({**raw, "keyboard": rows}))
        if "remove_keyboard" in raw:
            return dump(ReplyKeyboardRemove.model_validate(raw))
        if "force_reply" in raw:
            return dump(ForceReply.model_validate(raw))
    except ValidationError:
        raise bad_request("can't parse reply keyboard markup JSON object") from None
    raise bad_request("can't parse reply keyboard markup JSON object")


def reply_to(params: Params, chat: ChatRecord) -> int | None:
    reply = params.json("reply_parameters")
    message_id = params.int("reply_to_message_id")
    allow_missing = params.bool("allow_sending_without_reply")
    if isinstance(reply, dict):
        message_id = reply.get("message_id")
        allow_missing = bool(reply.get("allow_sending_without_reply"))
    if message_id is None:
        return None
    stored = chat.messages.get(int(message_id))
    if stored is None or stored.deleted:
        if allow_missing:
            return None
        raise bad_request("message to be replied not found")
    return int(message_id)


async def input_file(sb: Sandbox, params: Params, name: str, kind: str) -> StoredFile:
    """A file parameter: an upload (attach://x or the part itself), a file_id or a URL."""
    value = params.values.get(name)
    if isinstance(value, str) and value.startswith("attach://"):
        upload = params.files.get(value.removeprefix("attach://"))
        if upload is None:
            raise bad_request(f"there is no {name} in the request")
    else:
        upload = params.files.get(name)
    if upload is not None:
        data, file_name, content_type = upload
        if not data:
            raise bad_request("file must be non-empty")
        return sb.store_file(data, kind=kind, mime_type=content_type, file_name=file_name)
    if not value:
        raise bad_request(f"there is no {name} in the request")
    value = str(value)
    if value.startswith(("http://", "https://")):
        return await _fetch_url(sb, value, kind)
    stored = sb.files.get(value)
    if stored is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return stored


async def _fetch_url(sb: Sandbox, url: str, kind: str) -> StoredFile:
    """Telegram downloads URLs itself; the sandbox can only reach this machine."""
    host = urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise bad_request("failed to get HTTP URL content")
    try:
        async with ClientSession() as session, session.get(url, timeout=ClientTimeout(10)) as r:
            if r.status != 200:
                raise bad_request("failed to get HTTP URL content")
            data = await r.read()
            name = url.rsplit("/", 1)[-1] or None
            return sb.store_file(data, kind=kind, mime_type=r.content_type, file_name=name)
    except (ClientError, TimeoutError):
        raise bad_request("failed to get HTTP URL content") from None


# --------------------------------------------------------------------------------------------
# Methods

Method = Callable[[Sandbox, Params], Awaitable[Any]]
METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    def register(fn: Method) -> Method:
        METHODS[name.lower()] = fn
        return fn

    return register


class Described:
    """A result with Telegram's optional success description (e.g. "Webhook was set")."""

    def __init__(self, result: Any, description: str):
        self.result = result
        self.description = description


@method("getMe")
async def get_me(sb: Sandbox, p: Params) -> Any:
    return dump(sb.bot_user(full=True))


@method("logOut")
async def log_out(sb: Sandbox, p: Params) -> Any:
    return True


@method("close")
async def close(sb: Sandbox, p: Params) -> Any:
    return True


@method("getUpdates")
async def get_updates(sb: Sandbox, p: Params) -> Any:
    if sb.webhook is not None:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = p.int("offset") or 0
    limit = min(max(p.int("limit") or 100, 1), 100)
    timeout = max(p.int("timeout") or 0, 0)
    allowed = p.json("allowed_updates")
    if isinstance(allowed, list):
        sb.allowed_updates = [str(kind) for kind in allowed]
    sb.confirm_updates(offset)
    sb.poll_generation += 1
    generation = sb.poll_generation
    sb.poke()  # an older long poll still waiting is answered 409, as Telegram does
    await sb.wait_for(
        lambda: generation != sb.poll_generation or bool(sb.pending_updates(limit)), timeout
    )
    if generation != sb.poll_generation:
        raise ApiError(
            409,
            "Conflict: terminated by other getUpdates request; "
            "make sure that only one bot instance is running",
        )
    return sb.pending_updates(limit)


@method("setWebhook")
async def set_webhook(sb: Sandbox, p: Params) -> Any:
    url = (p.str("url") or "").strip()
    if not url:
        return await delete_webhook(sb, p)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
    secret = p.str("secret_token")
    if secret is not None and not (
        1 <= len(secret) <= 256 and all(c.isalnum() or c in "_-" for c in secret)
    ):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    if p.bool("drop_pending_updates"):
        sb.drop_pending_updates()
    allowed = p.json("allowed_updates")
    if isinstance(allowed, list):
        sb.allowed_updates = [str(kind) for kind in allowed]
    already = sb.webhook is not None and sb.webhook.url == url
    sb.webhook = WebhookConfig(
        url=url, secret_token=secret, max_connections=p.int("max_connections") or 40
    )
    sb.poll_generation += 1  # a waiting getUpdates ends
    sb.poke()
    if sb.webhook_task is None or sb.webhook_task.done():
        sb.webhook_task = asyncio.get_running_loop().create_task(webhook_worker(sb))
    return Described(True, "Webhook is already set" if already else "Webhook was set")


@method("deleteWebhook")
async def delete_webhook(sb: Sandbox, p: Params) -> Any:
    if p.bool("drop_pending_updates"):
        sb.drop_pending_updates()
    had = sb.webhook is not None
    sb.webhook = None
    if sb.webhook_task is not None:
        sb.webhook_task.cancel()
        sb.webhook_task = None
    return Described(True, "Webhook was deleted" if had else "Webhook is already deleted")


@method("getWebhookInfo")
async def get_webhook_info(sb: Sandbox, p: Params) -> Any:
    hook = sb.webhook
    pending = len(sb.pending_updates(10**9))
    if hook is None:
        info = WebhookInfo(url="", has_custom_certificate=False, pending_update_count=pending)
    else:
        info = WebhookInfo(
            url=hook.url,
            has_custom_certificate=False,
            pending_update_count=pending,
            ip_address="127.0.0.1",
            last_error_date=hook.last_error_date,
            last_error_message=hook.last_error_message,
            max_connections=hook.max_connections,
            allowed_updates=sb.allowed_updates or None,
        )
    return dump(info)


async def _send(
    sb: Sandbox, p: Params, content: dict[str, Any], chat: ChatRecord, markup: Any
) -> Any:
    reply = reply_to(p, chat)
    check_rate(sb, chat)
    message = sb.bot_message(chat, content=content, markup=markup, reply_to=reply)
    return dump(message)


@method("sendMessage")
async def send_message(sb: Sandbox, p: Params) -> Any:
    chat = resolve_chat(sb, p)
    check_reachable(sb, chat)
    text, entities = formatted(p, "text", "entities", limit=MAX_TEXT, required=True)
    markup = reply_markup(p)
    return await _send(sb, p, {"text": text, "entities": entities}, chat, markup)


async def _send_media(
    sb: Sandbox, p: Params, field: str, kind: str, build: Callable[[StoredFile], dict[str, Any]]
) -> Any:
    chat = resolve_chat(sb, p)
    check_reachable(sb, chat)
    caption, entities = formatted(
        p, "caption", "caption_entities", limit=MAX_CAPTION, required=False
    )
    markup = reply_markup(p)
    stored = await input_file(sb, p, field, kind)
    content = build(stored)
    if caption is not None:
        content |= {"caption": caption, "caption_entities": entities}
    return await _send(sb, p, content, chat, markup)


@method("sendPhoto")
async def send_photo(sb: Sandbox, p: Params) -> Any:
    def build(stored: StoredFile) -> dict[str, Any]:
        if image_size(stored.data) is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        stored.mime_type = stored.mime_type or "image/jpeg"
        return {"photo": sb.photo_sizes(stored)}

    return await _send_media(sb, p, "photo", "photos", build)


@method("sendDocument")
async def send_document(sb: Sandbox, p: Params) -> Any:
    return await _send_media(
        sb, p, "document", "documents", lambda stored: {"document": sb.document(stored)}
    )


@method("sendVoice")
async def send_voice(sb: Sandbox, p: Params) -> Any:
    duration = p.int("duration") or 1
    return await _send_media(
        sb, p, "voice", "voice", lambda stored: {"voice": sb.voice(stored, duration)}
    )


@method("sendLocation")
async def send_location(sb: Sandbox, p: Params) -> Any:
    chat = resolve_chat(sb, p)
    check_reachable(sb, chat)
    latitude, longitude = p.float("latitude"), p.float("longitude")
    if latitude is None or longitude is None:
        raise bad_request("wrong latitude or longitude specified")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise bad_request("wrong latitude or longitude specified")
    location = {"latitude": latitude, "longitude": longitude}
    if p.float("horizontal_accuracy") is not None:
        location["horizontal_accuracy"] = p.float("horizontal_accuracy")
    return await _send(sb, p, {"location": location}, chat, reply_markup(p))


@method("sendContact")
async def send_contact(sb: Sandbox, p: Params) -> Any:
    chat = resolve_chat(sb, p)
    check_reachable(sb, chat)
    phone, first_name = p.str("phone_number"), p.str("first_name")
    if not phone or not first_name:
        raise bad_request("phone_number and first_name must be non-empty")
    contact = {"phone_number": phone, "first_name": first_name}
    if p.str("last_name"):
        contact["last_name"] = p.str("last_name") or ""
    return await _send(sb, p, {"contact": contact}, chat, reply_markup(p))


def _message_to_edit(sb: Sandbox, p: Params) -> tuple[ChatRecord, int]:
    if p.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")  # no inline mode in the sandbox
    chat = resolve_chat(sb, p)
    message_id = p.int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    return chat, message_id


@method("editMessageText")
async def edit_message_text(sb: Sandbox, p: Params) -> Any:
    chat, message_id = _message_to_edit(sb, p)
    text, entities = formatted(p, "text", "entities", limit=MAX_TEXT, required=True)
    markup = reply_markup(p)
    stored = chat.messages.get(message_id)
    if stored is not None and not stored.deleted and stored.message.text is None:
        raise bad_request("there is no text in the message to edit")
    message = sb.bot_edit(
        chat, message_id, changes={"text": text, "entities": entities}, markup=markup
    )
    return dump(message)


@method("editMessageCaption")
async def edit_message_caption(sb: Sandbox, p: Params) -> Any:
    chat, message_id = _message_to_edit(sb, p)
    caption, entities = formatted(
        p, "caption", "caption_entities", limit=MAX_CAPTION, required=False
    )
    markup = reply_markup(p)
    stored = chat.messages.get(message_id)
    if stored is not None and not stored.deleted and stored.message.text is not None:
        raise bad_request("there is no caption in the message to edit")
    message = sb.bot_edit(
        chat,
        message_id,
        changes={"caption": caption, "caption_entities": entities},
        markup=markup,
    )
    return dump(message)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(sb: Sandbox, p: Params) -> Any:
    chat, message_id = _message_to_edit(sb, p)
    markup = reply_markup(p)
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    return dump(sb.bot_edit(chat, message_id, changes={}, markup=markup))


@method("deleteMessage")
async def delete_message(sb: Sandbox, p: Params) -> Any:
    chat = resolve_chat(sb, p)
    message_id = p.int("message_id")
    if message_id is None:
        raise bad_request("message identifier is not specified")
    sb.delete_message(chat, message_id)
    return True


@method("deleteMessages")
async def delete_messages(sb: Sandbox, p: Params) -> Any:
    chat = resolve_chat(sb, p)
    ids = p.json("message_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("message_ids must be a list of 1-100 identifiers")
    for message_id in ids:
        with contextlib.suppress(ApiError):  # Telegram skips the ones it can't delete
            sb.delete_message(chat, int(message_id))
    return True


@method("answerCallbackQuery")
async def answer_callback_query(sb: Sandbox, p: Params) -> Any:
    query_id = p.str("callback_query_id")
    if not query_id:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = p.str("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    sb.answer_callback(
        query_id,
        {"text": text, "show_alert": p.bool("show_alert"), "url": p.str("url")},
    )
    return True


@method("getFile")
async def get_file(sb: Sandbox, p: Params) -> Any:
    file_id = p.str("file_id") or ""
    stored = sb.files.get(file_id)
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > 20 * 1024 * 1024:
        raise bad_request("file is too big")
    return dump(
        File(
            file_id=stored.file_id,
            file_unique_id=stored.file_unique_id,
            file_size=len(stored.data),
            file_path=stored.file_path,
        )
    )


def _commands_key(p: Params) -> tuple[str, str]:
    scope = p.json("scope")
    if scope is not None and (not isinstance(scope, dict) or "type" not in scope):
        raise bad_request("can't parse BotCommandScope JSON object")
    return scope_key(scope), p.str("language_code") or ""


@method("setMyCommands")
async def set_my_commands(sb: Sandbox, p: Params) -> Any:
    commands = p.json("commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("too many commands")
    clean = []
    for raw in commands:
        try:
            command = BotCommand.model_validate(raw)
        except ValidationError:
            raise bad_request("can't parse BotCommand JSON object") from None
        name = command.command.removeprefix("/")
        if not (1 <= len(name) <= 32 and all(c.islower() or c.isdigit() or c == "_" for c in name)):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(command.description) <= 256:
            raise bad_request("command description is empty")
        clean.append({"command": name, "description": command.description})
    key = _commands_key(p)
    if clean:
        sb.commands[key] = clean
    else:
        sb.commands.pop(key, None)
    sb.publish({"type": "commands"})
    return True


@method("getMyCommands")
async def get_my_commands(sb: Sandbox, p: Params) -> Any:
    return sb.commands.get(_commands_key(p), [])


@method("deleteMyCommands")
async def delete_my_commands(sb: Sandbox, p: Params) -> Any:
    sb.commands.pop(_commands_key(p), None)
    sb.publish({"type": "commands"})
    return True


@method("sendChatAction")
async def send_chat_action(sb: Sandbox, p: Params) -> Any:
    chat = resolve_chat(sb, p)
    check_reachable(sb, chat)
    action = p.str("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    sb.publish({"type": "chat_action", "chat_id": chat.id, "action": action})
    return True


@method("getChat")
async def get_chat(sb: Sandbox, p: Params) -> Any:
    chat = resolve_chat(sb, p)
    base = dump(sb.tg_chat(chat))
    gifts = AcceptedGiftTypes(
        unlimited_gifts=False,
        limited_gifts=False,
        unique_gifts=False,
        premium_subscription=False,
        gifts_from_channels=False,
    )
    return dump(
        ChatFullInfo.model_validate(
            {**base, "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}
        )
    )


@method("getChatMember")
async def get_chat_member(sb: Sandbox, p: Params) -> Any:
    chat = resolve_chat(sb, p)
    user_id = p.int("user_id")
    if user_id == sb.bot_id:
        return dump(ChatMemberMember(user=sb.bot_user()))
    user = sb.users.get(user_id or 0)
    in_chat = user is not None and (user.id == chat.id or user.id in chat.members)
    if user is None or not in_chat:
        raise bad_request("user not found")
    if chat.is_group and chat.members and chat.members[0] == user.id:
        return dump(ChatMemberOwner(user=user.tg(), is_anonymous=False))
    return dump(ChatMemberMember(user=user.tg()))


def _profile_setter(field: str) -> Method:
    async def setter(sb: Sandbox, p: Params) -> Any:
        sb.profile[f"{field}:{p.str('language_code') or ''}"] = p.str(field) or ""
        return True

    return setter


def _profile_getter(field: str) -> Method:
    async def getter(sb: Sandbox, p: Params) -> Any:
        return {field: sb.profile.get(f"{field}:{p.str('language_code') or ''}", "")}

    return getter


for _field, _suffix in (("name", "Name"), ("description", "Description"),
                        ("short_description", "ShortDescription")):  # fmt: skip
    METHODS[f"setmy{_suffix.lower()}"] = _profile_setter(_field)
    METHODS[f"getmy{_suffix.lower()}"] = _profile_getter(_field)


@method("setChatMenuButton")
async def set_chat_menu_button(sb: Sandbox, p: Params) -> Any:
    return True


@method("getChatMenuButton")
async def get_chat_menu_button(sb: Sandbox, p: Params) -> Any:
    return {"type": "commands"}


# --------------------------------------------------------------------------------------------
# HTTP handlers


async def call(sb: Sandbox, name: str, params: Params) -> Any:
    """Run one method as the HTTP layer would (used by webhook replies too)."""
    sb.stats.request(name)
    fn = METHODS.get(name.lower())
    if fn is None:
        raise ApiError(404, "Not Found")
    for fault in sb.injected if sb.faults else []:
        if fault.remaining > 0 and fault.method in (None, name.lower()):
            fault.remaining -= 1
            sb.injected = [f for f in sb.injected if f.remaining > 0]
            raise ApiError(fault.error_code, fault.description, fault.retry_after)
    return await fn(sb, params)


async def handle_method(request: web.Request) -> web.Response:
    sb = request.app[SANDBOX_KEY]
    name = request.match_info["method"]
    try:
        sb.authorize(request.match_info["token"])
        sb.last_seen = time.monotonic()
        params = await read_params(request)
        result = await call(sb, name, params)
    except ApiError as error:
        sb.stats.error(error.error_code)
        if error.error_code >= 429 or error.error_code == 403:
            log.info("%s -> %s %s", name, error.error_code, error.description)
        return web.json_response(error.payload(), status=error.error_code, dumps=_dumps)
    if isinstance(result, Described):
        return ok(result.result, result.description)
    return ok(result)


async def handle_file(request: web.Request) -> web.StreamResponse:
    sb = request.app[SANDBOX_KEY]
    try:
        sb.authorize(request.match_info["token"])
    except ApiError as error:
        return web.json_response(error.payload(), status=error.error_code)
    stored = sb.files_by_path.get(request.match_info["path"])
    if stored is None:
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found: file not found"},
            status=404,
        )
    return web.Response(
        body=stored.data, content_type=stored.mime_type or "application/octet-stream"
    )


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", r"/bot{token}/{method}", handle_method)
    app.router.add_route("GET", r"/file/bot{token}/{path:.+}", handle_file)


# --------------------------------------------------------------------------------------------
# Webhook delivery


async def webhook_worker(sb: Sandbox) -> None:
    """Deliver pending updates one by one to the webhook; back off and retry on failure."""
    failures = 0
    async with ClientSession() as session:
        while sb.webhook is not None:
            hook = sb.webhook
            if not await sb.wait_for(lambda: bool(sb.pending_updates(1)), 30):
                if sb.closing:
                    return
                continue
            update = sb.pending_updates(1)[0]
            headers = {"Content-Type": "application/json"}
            if hook.secret_token:
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
            error: str | None = None
            try:
                async with session.post(
                    hook.url,
                    data=_dumps(update).encode(),
                    headers=headers,
                    timeout=ClientTimeout(total=WEBHOOK_TIMEOUT),
                ) as response:
                    body = await response.read()
                    if not 200 <= response.status < 300:
                        error = (
                            f"Wrong response from the webhook: {response.status} {response.reason}"
                        )
                    content_type = response.headers.get("Content-Type", "")
            except TimeoutError:
                error = "Read timeout expired"
            except ClientError as exc:
                error = f"Connection failed: {type(exc).__name__}: {exc}"
            if sb.webhook is not hook:
                return  # deleted or replaced while we delivered
            if error is None:
                failures = 0
                sb.stats.webhook_deliveries += 1
                sb.confirm_updates(update["update_id"] + 1)
                await _run_webhook_reply(sb, body, content_type)
                continue
            sb.stats.webhook_failures += 1
            hook.last_error_date = int(time.time())
            hook.last_error_message = error
            delay = WEBHOOK_BACKOFF[min(failures, len(WEBHOOK_BACKOFF) - 1)]
            failures += 1
            log.info("webhook delivery failed (%s); retrying in %.1f s", error, delay)
            await asyncio.sleep(delay)


async def _run_webhook_reply(sb: Sandbox, body: bytes, content_type: str) -> None:
    """A webhook may answer with a method call (aiogram does, as multipart); run it."""
    values: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    if content_type.startswith("multipart/"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not name:
                continue
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename:
                files[str(name)] = (payload, filename, part.get_content_type())
            else:
                values[str(name)] = payload.decode("utf-8")
    elif body.strip():
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
            if isinstance(parsed, dict):
                values = parsed
    name = values.pop("method", None)
    if not name:
        return
    try:
        await call(sb, str(name), Params(values, files))
    except ApiError as error:  # Telegram drops errors of webhook replies silently
        sb.stats.error(error.error_code)
        log.info("webhook reply %s failed: %s", name, error.description)


def inject_fault(sb: Sandbox, spec: dict[str, Any]) -> InjectedFault:
    code = int(spec.get("error_code", 500))
    fault = InjectedFault(
        method=(spec.get("method") or None) and str(spec["method"]).lower(),
        error_code=code,
        description=str(spec.get("description") or _DEFAULT_DESCRIPTIONS.get(code, "Error")),
        retry_after=spec.get("retry_after") if code == 429 else None,
        remaining=int(spec.get("count", 1)),
    )
    if code == 429 and fault.retry_after is None:
        fault.retry_after = 1
        fault.description = "Too Many Requests: retry after 1"
    sb.injected.append(fault)
    return fault


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    403: "Forbidden",
    429: "Too Many Requests: retry after 1",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
