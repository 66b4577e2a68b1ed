"""Conversations through the sandbox: a real aiogram bot over HTTP, users via the control API."""

from __future__ import annotations

import asyncio
import io
import json

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.types import BufferedInputFile, Message
from PIL import Image
from sandbox_helpers import polling

from sandbox.app import SandboxServer
from sandbox.client import SandboxClient, SandboxError, SandboxTimeout


def png(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 60, 40)).save(buffer, "PNG")
    return buffer.getvalue()


async def test_text_round_trip(client: SandboxClient, echo_bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    sent = await client.send_text(user["id"], "楼道灯坏了")
    answer = await client.wait(user["id"], since=sent["message_id"])

    assert [m["from"] for m in answer] == ["bot"]
    assert answer[0]["text"] == "收到：楼道灯坏了"
    assert answer[0]["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    assert answer[0]["html"] == "<b>收到</b>：楼道灯坏了"
    chat = await client.messages(user["id"])
    assert [(m["from"], m.get("text")) for m in chat] == [
        ("user", "楼道灯坏了"),
        ("bot", "收到：楼道灯坏了"),
    ]
    assert chat[0]["message_id"] < chat[1]["message_id"]


async def test_wait_times_out_without_answer(client: SandboxClient) -> None:
    user = await client.create_user("李师傅")
    sent = await client.send_text(user["id"], "有人吗")
    with pytest.raises(SandboxTimeout):
        await client.wait(user["id"], since=sent["message_id"], timeout=0.3)


async def test_inline_button_press_answers_callback_and_edits(
    client: SandboxClient, echo_bot: Bot
) -> None:
    user = await client.create_user("张主任")
    sent = await client.send_text(user["id"], "加装电梯")
    question = (await client.wait(user["id"], since=sent["message_id"]))[-1]
    assert question["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "👍 好的",
        "callback_data": "ok",
    }

    pressed = await client.press(user["id"], question["message_id"], "👍 好的")
    assert pressed["kind"] == "callback_query" and pressed["data"] == "ok"
    changed = await client.wait(user["id"], after_seq=pressed["seq"])

    edited = next(m for m in changed if m["message_id"] == question["message_id"])
    assert edited["edited"] is True
    assert edited["text"].endswith("✅ 已确认")
    assert "reply_markup" not in edited  # editMessageText without a keyboard drops it
    answer = await client.callback(pressed["callback_query_id"])
    assert answer["answered"] is True and answer["text"] == "已确认 ✅"


async def test_pressing_a_missing_button_is_a_clear_400(
    client: SandboxClient, echo_bot: Bot
) -> None:
    user = await client.create_user("王阿姨")
    sent = await client.send_text(user["id"], "你好")
    question = (await client.wait(user["id"], since=sent["message_id"]))[-1]
    with pytest.raises(SandboxError) as error:
        await client.press(user["id"], question["message_id"], "不存在")
    assert error.value.status == 400
    assert "不存在" in error.value.description and "👍 好的" in error.value.description


async def test_reply_keyboard_press_sends_the_text(client: SandboxClient, echo_bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    sent = await client.send_text(user["id"], "/start")
    welcome = (await client.wait(user["id"], since=sent["message_id"]))[-1]
    assert welcome["reply_markup"]["keyboard"][0][1] == {"text": "帮助"}

    pressed = await client.press(user["id"], welcome["message_id"], "帮助")
    assert pressed["kind"] == "message"
    answer = await client.wait(user["id"], since=pressed["message_id"])
    assert answer[0]["text"].startswith("帮助：")
    # the keyboard stays under the input: pressing without a message id works too
    location = await client.press(user["id"], None, "📍 分享位置")
    shared = await client.wait(user["id"], since=location["message_id"] - 1)
    assert shared[0]["location"]["latitude"] == pytest.approx(41.805699)
    assert shared[-1]["text"].startswith("📍 位置已收到")

    removed = await client.send_text(user["id"], "/hide")
    await client.wait(user["id"], since=removed["message_id"])
    with pytest.raises(SandboxError):
        await client.press(user["id"], None, "帮助")


async def test_photo_upload_get_file_and_download(
    sandbox: SandboxServer, client: SandboxClient, bot: Bot
) -> None:
    received: dict[str, bytes] = {}
    dispatcher = Dispatcher()

    @dispatcher.message(F.photo)
    async def on_photo(message: Message, bot: Bot) -> None:
        assert message.photo
        file = await bot.get_file(message.photo[-1].file_id)
        assert file.file_path
        data = await bot.download_file(file.file_path)
        assert data is not None
        received["photo"] = data.read()
        await message.answer_photo(
            BufferedInputFile(png(64, 48), "reply.png"), caption=f"{len(received['photo'])} B"
        )

    image = png()
    async with polling(bot, dispatcher, sandbox.sandbox):
        user = await client.create_user("王阿姨")
        sent = await client.send_photo(user["id"], image, caption="漏水照片")
        answer = await client.wait(user["id"], since=sent["message_id"])

    assert received["photo"] == image
    chat = await client.messages(user["id"])
    assert chat[0]["caption"] == "漏水照片"
    assert chat[0]["photo"]["width"] == 40 and chat[0]["photo"]["height"] == 30
    assert answer[0]["caption"] == f"{len(image)} B"
    assert (answer[0]["photo"]["width"], answer[0]["photo"]["height"]) == (64, 48)
    assert Image.open(io.BytesIO(await client.file(answer[0]["photo"]["file_id"]))).size == (
        64,
        48,
    )


async def test_other_message_kinds_reach_the_bot(client: SandboxClient, echo_bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    for body in (
        {"voice": "T2dnUw=="},
        {"contact": {"phone_number": "+8613800000000"}},
        {"sticker": True},
    ):
        sent = await client.send(user["id"], **body)
        answer = await client.wait(user["id"], since=sent["message_id"])
        assert answer[0]["text"] == "这个我还看不懂，请发文字、照片或位置。"
    chat = await client.messages(user["id"])
    assert chat[0]["voice"]["duration"] == 1
    assert chat[2]["contact"]["user_id"] == user["id"]
    assert chat[4]["sticker"]["emoji"] == "👍"


async def test_edited_message_update(
    sandbox: SandboxServer, client: SandboxClient, bot: Bot
) -> None:
    edits: list[str] = []
    dispatcher = Dispatcher()

    @dispatcher.edited_message()
    async def on_edit(message: Message) -> None:
        edits.append(message.text or "")
        await message.answer(f"改成了：{message.text}")

    async with polling(bot, dispatcher, sandbox.sandbox):
        user = await client.create_user("王阿姨")
        sent = await client.send_text(user["id"], "3号楼")
        await client.edit_text(user["id"], sent["message_id"], "5号楼")
        answer = await client.wait(user["id"], since=sent["message_id"])

    assert edits == ["5号楼"]
    assert answer[0]["text"] == "改成了：5号楼"
    first = (await client.messages(user["id"]))[0]
    assert first["text"] == "5号楼" and first["edited"] is True


async def test_block_and_unblock_send_my_chat_member(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    await client.block(user["id"])
    await client.unblock(user["id"])
    updates = await bot.get_updates(timeout=0)
    statuses = [
        (u.my_chat_member.old_chat_member.status, u.my_chat_member.new_chat_member.status)
        for u in updates
        if u.my_chat_member
    ]
    assert statuses == [("member", "kicked"), ("kicked", "member")]


async def test_groups_and_privacy_mode(client: SandboxClient, bot: Bot) -> None:
    alice = await client.create_user("王阿姨")
    bob = await client.create_user("李师傅")
    group = await client.create_group("3号楼居民群", [alice["id"], bob["id"]])
    assert group["id"] < 0

    await client.send_to_group(group["id"], bob["id"], text="大家好")  # privacy mode: unseen
    await client.send_to_group(group["id"], bob["id"], text="/start@diancai_sandbox_bot")
    updates = await bot.get_updates(timeout=0)
    kinds = [u.event_type for u in updates]
    assert kinds == ["my_chat_member", "message", "message"]  # added, group created, command
    assert updates[-1].message and updates[-1].message.chat.type == "group"
    assert updates[-1].message.text == "/start@diancai_sandbox_bot"

    sent = await bot.send_message(group["id"], "<b>欢迎</b>", parse_mode="HTML")
    assert sent.chat.title == "3号楼居民群"
    seen = await client.chat_messages(group["id"])
    assert [m.get("text") for m in seen][-1] == "欢迎"

    await client.configure(privacy_mode=False)
    await client.send_to_group(group["id"], alice["id"], text="电梯什么时候装？")
    later = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert [u.message.text for u in later if u.message] == ["电梯什么时候装？"]


async def test_commands_with_scope_and_language(client: SandboxClient, bot: Bot) -> None:
    from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat

    user = await client.create_user("Alice", language_code="en")
    await bot.set_my_commands([BotCommand(command="start", description="开始")])
    await bot.set_my_commands(
        [BotCommand(command="start", description="Start")],
        scope=BotCommandScopeAllPrivateChats(),
        language_code="en",
    )
    await bot.set_my_commands(
        [BotCommand(command="admin", description="管理")],
        scope=BotCommandScopeChat(chat_id=user["id"]),
    )
    default = await bot.get_my_commands()
    assert [c.description for c in default] == ["开始"]
    english = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="en")
    assert [c.description for c in english] == ["Start"]
    assert await client.commands(user["id"]) == [{"command": "admin", "description": "管理"}]
    await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id=user["id"]))
    assert await client.commands(user["id"]) == [{"command": "start", "description": "Start"}]


async def test_stats_count_requests_and_deliveries(client: SandboxClient, echo_bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    sent = await client.send_text(user["id"], "你好")
    await client.wait(user["id"], since=sent["message_id"])
    stats = await client.stats()
    assert stats["requests"]["getMe"] >= 1
    assert stats["requests"]["sendMessage"] == 1
    assert stats["requests"]["setMyCommands"] == 1
    assert stats["delivered_messages"] == 1
    assert stats["delivered_per_second"]["peak_1s"] >= 1
    assert stats["too_many_requests"] == 0


async def test_reset_forgets_everything(client: SandboxClient, bot: Bot) -> None:
    user = await client.create_user("王阿姨")
    await bot.send_message(user["id"], "hi")
    await client.reset()
    assert await client.users() == []
    assert (await client.stats())["requests"] == {}
    with pytest.raises(SandboxError) as error:
        await client.messages(user["id"])
    assert error.value.status == 404


async def test_events_stream(sandbox: SandboxServer, client: SandboxClient, bot: Bot) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.web_url}/sandbox/events") as stream,
    ):
        assert stream.headers["Content-Type"].startswith("text/event-stream")

        async def next_event() -> dict:
            while True:
                line = (await stream.content.readline()).decode().strip()
                if line.startswith("data: "):
                    return json.loads(line.removeprefix("data: "))

        assert (await asyncio.wait_for(next_event(), 5))["type"] == "hello"
        user = await client.create_user("王阿姨")
        assert (await asyncio.wait_for(next_event(), 5))["type"] == "user"
        await bot.send_message(user["id"], "你好")
        event = await asyncio.wait_for(next_event(), 5)
        assert event["type"] == "message" and event["message"]["text"] == "你好"


async def test_the_web_chat_is_told_the_bots_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m sandbox` takes the bot's TIMEZONE (or --timezone) and tells the web chat, which
    shows message times in it; a zone nobody knows stops it at once."""
    from sandbox.__main__ import _parse

    monkeypatch.setenv("TIMEZONE", "Europe/Berlin")
    zone = _parse([]).timezone
    assert zone == "Europe/Berlin"
    assert _parse(["--timezone", "Asia/Urumqi"]).timezone == "Asia/Urumqi"
    with pytest.raises(SystemExit):
        _parse(["--timezone", "Nowhere/City"])
    async with (
        SandboxServer(api_port=0, web_port=None, timezone=zone) as server,
        SandboxClient(server.api_url) as control,
    ):
        assert (await control.bot())["timezone"] == "Europe/Berlin"
