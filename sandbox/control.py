"""The control API under `/sandbox/`: act as users, read chats as their phones show them.

Tests, benchmarks, the launcher and the web chat use it (see sandbox/README.md). Answers are
plain JSON objects; errors are `{"error": <status>, "description": "..."}` with that status.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sandbox.botapi import SANDBOX_KEY, inject_fault
from sandbox.core import (
    BOT_USERNAME,
    SHENYANG,
    ChatRecord,
    ControlError,
    Sandbox,
    SandboxUser,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_WAIT = 120.0
QUIET_CAP = 3.0  # the quiet period never stretches a wait by more than this


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _guard(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as error:
            return _json({"error": error.status, "description": error.description}, error.status)

    return wrapped


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ControlError(400, "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object")
    return body


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(400, f"{name} must be an integer") from None


def _query_int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    return None if value in (None, "") else _int(value, name)


def _sb(request: web.Request) -> Sandbox:
    return request.app[SANDBOX_KEY]


def _user(request: web.Request) -> SandboxUser:
    return _sb(request).get_user(_int(request.match_info["user_id"], "user id"))


def _decode(data: Any, name: str) -> bytes:
    if not isinstance(data, str) or not data:
        raise ControlError(400, f"{name} must be base64 text")
    if data.startswith("data:") and "," in data:  # a data: URL from the browser
        data = data.split(",", 1)[1]
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ControlError(400, f"{name} is not valid base64") from None


# --------------------------------------------------------------------------------------------
# Sending as a user


def _content(sb: Sandbox, user: SandboxUser, body: dict[str, Any]) -> dict[str, Any]:  # noqa: C901 - one branch per message kind
    """Message fields for one of the control API's message kinds."""
    kinds = [k for k in ("text", "photo", "location", "voice", "contact", "document", "sticker")
             if body.get(k) not in (None, False, "")]  # fmt: skip
    if len(kinds) != 1:
        raise ControlError(
            400,
            "send exactly one of: text, photo (base64), location {latitude, longitude}, "
            "voice (base64), contact {phone_number}, document (base64), sticker (true)",
        )
    kind = kinds[0]
    if kind == "text":
        text = body["text"]
        if not isinstance(text, str) or not text.strip():
            raise ControlError(400, "text must be a non-empty string")
        if len(text) > 4096:
            raise ControlError(400, "text longer than 4096 characters (Telegram splits it)")
        return {"text": text}
    caption = body.get("caption")
    extra = {"caption": caption} if isinstance(caption, str) and caption else {}
    if kind == "photo":
        data = _decode(body["photo"], "photo")
        stored = sb.store_file(data, kind="photos", mime_type="image/jpeg", file_name=None)
        return {"photo": sb.photo_sizes(stored), **extra}
    if kind == "document":
        data = _decode(body["document"], "document")
        stored = sb.store_file(
            data,
            kind="documents",
            mime_type=body.get("mime_type") or "application/octet-stream",
            file_name=body.get("file_name") or "file.bin",
        )
        return {"document": sb.document(stored), **extra}
    if kind == "voice":
        data = _decode(body["voice"], "voice")
        stored = sb.store_file(data, kind="voice", mime_type="audio/ogg", file_name=None)
        return {"voice": sb.voice(stored, int(body.get("duration") or 1)), **extra}
    if kind == "location":
        location = body["location"]
        if location is True or location == "shenyang":
            location = SHENYANG
        try:
            latitude, longitude = float(location["latitude"]), float(location["longitude"])
        except (TypeError, KeyError, ValueError):
            raise ControlError(400, "location needs numeric latitude and longitude") from None
        return {"location": {"latitude": latitude, "longitude": longitude}}
    if kind == "contact":
        contact = body["contact"]
        if not isinstance(contact, dict) or not contact.get("phone_number"):
            raise ControlError(400, "contact needs phone_number")
        return {
            "contact": {
                "phone_number": str(contact["phone_number"]),
                "first_name": str(contact.get("first_name") or user.first_name),
                **({"last_name": contact["last_name"]} if contact.get("last_name") else {}),
                "user_id": int(contact.get("user_id") or user.id),
            }
        }
    return {"sticker": sb.sticker()}


