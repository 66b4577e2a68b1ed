"""Keyboards and the callback data they carry."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import LANGUAGE_NAMES, N_, _
from bot.texts import (
    MENU_BOARD,
    MENU_MY_TICKETS,
    MENU_NOTICES,
    MENU_REPORT,
    MENU_SETTINGS,
    STAFF_MENU,
)
from models.db import id_of
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


class SurveyCb(CallbackData, prefix="sv"):
    """A tap on a 回访 survey (handlers/survey.py): the survey, which question, the answer."""

    id: int
    step: str  # resolved (value 1/0) / score (value 1–5) / comment
    value: int = 0


class AcceptCb(CallbackData, prefix="acc"):
    """A score in a 民意验收 survey: ``item`` 0 is the whole renovation, else a plan item."""

    id: int
    item: int
    score: int


SCORE_LABELS = {5: N_("5 非常满意"), 4: N_("4 满意"), 3: N_("3 一般"), 2: N_("2 不满意"),
                1: N_("1 非常不满意")}  # fmt: skip


def survey_resolved(survey_id: int, gettext: Callable[[str], str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=gettext("✅ 已解决"), callback_data=SurveyCb(id=survey_id, step="resolved", value=1)
    )
    builder.button(
        text=gettext("❌ 未解决"), callback_data=SurveyCb(id=survey_id, step="resolved", value=0)
    )
    return builder.as_markup()


def survey_scores(survey_id: int, gettext: Callable[[str], str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for score, label in SCORE_LABELS.items():
        builder.button(
            text=gettext(label), callback_data=SurveyCb(id=survey_id, step="score", value=score)
        )
    builder.adjust(1)
    return builder.as_markup()


def acceptance_scores(
    survey_id: int, item_id: int, gettext: Callable[[str], str]
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for score, label in SCORE_LABELS.items():
        builder.button(
            text=gettext(label), callback_data=AcceptCb(id=survey_id, item=item_id, score=score)
        )
    builder.adjust(1)
    return builder.as_markup()


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
        builder.button(text=district.name, callback_data=DistrictCb(id=id_of(district), ask=ask))
    builder.adjust(3)
    return builder.as_markup()


def compounds(
    items: Sequence[Compound], *, ask: str, with_districts: bool = False
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for compound in items:
        builder.button(text=compound.name, callback_data=CompoundCb(id=id_of(compound), ask=ask))
    builder.adjust(1)
    if with_districts:
        builder.row()
        builder.button(text=_("按区选择"), callback_data=DistrictCb(id=0, ask=ask))
    return builder.as_markup()
