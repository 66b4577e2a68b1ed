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

from bot.filters import MenuButton
from bot.i18n import _
from bot.notice_texts import kind_icon
from bot.settings import Settings
from bot.texts import (
    MENU_BOARD,
    MENU_NOTICES,
    PLAN_STATUS_LABELS,
    STAGE_LABELS,
    local_time,
    progress_bar,
)
from models.notices import notices_for_resident
from models.plan import plan_items
from models.stats import compute_kpis, demand_menu
from models.surveys import acceptance_results
from models.tables import Compound, RenovationStage, User
from nlu.taxonomy import load_taxonomy

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")


async def send_board(
    message: Message, session: AsyncSession, user: User, settings: Settings
) -> None:
    compound = await session.get(Compound, user.compound_id) if user.compound_id else None
    if compound is None:
        await message.answer(_("您还没有选择小区。发送 /start 选择后就能看到本小区的改造公示。"))
        return
    taxonomy = load_taxonomy()
    lines = [
        _("🏘 <b>{name}</b> 改造公示").format(name=escape(compound.name)),
        _("阶段：{stage}　总进度：{bar}").format(
            stage=_(STAGE_LABELS[RenovationStage(compound.renovation_stage)]),
            bar=progress_bar(compound.renovation_progress),
        ),
        "",
        _("<b>改造内容</b>"),
    ]
    items = await plan_items(session=session, compound_id=compound.id)  # type: ignore[arg-type]
    acceptance = await acceptance_results(session=session, compound_id=compound.id)  # type: ignore[arg-type]
    if items:
        for item in items:
            rated = acceptance.items.get(item.id)  # type: ignore[arg-type]
            lines.append(
                f"• {escape(item.title)}（{taxonomy.get(item.category).name(user.language)}）"
                f" {_(PLAN_STATUS_LABELS[item.status])} {progress_bar(item.progress, 5)}"
                + (" · " + _("验收 {score} 分").format(score=f"{rated[0]:.1f}") if rated else "")
            )
    else:
        lines.append(_("改造方案正在征集居民意见，欢迎“点菜”！"))
    if acceptance.overall is not None:
        lines.append(
            _("民意验收：{score} 分（{n} 人评价）").format(
                score=f"{acceptance.overall:.1f}", n=acceptance.answers
            )
        )
    lines += ["", _("<b>居民点单</b>（反映和附议人次）")]
    menu = await demand_menu(session=session, compound_ids=[compound.id])  # type: ignore[list-item]
    if menu:
        for category, count in menu[:6]:
            lines.append(f"• {taxonomy.get(category).name(user.language)}：{count}")
    else:
        lines.append(_("还没有居民反映问题。"))
    kpis = await compute_kpis(session=session, compound_ids=[compound.id])  # type: ignore[list-item]
    lines += [
        "",
        _("<b>办理情况</b>"),
        _("响应率 {response} · 解决率 {resolution} · 满意率 {satisfaction}").format(
            response=kpis.response.percent(),
            resolution=kpis.resolution.percent(),
            satisfaction=kpis.satisfaction.percent(),
        ),
    ]
    await message.answer("\n".join(lines))


@router.message(Command("board"))
@router.message(MenuButton(MENU_BOARD))
async def board(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    await send_board(message, session, user, settings)


class NoticePageCb(CallbackData, prefix="np"):
    page: int


NOTICES_PER_PAGE = 5


@router.message(Command("notices"))
@router.message(MenuButton(MENU_NOTICES))
async def notices(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    text, markup = await _notices_page(session, user, settings, 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(NoticePageCb.filter())
async def notices_page(
    callback: CallbackQuery, callback_data: NoticePageCb, session: AsyncSession, user: User,
    settings: Settings,
) -> None:  # fmt: skip
    text, markup = await _notices_page(session, user, settings, max(0, callback_data.page))
    await callback.answer()
    await callback.message.edit_text(text, reply_markup=markup)  # type: ignore[union-attr]


async def _notices_page(
    session: AsyncSession, user: User, settings: Settings, page: int
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
                     f"{escape(notice.text[:600])}")  # fmt: skip
    builder = InlineKeyboardBuilder()
    if page > 0:
        builder.button(text=_("⬅️ 较新"), callback_data=NoticePageCb(page=page - 1))
    if page + 1 < pages:
        builder.button(text=_("较早 ➡️"), callback_data=NoticePageCb(page=page + 1))
    return "\n".join(lines), builder.as_markup() if page > 0 or page + 1 < pages else None
