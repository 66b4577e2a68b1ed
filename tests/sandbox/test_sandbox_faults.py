"""Telegram's error answers, as aiogram sees them and as raw JSON."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sandbox_helpers import TOKEN

from sandbox.app import SandboxServer
from sandbox.client import SandboxClient
from sandbox.core import RateLimiter

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


async def raw(sandbox: SandboxServer, method: str, **params: object) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sandbox.api_url}/bot{TOKEN}/{method}", json=params) as response,
    ):
        return response.status, await response.json()


async def test_per_chat_flood_limit_answers_429_with_retry_after(
    sandbox: SandboxServer, client: SandboxClient, bot: Bot
) -> None:
    user = await client.create_user("王阿姨")
    for i in range(RateLimiter.PRIVATE_BURST):  # a short burst passes
        await bot.send_message(user["id"], f"第{i + 1}条")
    with pytest.raises(TelegramRetryAfter) as error:
        await bot.send_message(user["id"], "太快了")
    assert error.value.retry_after >= 1
    # aiogram prefixes its own words to Telegram's description
    assert error.value.message.endswith(
        f"Original description: Too Many Requests: retry after {error.value.retry_after}"
    )

    status, body = await raw(sandbox, "sendMessage", chat_id=user["id"], text="还是太快")
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {body['parameters']['retry_after']}",
        "parameters": {"retry_after": body["parameters"]["retry_after"]},
    }
    stats = await client.stats()
    assert stats["too_many_requests"] == 2
    assert stats["errors"]["429"] == 2
    assert stats["delivered_messages"] == RateLimiter.PRIVATE_BURST


async def test_global_flood_limit(client: SandboxClient, bot: Bot) -> None:
    users = [await client.create_user(f"居民{i}") for i in range(35)]
    sent, limited = 0, 0
    for user in users:
        try:
            await bot.send_message(user["id"], "通知：明天停水")
            sent += 1
        except TelegramRetryAfter:
            limited += 1
    assert sent == RateLimiter.GLOBAL_PER_SECOND
    assert limited == 35 - RateLimiter.GLOBAL_PER_SECOND


async def test_faults_can_be_switched_off(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    assert (await client.set_faults(False))["enabled"] is False
    for i in range(12):
        await bot.send_message(user["id"], f"第{i + 1}条")
    assert len(await client.messages(user["id"])) == 12
    await client.set_faults(True)
    with pytest.raises(TelegramRetryAfter):
        for _ in range(RateLimiter.PRIVATE_BURST + 1):
            await bot.send_message(user["id"], "又有限流了")


async def test_injected_fault(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    await client.inject_fault(502, method="sendMessage", description="Bad Gateway")
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await bot.send_message(user["id"], "一")
    await bot.send_message(user["id"], "二")  # only once


async def test_blocked_user_answers_403(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    await client.block(user["id"])
    with pytest.raises(TelegramForbiddenError) as error:
        await bot.send_message(user["id"], "你好")
    assert error.value.message == "Forbidden: bot was blocked by the user"
    with pytest.raises(TelegramForbiddenError):
        await bot.send_chat_action(user["id"], "typing")
    await client.unblock(user["id"])
    await bot.send_message(user["id"], "欢迎回来")


async def test_unknown_chat_answers_400(sandbox: SandboxServer, bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest) as error:
        await bot.send_message(987654, "你好")
    assert error.value.message == "Bad Request: chat not found"
    status, body = await raw(sandbox, "sendMessage", chat_id=987654, text="x")
    assert (status, body) == (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )


async def test_text_length_limit(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    await bot.send_message(user["id"], "长" * 4096)
    with pytest.raises(TelegramBadRequest) as error:
        await bot.send_message(user["id"], "长" * 4097)
    assert error.value.message == "Bad Request: message is too long"
    # the limit counts the text after HTML parsing, in UTF-16 units
    await bot.send_message(user["id"], "<b>" + "长" * 4096 + "</b>")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(user["id"], "😀" * 2049)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(user["id"], "<b></b>  ")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<b>粗体", 'Can\'t find end tag corresponding to start tag "b"'),
        (
            "<b>粗<i>斜</b></i>",
            'Unmatched end tag at byte offset 12, expected "</i>", found "</b>"',
        ),
        ("换行<br>", 'Unsupported start tag "br" at byte offset 6'),
        ("<div>块</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("多余</b>", "Unexpected end tag at byte offset 6"),
    ],
)
async def test_malformed_html_answers_400(
    client: SandboxClient, bot: Bot, text: str, reason: str
) -> None:
    user = await client.create_user("王阿姨")
    with pytest.raises(TelegramBadRequest) as error:
        await bot.send_message(user["id"], text)
    assert error.value.message == f"Bad Request: can't parse entities: {reason}"


async def test_well_formed_html_becomes_entities(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    message = await bot.send_message(
        user["id"],
        '<b>工单</b> <i>DC-0001</i> <a href="https://example.org/t/1">详情</a> '
        "<code>x&lt;1</code> 😀<u>下划</u>",
    )
    assert message.text == "工单 DC-0001 详情 x<1 😀下划"
    assert [(e.type, e.offset, e.length) for e in message.entities or []] == [
        ("bold", 0, 2),
        ("italic", 3, 7),
        ("text_link", 11, 2),
        ("code", 14, 3),
        ("underline", 20, 2),  # 😀 is two UTF-16 units
    ]
    shown = (await client.messages(user["id"]))[-1]
    assert shown["html"].startswith("<b>工单</b> <i>DC-0001</i> <a href=")
    assert "<code>x&lt;1</code>" in shown["html"]


async def test_edit_with_same_content_is_not_modified(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="确认", callback_data="yes")]]
    )
    message = await bot.send_message(user["id"], "<b>请确认</b>", reply_markup=keyboard)
    with pytest.raises(TelegramBadRequest) as error:
        await bot.edit_message_text(
            "<b>请确认</b>", chat_id=user["id"], message_id=message.message_id,
            reply_markup=keyboard,
        )  # fmt: skip
    assert error.value.message == NOT_MODIFIED
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=user["id"], message_id=message.message_id, reply_markup=keyboard
        )
    edited = await bot.edit_message_text(
        "<b>请确认</b>", chat_id=user["id"], message_id=message.message_id
    )  # same text, keyboard removed: a real change
    assert isinstance(edited, type(message)) and edited.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=user["id"], message_id=999)


async def test_delete_message(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    first = await bot.send_message(user["id"], "一")
    await bot.send_message(user["id"], "二")
    assert await bot.delete_message(user["id"], first.message_id) is True
    assert [m["text"] for m in await client.messages(user["id"])] == ["二"]
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(user["id"], first.message_id)


async def test_answering_a_callback_twice_or_unknown(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("12345")


async def test_tokens_and_unknown_methods(sandbox: SandboxServer, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == int(TOKEN.split(":")[0]) and me.username == "diancai_sandbox_bot"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{sandbox.api_url}/bot{TOKEN}/noSuchMethod") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with session.get(f"{sandbox.api_url}/botnot-a-token/getMe") as response:
            assert response.status == 404
        async with session.get(f"{sandbox.api_url}/bot42:other/getMe") as response:
            assert response.status == 401
            assert (await response.json())["description"] == "Unauthorized"
        # GET with a query string and urlencoded forms work as well as JSON and multipart
        async with session.get(f"{sandbox.api_url}/bot{TOKEN}/getMe?x=1") as response:
            assert (await response.json())["result"]["is_bot"] is True
        async with session.post(
            f"{sandbox.api_url}/bot{TOKEN}/getUpdates", data={"timeout": "0", "limit": "5"}
        ) as response:
            assert await response.json() == {"ok": True, "result": []}
