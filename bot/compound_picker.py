"""Choosing a compound by name, for every staff flow (plan, posters, invites, a worker's
compounds): buttons when there are few, the districts first when there are many, or typing
part of a name. Nobody needs to know codes such as ``hp01``.

A flow registers what happens with the chosen compound (``on_pick``); the choice carries only
ids, and the flow's model function checks scope again on every press. The answers (a press,
typed words) arrive in bot/handlers/staff/picker.py."""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import _
from models.db import id_of
from models.plan import compounds_in_scope, districts_in_scope
from models.tables import Compound, User

MAX_BUTTONS = 10  # more compounds than this: the districts first

# What a flow does with the chosen compound: (message, compound_id, target, handler data).
Picked = Callable[..., Awaitable[None]]
_FLOWS: dict[str, Picked] = {}


class PickCb(CallbackData, prefix="pk"):
    purpose: str  # plan / qr / inv / wadd
    compound: int = 0
    district: int = 0
    target: int = 0  # wadd: the worker who gets the compound


class PickCompound(StatesGroup):
    search = State()  # the staff member may type part of a compound's name


def is_menu_tap(text: str | None) -> bool:
    """A reply-keyboard button (they all start with an emoji: "📋 我的诉求"), not typed words."""
    return text is not None and text != "" and unicodedata.category(text[0]) == "So"


async def leave_for_menu(message: Message, state: FSMContext) -> None:
    """A menu tap while the bot waits for typed words: the wait ends and the tap is handled
    by its own handler, as if no question had been asked."""
    if is_menu_tap(message.text):
        await state.set_state(None)
        raise SkipHandler


def on_pick(purpose: str) -> Callable[[Picked], Picked]:
    def register(flow: Picked) -> Picked:
        _FLOWS[purpose] = flow
        return flow

    return register


def flow_for(purpose: str) -> Picked | None:
    return _FLOWS.get(purpose)


def compound_buttons(
    compounds: Sequence[Compound], *, purpose: str, target: int
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for compound in compounds:
        builder.button(
            text=compound.name,
            callback_data=PickCb(purpose=purpose, compound=id_of(compound), target=target),
        )
    builder.adjust(2)
    return builder.as_markup()


async def show_picker(
    message: Message,
    *,
    purpose: str,
    prompt: str,
    data: dict[str, Any],
    target: int = 0,
    auto_single: bool = False,
) -> None:
    """Ask which compound. ``data`` is the handler's data (session, user, state, …), handed
    on to the flow; with ``auto_single`` a user with one compound skips the question."""
    session: AsyncSession = data["session"]
    user: User = data["user"]
    state: FSMContext = data["state"]
    compounds = await compounds_in_scope(session=session, user=user)
    if not compounds:
        await message.answer(_("您目前没有负责的小区。"))
        return
    if auto_single and len(compounds) == 1:
        await _FLOWS[purpose](message, compound_id=compounds[0].id, target=target, **data)
        return
    await state.set_state(PickCompound.search)
    await state.update_data(pick_purpose=purpose, pick_target=target)
    hint = _("点选小区，或直接输入小区名称搜索（/cancel 取消）。")
    if len(compounds) <= MAX_BUTTONS:
        markup = compound_buttons(compounds, purpose=purpose, target=target)
    else:
        builder = InlineKeyboardBuilder()
        for district in await districts_in_scope(session=session, user=user):
            builder.button(
                text=district.name,
                callback_data=PickCb(purpose=purpose, district=id_of(district), target=target),
            )
        builder.adjust(3)
        markup = builder.as_markup()
        hint = _("先点选所在的区，或直接输入小区名称搜索（/cancel 取消）。")
    await message.answer(f"{prompt}\n{hint}", reply_markup=markup)
