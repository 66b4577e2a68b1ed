"""Keyboards and the callback data they carry."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import LANGUAGE_NAMES, _
from bot.texts import (
    MENU_BOARD,
    MENU_MY_TICKETS,
    MENU_NOTICES,
    MENU_REPORT,
    MENU_SETTINGS,
    STAFF_MENU,
)
from models.tables import Compound, District, Role


class LanguageCb(CallbackData, prefix="lang"):
    code: str


class DistrictCb(CallbackData, prefix="dist"):
    id: int
    ask: str  # which "which compound?" question it answers: stale ones are refused


class CompoundCb(CallbackData, prefix="cmp"):
    id: int
    ask: str


class TicketCb(CallbackData, prefix="t"):
    """A ticket's detail view and the author's actions on it (see handlers/mytickets.py)."""

    id: int
    action: str = "view"  # view / add / withdraw / withdraw_ok / remind


def main_menu(role: str) -> ReplyKeyboardMarkup:
    """The reply keyboard for ``role``: staff never get the residents' one. Built directly: it
    goes out with every welcome, and aiogram's builder deep-copies its buttons at every step
    (a fifth of the CPU a first contact cost the bot)."""
    if Role(role).is_staff:
        queue, search, notices, compounds, stats = (KeyboardButton(text=_(x)) for x in STAFF_MENU)
        rows = [[queue, search], [notices, compounds, stats]]
    else:
        report, mine, board, notices, settings = (
            KeyboardButton(text=_(label))
            for label in (MENU_REPORT, MENU_MY_TICKETS, MENU_BOARD, MENU_NOTICES, MENU_SETTINGS)
        )
        rows = [[report, mine], [board, notices], [settings]]
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, is_persistent=True)


def languages() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code, name in LANGUAGE_NAMES.items():
        builder.button(text=name, callback_data=LanguageCb(code=code))
    return builder.as_markup()


def districts(items: Sequence[District], *, ask: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for district in items:
        builder.button(text=district.name, callback_data=DistrictCb(id=district.id, ask=ask))  # type: ignore[arg-type]
    builder.adjust(3)
    return builder.as_markup()


def compounds(
    items: Sequence[Compound], *, ask: str, with_districts: bool = False
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for compound in items:
        builder.button(text=compound.name, callback_data=CompoundCb(id=compound.id, ask=ask))  # type: ignore[arg-type]
    builder.adjust(1)
    if with_districts:
        builder.row()
        builder.button(text=_("按区选择"), callback_data=DistrictCb(id=0, ask=ask))
    return builder.as_markup()