def _send(sb: Sandbox, chat: ChatRecord, user: SandboxUser, body: dict[str, Any]) -> web.Response:
    if body.get("edit_of") is not None:
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ControlError(400, "edit_of needs the new text")
        message_id = sb.user_edit(chat, user, _int(body["edit_of"], "edit_of"), text)
        return _json({"message_id": message_id, "chat_id": chat.id, "seq": chat.seq})
    content = _content(sb, user, body)
    reply = body.get("reply_to")
    stored = sb.user_message(
        chat, user, content, reply_to=None if reply is None else _int(reply, "reply_to")
    )
    return _json({"message_id": stored.message.message_id, "chat_id": chat.id, "seq": chat.seq})


@_guard
async def user_send(request: web.Request) -> web.StreamResponse:
    sb, user = _sb(request), _user(request)
    return _send(sb, sb.chats[user.id], user, await _body(request))


@_guard
async def group_send(request: web.Request) -> web.StreamResponse:
    sb = _sb(request)
    chat = _group(request)
    body = await _body(request)
    user = sb.get_user(_int(body.get("from"), "from"))
    return _send(sb, chat, user, body)


def _press(sb: Sandbox, chat: ChatRecord, user: SandboxUser, body: dict[str, Any]) -> Any:
    label = body.get("text")
    if not isinstance(label, str) or not label:
        raise ControlError(400, "press needs the button's text")
    message_id = body.get("message_id")
    return _json(
        sb.press(chat, user, None if message_id is None else _int(message_id, "message_id"), label)
    )


@_guard
async def user_press(request: web.Request) -> web.StreamResponse:
    sb, user = _sb(request), _user(request)
    return _press(sb, sb.chats[user.id], user, await _body(request))


@_guard
async def group_press(request: web.Request) -> web.StreamResponse:
    sb = _sb(request)
    chat = _group(request)
    body = await _body(request)
    return _press(sb, chat, sb.get_user(_int(body.get("from"), "from")), body)


# --------------------------------------------------------------------------------------------
# Users and groups


@_guard
async def create_user(request: web.Request) -> web.StreamResponse:
    body = await _body(request)
    user = _sb(request).create_user(
        id=None if body.get("id") is None else _int(body["id"], "id"),
        first_name=str(body.get("first_name") or ""),
        last_name=body.get("last_name"),
        username=body.get("username"),
        language_code=body.get("language_code", "zh"),
    )
    return _json(user.view())


@_guard
async def list_users(request: web.Request) -> web.StreamResponse:
    return _json({"users": [user.view() for user in _sb(request).users.values()]})


@_guard
async def get_user(request: web.Request) -> web.StreamResponse:
    return _json(_user(request).view())


def _blocker(blocked: bool) -> Handler:
    @_guard
    async def handler(request: web.Request) -> web.StreamResponse:
        sb, user = _sb(request), _user(request)
        sb.set_blocked(user, blocked)
        return _json(user.view())

    return handler


@_guard
async def user_commands(request: web.Request) -> web.StreamResponse:
    sb, user = _sb(request), _user(request)
    return _json({"commands": sb.commands_for(user.id)})


def _group(request: web.Request) -> ChatRecord:
    chat = _sb(request).get_chat(_int(request.match_info["chat_id"], "chat id"))
    if not chat.is_group:
        raise ControlError(400, f"chat {chat.id} is a private chat; use /sandbox/users/...")
    return chat


@_guard
async def create_group(request: web.Request) -> web.StreamResponse:
    sb = _sb(request)
    body = await _body(request)
    members = body.get("members") or []
    if not isinstance(members, list):
        raise ControlError(400, "members must be a list of user ids")
    chat = sb.create_group(
        title=str(body.get("title") or ""),
        members=[_int(m, "member") for m in members],
        id=None if body.get("id") is None else _int(body["id"], "id"),
    )
    return _json(sb.chat_view(chat))


