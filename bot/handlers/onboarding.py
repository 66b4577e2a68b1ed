"""Binding a resident to their compound: by deep link (c_<code>), by typing part of its name,
or by district buttons."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import keyboards
from bot.i18n import _
from bot.keyboards import CompoundCb, DistrictCb
from bot.settings import Settings
from models.registry import list_compounds, list_districts, search_compounds
from models.tables import Compound, User
from models.users import bind_compound
from nlu.client import NLUClient

router = Router(name=__name__)


class PickCompound(StatesGroup):
    typing_name = State()


async def ask_for_compound(message: Message, state: FSMContext) -> None:
    await state.set_state(PickCompound.typing_name)
    await message.answer(
        _("请告诉我您住在哪个小区：直接输入小区名称（打几个字就行），或点下面按区选择。"),
        reply_markup=keyboards.compounds([], with_districts=True),
    )


async def finish_binding(
    message: Message, state: FSMContext, session: AsyncSession, user: User, compound: Compound,
    nlu: NLUClient, settings: Settings, i18n: I18n,
) -> None:  # fmt: skip
    await bind_compound(session=session, user=user, compound=compound)
    await message.answer(
        _("好的，已为您绑定小区：<b>{name}</b>。\n有什么想反映的，直接打字告诉我就行。").format(
            name=compound.name
        ),
        reply_markup=keyboards.main_menu(),
    )
    # A demand typed before the compound was known was kept: carry on with it now.
    # (Imported here because the report module imports this one.)
    from bot.handlers.report import resume_pending_demand

    await resume_pending_demand(message, state, session, user, nlu, settings, i18n)


@router.message(PickCompound.typing_name, F.text, ~F.text.startswith("/"))
async def compound_typed(message: Message, session: AsyncSession) -> None:
    found = await search_compounds(session=session, query=message.text or "")
    if not found:
        await message.answer(
            _("没有找到叫“{query}”的小区。换个说法试试，或按区选择：").format(query=message.text),
            reply_markup=keyboards.compounds([], with_districts=True),
        )
        return
    await message.answer(
        _("是下面哪个小区？点一下就行："),
        reply_markup=keyboards.compounds(found, with_districts=True),
    )


@router.callback_query(DistrictCb.filter(F.id == 0))
async def district_list(query: CallbackQuery, session: AsyncSession) -> None:
    await query.answer()
    await query.message.edit_text(  # type: ignore[union-attr]
        _("请选择您所在的区："),
        reply_markup=keyboards.districts(await list_districts(session=session)),
    )


@router.callback_query(DistrictCb.filter())
async def district_compounds(
    query: CallbackQuery, callback_data: DistrictCb, session: AsyncSession
) -> None:
    await query.answer()
    items = await list_compounds(session=session, district_id=callback_data.id)
    await query.message.edit_text(  # type: ignore[union-attr]
        _("请选择您的小区："), reply_markup=keyboards.compounds(items, with_districts=True)
    )


@router.callback_query(CompoundCb.filter())
async def compound_chosen(
    query: CallbackQuery,
    callback_data: CompoundCb,
    state: FSMContext,
    session: AsyncSession,
    user: User,
    nlu: NLUClient,
    settings: Settings,
    i18n: I18n,
) -> None:
    compound = await session.get(Compound, callback_data.id)
    if compound is None:
        await query.answer(_("这个小区已不在名单里，请重新选择。"), show_alert=True)
        return
    await query.answer()
    await query.message.edit_reply_markup(reply_markup=None)  # type: ignore[union-attr]
    await state.set_state(None)
    await finish_binding(query.message, state, session, user, compound, nlu, settings, i18n)  # type: ignore[arg-type]
