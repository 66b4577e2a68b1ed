"""A tiny aiogram echo bot for trying the sandbox without Diancai (`python -m sandbox --echo-bot`)
and for the sandbox's own tests. It answers in Chinese and shows every kind of keyboard."""

from __future__ import annotations

import asyncio
import html
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from aiogram.filters import Command, CommandStart
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

CONFIRM = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="👍 好的", callback_data="ok"),
            InlineKeyboardButton(text="✏️ 重说", callback_data="again"),
        ]
    ]
)
MENU = ReplyKeyboardMarkup(
    keyboard=[
        [KeyboardButton(text="📍 分享位置", request_location=True), KeyboardButton(text="帮助")],
    ],
    resize_keyboard=True,
)


async def start(message: Message) -> None:
    name = html.escape(message.from_user.first_name if message.from_user else "")
    await message.answer(
        f"你好，<b>{name}</b>！我是沙盒里的回声机器人。\n发一句话、一张照片或你的位置试试。",
        reply_markup=MENU,
    )


async def hide(message: Message) -> None:
    await message.answer("键盘已收起。", reply_markup=ReplyKeyboardRemove())


async def help_(message: Message) -> None:
    await message.answer("<i>帮助</i>：我会重复你说的话。/start 重新开始，/hide 收起键盘。")


async def echo(message: Message) -> None:
    text = html.escape(message.text or "")
    await message.answer(f"<b>收到</b>：{text}", reply_markup=CONFIRM)


async def photo(message: Message) -> None:
    assert message.photo
    size = message.photo[-1]
    await message.answer_photo(size.file_id, caption=f"照片已收到（{size.width}×{size.height}）")


async def location(message: Message) -> None:
    assert message.location
    where = f"{message.location.latitude:.5f}, {message.location.longitude:.5f}"
    await message.answer(f"📍 位置已收到：<code>{where}</code>")


async def other(message: Message) -> None:
    await message.answer("这个我还看不懂，请发文字、照片或位置。")


async def confirmed(query: CallbackQuery) -> None:
    await query.answer("已确认 ✅")
    if isinstance(query.message, Message) and query.message.text:
        await query.message.edit_text(f"{html.escape(query.message.text)}\n✅ <b>已确认</b>")


async def again(query: CallbackQuery) -> None:
    await query.answer("请再说一遍", show_alert=True)


async def retry_after_flood(make_request: Any, bot: Bot, method: Any) -> Any:
    """Request middleware: on 429, wait `retry_after` seconds and try again (3 times at most)."""
    for _ in range(3):
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as error:
            await asyncio.sleep(error.retry_after)
    return await make_request(bot, method)


def make_bot(api_url: str, token: str = "123456789:SANDBOX-echo-bot") -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    session.middleware(retry_after_flood)
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))


def make_router() -> Router:
    """A fresh router each time: a router can belong to one dispatcher only."""
    router = Router(name=__name__)
    router.message.register(start, CommandStart())
    router.message.register(hide, Command("hide"))
    router.message.register(help_, F.text == "帮助")
    router.message.register(echo, F.text)
    router.message.register(photo, F.photo)
    router.message.register(location, F.location)
    router.message.register(other)
    router.callback_query.register(confirmed, F.data == "ok")
    router.callback_query.register(again, F.data == "again")
    return router


def make_dispatcher() -> Dispatcher:
    dispatcher = Dispatcher()
    dispatcher.include_router(make_router())

    @dispatcher.startup()
    async def set_commands(bot: Bot) -> None:
        await bot.set_my_commands(
            [
                BotCommand(command="start", description="开始 Start"),
                BotCommand(command="hide", description="收起键盘 Hide the keyboard"),
            ]
        )

    return dispatcher