@_guard
async def list_groups(request: web.Request) -> web.StreamResponse:
    sb = _sb(request)
    return _json({"groups": [sb.chat_view(c) for c in sb.chats.values() if c.is_group]})


# --------------------------------------------------------------------------------------------
# Reading chats


def _chat(request: web.Request) -> ChatRecord:
    sb = _sb(request)
    if "user_id" in request.match_info:
        return sb.chats[_user(request).id]
    return sb.get_chat(_int(request.match_info["chat_id"], "chat id"))


@_guard
async def chat_messages(request: web.Request) -> web.StreamResponse:
    sb, chat = _sb(request), _chat(request)
    since = _query_int(request, "since") or 0
    return _json(
        {
            "messages": sb.chat_messages(chat, since),
            "seq": chat.seq,
            "reply_keyboard": chat.reply_keyboard,
        }
    )


@_guard
async def chat_wait(request: web.Request) -> web.StreamResponse:  # noqa: C901 - wait, settle, collect: one request
    """Long poll: returns once the bot has sent a message newer than `since` (or changed one
    after `after_seq`), then lets the chat be quiet for the quiet period so a multi-message
    answer comes back whole."""
    sb, chat = _sb(request), _chat(request)
    since = _query_int(request, "since")
    if since is None:
        since = chat.next_message_id - 1  # default: whatever comes next
    after_seq = _query_int(request, "after_seq")
    try:
        timeout = min(float(request.query.get("timeout", 10)), MAX_WAIT)
    except ValueError:
        raise ControlError(400, "timeout must be a number of seconds") from None

    def bot_changed() -> bool:
        for message_id, stored in chat.messages.items():
            if stored.sender != "bot":
                continue
            if message_id > since and not stored.deleted:
                return True
            if after_seq is not None and stored.seq > after_seq:
                return True
        return False

    arrived = await sb.wait_for(bot_changed, timeout)
    if arrived and sb.quiet_period > 0:
        deadline = time.monotonic() + QUIET_CAP
        while time.monotonic() < deadline:
            seen = chat.seq
            await asyncio.sleep(sb.quiet_period)
            if chat.seq == seen:
                break
    changed = []
    if after_seq is not None:
        for message_id, stored in chat.messages.items():
            if stored.seq > after_seq and message_id <= since:
                changed.append(
                    {"message_id": message_id, "deleted": True}
                    if stored.deleted
                    else sb.view(chat, stored)
                )
    return _json(
        {
            "messages": sb.chat_messages(chat, since),
            "changed": changed,
            "seq": chat.seq,
            "timed_out": not arrived,
        }
    )


@_guard
async def get_callback(request: web.Request) -> web.StreamResponse:
    sb = _sb(request)
    record = sb.callbacks.get(request.match_info["query_id"])
    if record is None:
        raise ControlError(404, "no such callback query")
    return _json(record.view())


@_guard
async def get_file(request: web.Request) -> web.StreamResponse:
    stored = _sb(request).files.get(request.match_info["file_id"])
    if stored is None:
        raise ControlError(404, "no such file")
    return web.Response(
        body=stored.data,
        content_type=stored.mime_type or "application/octet-stream",
        headers={"Cache-Control": "max-age=3600"},
    )


# --------------------------------------------------------------------------------------------
# The sandbox itself


@_guard
async def bot_info(request: web.Request) -> web.StreamResponse:
    sb = _sb(request)
    last = sb.last_seen
    if sb.webhook is not None:
        mode = "webhook"
    elif last is not None and time.monotonic() - last < 65:
        mode = "polling"
    else:
        mode = "offline"
    return _json(
        {
            "id": sb.bot_id,
            "username": BOT_USERNAME,
            "connected": sb.token is not None,
            "mode": mode,
            "webhook_url": sb.webhook.url if sb.webhook else None,
            "pending_updates": len(sb.updates),
            **_config(sb),
        }
    )


def _config(sb: Sandbox) -> dict[str, Any]:
    return {
        "faults": sb.faults,
        "privacy_mode": sb.privacy_mode,
        "quiet_period": sb.quiet_period,
        "injected": [
            {
                "method": f.method,
                "error_code": f.error_code,
                "description": f.description,
                "remaining": f.remaining,
            }
            for f in sb.injected
        ],
    }


