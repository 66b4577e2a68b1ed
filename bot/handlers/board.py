"""小区改造 (the compound's public board, 公示): renovation plan and progress, what residents
asked for most, and the three KPIs. 社区公告: the notices sent to the compound."""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.callbacks import pressed_on
from bot.filters import MenuButton
from bot.i18n import _
from bot.notice_texts import kind_icon
from bot.screens import send_board
from bot.settings import Settings
from bot.texts import MENU_BOARD, MENU_NOTICES, local_time
from models.notices import notices_for_resident
from models.privacy import cut
from models.tables import User


async def board(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    await send_board(message, session=session, user=user, settings=settings)


class NoticePageCb(CallbackData, prefix="np"):
    page: int


NOTICES_PER_PAGE = 5


async def notices(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    text, markup = await _notices_page(session=session, user=user, settings=settings, page=0)
    await message.answer(text, reply_markup=markup)


async def notices_page(
    callback: CallbackQuery, callback_data: NoticePageCb, session: AsyncSession, user: User,
    settings: Settings,
) -> None:  # fmt: skip
    text, markup = await _notices_page(
        session=session, user=user, settings=settings, page=max(0, callback_data.page)
    )
    await callback.answer()
    await pressed_on(callback).edit_text(text, reply_markup=markup)


async def _notices_page(
    *, session: AsyncSession, user: User, settings: Settings, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """社区公告: the compound's notices, newest first, with the kind's icon; 📲 marks the
    ones this resident received as a message."""
    found, total = await notices_for_resident(
        session=session, user=user, offset=page * NOTICES_PER_PAGE, limit=NOTICES_PER_PAGE
    )
    if not found:
        return _("📢 最近没有社区公告。"), None
    pages = (total + NOTICES_PER_PAGE - 1) // NOTICES_PER_PAGE
    lines = [_("📢 <b>社区公告</b>（第 {page}/{pages} 页）").format(page=page + 1, pages=pages)]
    for notice, pushed in found:
        moment = notice.sent_at or notice.started_at
        when = local_time(moment, settings.tz) if moment else ""
        flag = " " + _("📲 已推送给您") if pushed else ""
        urgent = " " + _("🔴 紧急") if notice.urgent else ""
        lines.append(f"\n{kind_icon(notice.kind)} <b>{when}</b>{urgent}{flag}\n"
                     f"{escape(cut(notice.text, 600))}")  # fmt: skip
    builder = InlineKeyboardBuilder()
    if page > 0:
        builder.button(text=_("⬅️ 较新"), callback_data=NoticePageCb(page=page - 1))
    if page + 1 < pages:
        builder.button(text=_("较早 ➡️"), callback_data=NoticePageCb(page=page + 1))
    return "\n".join(lines), builder.as_markup() if page > 0 or page + 1 < pages else None


def router() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(board, MenuButton(MENU_BOARD))
    router.message.register(board, Command("board"))
    router.message.register(notices, MenuButton(MENU_NOTICES))
    router.message.register(notices, Command("notices"))
    router.callback_query.register(notices_page, NoticePageCb.filter())
    return router
