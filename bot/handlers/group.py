"""Group chats: the bot keeps no one's data there and points people to a private chat."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.i18n import _


async def group_command(message: Message, bot_username: str) -> None:
    await message.reply(
        _("为保护隐私，反映问题请私聊我：https://t.me/{username}").format(username=bot_username)
    )


async def group_message(message: Message) -> None:
    """Ordinary group talk is not for the bot: a deliberate silence."""


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type.in_({"group", "supergroup"}))
    router.message.register(group_command, Command("start", "help", "report"))
    router.message.register(group_message)
    return router
