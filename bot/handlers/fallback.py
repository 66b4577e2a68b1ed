"""Everything no other handler took: each gets a clear, polite answer."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import Message

from bot import keyboards
from bot.i18n import _
from models.tables import User


async def unknown_command(message: Message, user: User) -> None:
    await message.answer(
        _("没有这个命令。发送 /help 查看可以做什么。"), reply_markup=keyboards.main_menu(user.role)
    )


async def sticker(message: Message) -> None:
    await message.answer(_("收到表情啦 😊 有问题要反映的话，请用文字描述一下，我好帮您登记。"))


async def contact(message: Message) -> None:
    await message.answer(_("谢谢！我不保存电话号码，也不会转给别人。有问题请直接打字告诉我。"))


async def anything_else(message: Message) -> None:
    await message.answer(_("这类消息我还看不懂。请用文字、照片或位置告诉我遇到的问题。"))


async def edited(message: Message) -> None:
    await message.answer(
        _(
            "我看到您修改了消息。修改后的内容不会自动更新到诉求里；"
            "如需补充，请在“📋 我的诉求”里点“补充说明”。"
        )
    )


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.edited_message.filter(F.chat.type == "private")
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(sticker, F.sticker | F.animation | F.dice)
    router.message.register(contact, F.contact)
    router.message.register(anything_else)
    router.edited_message.register(edited)
    return router