@_guard
async def stats(request: web.Request) -> web.StreamResponse:
    sb = _sb(request)
    return _json({**sb.stats.view(), "faults": sb.faults})


@_guard
async def reset(request: web.Request) -> web.StreamResponse:
    sb = _sb(request)
    sb.reset()
    return _json({"ok": True, **_config(sb)})


@_guard
async def get_faults(request: web.Request) -> web.StreamResponse:
    sb = _sb(request)
    return _json({"enabled": sb.faults, "injected": _config(sb)["injected"]})


@_guard
async def set_faults(request: web.Request) -> web.StreamResponse:
    sb = _sb(request)
    body = await _body(request)
    if "enabled" in body:
        sb.faults = bool(body["enabled"])
    if body.get("clear"):
        sb.injected.clear()
    inject = body.get("inject")
    if inject is not None:
        for spec in inject if isinstance(inject, list) else [inject]:
            if not isinstance(spec, dict):
                raise ControlError(400, "inject takes {method?, error_code, description?, count?}")
            inject_fault(sb, spec)
    sb.publish({"type": "config", **_config(sb)})
    return _json({"enabled": sb.faults, "injected": _config(sb)["injected"]})


@_guard
async def set_config(request: web.Request) -> web.StreamResponse:
    sb = _sb(request)
    body = await _body(request)
    if "faults" in body:
        sb.faults = bool(body["faults"])
    if "privacy_mode" in body:
        sb.privacy_mode = bool(body["privacy_mode"])
    if "quiet_period" in body:
        try:
            sb.quiet_period = max(0.0, float(body["quiet_period"]))
        except (TypeError, ValueError):
            raise ControlError(400, "quiet_period must be a number of seconds") from None
    sb.publish({"type": "config", **_config(sb)})
    return _json(_config(sb))


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: every change, as JSON with a "type" (message, edit, delete, user,
    chat, chat_action, callback_answer, commands, config, update, reset)."""
    sb = _sb(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    queue = sb.subscribe()
    try:
        await response.write(b'retry: 1000\ndata: {"type": "hello"}\n\n')
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), 15)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event is None:
                break
            data = json.dumps(event, ensure_ascii=False)
            await response.write(f"data: {data}\n\n".encode())
    except (ConnectionResetError, RuntimeError):
        pass  # the browser went away
    finally:
        sb.unsubscribe(queue)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/sandbox/bot", bot_info)
    r.add_get("/sandbox/users", list_users)
    r.add_post("/sandbox/users", create_user)
    r.add_get("/sandbox/users/{user_id}", get_user)
    r.add_post("/sandbox/users/{user_id}/send", user_send)
    r.add_post("/sandbox/users/{user_id}/press", user_press)
    r.add_post("/sandbox/users/{user_id}/block", _blocker(True))
    r.add_post("/sandbox/users/{user_id}/unblock", _blocker(False))
    r.add_get("/sandbox/users/{user_id}/messages", chat_messages)
    r.add_get("/sandbox/users/{user_id}/wait", chat_wait)
    r.add_get("/sandbox/users/{user_id}/commands", user_commands)
    r.add_get("/sandbox/groups", list_groups)
    r.add_post("/sandbox/groups", create_group)
    r.add_post("/sandbox/groups/{chat_id}/send", group_send)
    r.add_post("/sandbox/groups/{chat_id}/press", group_press)
    r.add_get("/sandbox/chats/{chat_id}/messages", chat_messages)
    r.add_get("/sandbox/chats/{chat_id}/wait", chat_wait)
    r.add_get("/sandbox/callbacks/{query_id}", get_callback)
    r.add_get("/sandbox/files/{file_id}", get_file)
    r.add_get("/sandbox/stats", stats)
    r.add_post("/sandbox/reset", reset)
    r.add_get("/sandbox/faults", get_faults)
    r.add_post("/sandbox/faults", set_faults)
    r.add_post("/sandbox/config", set_config)
    r.add_get("/sandbox/events", events)
