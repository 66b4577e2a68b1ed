"""Binding a resident to their compound: by deep link (c_<code>), by typing part of its name,
or by district buttons."""

from __future__ import annotations

import secrets
from html import escape

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import keyboards
from bot.callbacks import pressed_on
from bot.demand_flow import resume_pending_demand
from bot.i18n import _
from bot.keyboards import CompoundCb, DistrictCb
from bot.screens import ASK_KEY, PickCompound, ask_for_compound, finish_binding
from bot.settings import Settings
from models.privacy import cut
from models.registry import list_compounds, list_districts, search_compounds
from models.tables import Compound, User
from nlu.client import NLUClient

ECHO_LIMIT = 30  # characters of a typed name shown back (a message has 4,096 at most)


async def _open_ask(state: FSMContext) -> str | None:
    return (await state.get_data()).get(ASK_KEY)


def _echo(text: str) -> str:
    """A typed name shown back: escaped for HTML and cut well under Telegram's limit."""
    return escape(cut(" ".join(text.split()), ECHO_LIMIT))


async def compound_typed(message: Message, state: FSMContext, session: AsyncSession) -> None:
    ask = await _open_ask(state) or secrets.token_hex(4)
    await state.update_data({ASK_KEY: ask})
    found = await search_compounds(session=session, query=message.text or "")
    if not found:
        await message.answer(
            _("没有找到叫“{query}”的小区。换个说法试试，或按区选择：").format(
                query=_echo(message.text or "")
            ),
            reply_markup=keyboards.compounds([], ask=ask, with_districts=True),
        )
        return
    await message.answer(
        _("是下面哪个小区？点一下就行："),
        reply_markup=keyboards.compounds(found, ask=ask, with_districts=True),
    )


async def _is_stale(
    query: CallbackQuery, *, ask: str, state: FSMContext, session: AsyncSession, user: User
) -> bool:
    """A compound keyboard from an earlier question (the resident has since chosen, or was
    asked again) never re-binds them: they are told, and shown where they stand."""
    if ask == await _open_ask(state):
        return False
    await query.answer(_("这条已经过期了。"))
    message = pressed_on(query)
    await message.edit_reply_markup(reply_markup=None)
    compound = await session.get(Compound, user.compound_id) if user.compound_id else None
    if compound is not None:
        await message.answer(
            _(
                "这个按钮已经过期。您现在绑定的小区是：<b>{name}</b>。"
                "如需更换，请在“⚙️ 设置”里修改。"
            ).format(name=escape(compound.name))
        )
    else:
        await ask_for_compound(message, state)
    return True


async def district_list(
    query: CallbackQuery, callback_data: DistrictCb, state: FSMContext, session: AsyncSession,
    user: User,
) -> None:  # fmt: skip
    if await _is_stale(query, ask=callback_data.ask, state=state, session=session, user=user):
        return
    await query.answer()
    await pressed_on(query).edit_text(
        _("请选择您所在的区："),
        reply_markup=keyboards.districts(
            await list_districts(session=session), ask=callback_data.ask
        ),
    )


async def district_compounds(
    query: CallbackQuery, callback_data: DistrictCb, state: FSMContext, session: AsyncSession,
    user: User,
) -> None:  # fmt: skip
    if await _is_stale(query, ask=callback_data.ask, state=state, session=session, user=user):
        return
    await query.answer()
    items = await list_compounds(session=session, district_id=callback_data.id)
    await pressed_on(query).edit_text(
        _("请选择您的小区："),
        reply_markup=keyboards.compounds(items, ask=callback_data.ask, with_districts=True),
    )


async def compound_chosen(
    query: CallbackQuery, callback_data: CompoundCb, state: FSMContext, session: AsyncSession,
    user: User, nlu: NLUClient, settings: Settings,
) -> None:  # fmt: skip
    if await _is_stale(query, ask=callback_data.ask, state=state, session=session, user=user):
        return
    compound = await session.get(Compound, callback_data.id)
    if compound is None:
        await query.answer(_("这个小区已不在名单里，请重新选择。"), show_alert=True)
        return
    await query.answer()
    message = pressed_on(query)
    await message.edit_reply_markup(reply_markup=None)
    await state.set_state(None)
    await finish_binding(message, state=state, session=session, user=user, compound=compound)
    await resume_pending_demand(
        message, state=state, session=session, user=user, nlu=nlu, settings=settings
    )


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(
        compound_typed, PickCompound.typing_name, F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(district_list, DistrictCb.filter(F.id == 0))
    router.callback_query.register(district_compounds, DistrictCb.filter())
    router.callback_query.register(compound_chosen, CompoundCb.filter())
    return router
