"""The answers to the compound picker (bot/compound_picker.py): a district pressed, a compound
pressed (handed to the flow that asked), or part of a name typed."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.callbacks import pressed_on
from bot.compound_picker import PickCb, PickCompound, compound_buttons, flow_for, leave_for_menu
from bot.i18n import _
from models.plan import compounds_in_scope, search_in_scope
from models.tables import User


async def typed(message: Message, state: FSMContext, session: AsyncSession, user: User) -> None:
    await leave_for_menu(message, state)
    data = await state.get_data()
    found = await search_in_scope(session=session, user=user, query=message.text or "")
    if not found:
        await message.answer(
            _("在您负责的小区里没有找到“{query}”，请换个说法，或 /cancel 取消。").format(
                query=(message.text or "")[:30]
            ),
            parse_mode=None,
        )
        return
    await message.answer(
        _("请点选小区："),
        reply_markup=compound_buttons(
            found, purpose=data.get("pick_purpose", ""), target=data.get("pick_target", 0)
        ),
    )


async def district_chosen(
    query: CallbackQuery, callback_data: PickCb, session: AsyncSession, user: User
) -> None:
    compounds = await compounds_in_scope(
        session=session, user=user, district_id=callback_data.district
    )
    await query.answer()
    if not compounds:
        await pressed_on(query).answer(_("这个区里没有您负责的小区。"))
        return
    await pressed_on(query).edit_text(
        _("请点选小区："),
        reply_markup=compound_buttons(
            compounds, purpose=callback_data.purpose, target=callback_data.target
        ),
    )


async def compound_chosen(
    query: CallbackQuery, callback_data: PickCb, state: FSMContext, **data: Any
) -> None:
    flow = flow_for(callback_data.purpose)
    await query.answer()
    if flow is None:
        return
    if await state.get_state() == PickCompound.search.state:
        await state.set_state(None)
    await flow(
        pressed_on(query),
        compound_id=callback_data.compound,
        target=callback_data.target,
        state=state,
        **data,
    )


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(typed, PickCompound.search, F.text, ~F.text.startswith("/"))
    router.callback_query.register(district_chosen, PickCb.filter(F.compound == 0))
    router.callback_query.register(compound_chosen, PickCb.filter(F.compound > 0))
    return router
