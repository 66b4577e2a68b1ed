"""设置: language, compound, building/unit, notifications."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import keyboards
from bot.callbacks import pressed_on
from bot.filters import MenuButton
from bot.i18n import LANGUAGE_NAMES, _
from bot.screens import ask_for_compound
from bot.texts import MENU_SETTINGS, too_long
from models.limits import TooLong
from models.tables import Compound, User
from models.users import set_address


class PrefCb(CallbackData, prefix="pref"):
    item: str  # language / compound / address / notify


class AddressForm(StatesGroup):
    typing = State()


async def _summary(session: AsyncSession, user: User) -> tuple[str, InlineKeyboardMarkup]:
    compound = await session.get(Compound, user.compound_id) if user.compound_id else None
    address = " ".join(p for p in (user.building, user.unit) if p) or _("未填写")
    text = "\n".join(
        [
            _("⚙️ <b>设置</b>"),
            _("语言：{language}").format(language=LANGUAGE_NAMES[user.language]),
            _("小区：{compound}").format(compound=compound.name if compound else _("未选择")),
            _("楼栋单元：{address}").format(address=address),
            _("进展通知：{state}").format(
                state=_("开启") if user.notifications_enabled else _("关闭")
            ),
        ]
    )
    builder = InlineKeyboardBuilder()
    builder.button(text=_("切换语言"), callback_data=PrefCb(item="language"))
    builder.button(text=_("更换小区"), callback_data=PrefCb(item="compound"))
    builder.button(text=_("填写楼栋单元"), callback_data=PrefCb(item="address"))
    builder.button(
        text=_("关闭通知") if user.notifications_enabled else _("开启通知"),
        callback_data=PrefCb(item="notify"),
    )
    builder.adjust(2)
    return text, builder.as_markup()


async def show(message: Message, session: AsyncSession, user: User) -> None:
    text, markup = await _summary(session, user)
    await message.answer(text, reply_markup=markup)


async def pressed(
    query: CallbackQuery, callback_data: PrefCb, state: FSMContext, session: AsyncSession,
    user: User,
) -> None:  # fmt: skip
    await query.answer()
    message = pressed_on(query)
    if callback_data.item == "language":
        await message.answer(
            _("请选择语言 / Choose your language:"), reply_markup=keyboards.languages()
        )
    elif callback_data.item == "compound":
        await ask_for_compound(message, state)
    elif callback_data.item == "address":
        await state.set_state(AddressForm.typing)
        await message.answer(_("请输入楼栋和单元，例如“3号楼2单元”（发送 /cancel 取消）："))
    elif callback_data.item == "notify":
        user.notifications_enabled = not user.notifications_enabled
        text, markup = await _summary(session, user)
        await message.edit_text(text, reply_markup=markup)


async def address_typed(
    message: Message, state: FSMContext, session: AsyncSession, user: User
) -> None:
    try:
        await set_address(session=session, user=user, text=message.text or "")
    except TooLong as error:
        await message.answer(too_long(error))  # still typing: they try again or /cancel
        return
    await state.set_state(None)
    text, markup = await _summary(session, user)
    await message.answer(_("已保存。"), reply_markup=keyboards.main_menu(user.role))
    await message.answer(text, reply_markup=markup)


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(show, MenuButton(MENU_SETTINGS))
    router.message.register(show, Command("settings"))
    router.callback_query.register(pressed, PrefCb.filter())
    router.message.register(address_typed, AddressForm.typing, F.text, ~F.text.startswith("/"))
    return router
