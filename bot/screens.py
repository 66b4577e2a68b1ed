"""Screens (a message and its buttons) that several handler modules show: the question which
compound, the compound's public board (小区改造) and the short answer about it, a resident's
ticket list (我的诉求), the staff's help and what their 📢 公告 and 🏘 小区 buttons open. Handler
modules import them from here, never from each other; bot/handlers/__init__.py assembles the
handler modules' routers."""

from __future__ import annotations

import secrets
from html import escape
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import keyboards, notice_texts
from bot.compound_picker import show_picker
from bot.i18n import N_, _
from bot.keyboards import TicketCb
from bot.notice_texts import ManageCb, kind_icon
from bot.settings import Settings
from bot.texts import (
    PLAN_STATUS_LABELS,
    STAGE_LABELS,
    kpi_legend,
    local_time,
    progress_bar,
    status_label,
)
from models import notices
from models.db import id_of
from models.plan import plan_items
from models.renovation import RenovationStatus, renovation_status
from models.stats import compute_kpis, demand_menu
from models.surveys import acceptance_results
from models.tables import Compound, Notice, NoticeState, PlanItemStatus, RenovationStage, Role, User
from models.tickets import snippet, tickets_followed_by
from models.users import bind_compound
from nlu.taxonomy import load_taxonomy

# --- which compound (bot/handlers/onboarding.py answers it) ---------------------------------


class PickCompound(StatesGroup):
    typing_name = State()


ASK_KEY = "compound_ask"  # FSM data: the token of the open "which compound?" question


async def ask_for_compound(message: Message, state: FSMContext) -> None:
    ask = secrets.token_hex(4)
    await state.update_data({ASK_KEY: ask})
    await state.set_state(PickCompound.typing_name)
    await message.answer(
        _("请告诉我您住在哪个小区：直接输入小区名称（打几个字就行），或点下面按区选择。"),
        reply_markup=keyboards.compounds([], ask=ask, with_districts=True),
    )


async def finish_binding(
    message: Message, *, state: FSMContext, session: AsyncSession, user: User, compound: Compound
) -> None:
    """Bind the resident to ``compound`` and say so. The caller carries on with a demand typed
    before the compound was known (``bot.demand_flow.resume_pending_demand``)."""
    await bind_compound(session=session, user=user, compound=compound)
    await session.commit()  # commit, then talk
    await state.update_data({ASK_KEY: None})
    await message.answer(
        _("好的，已为您绑定小区：<b>{name}</b>。\n有什么想反映的，直接打字告诉我就行。").format(
            name=escape(compound.name)
        ),
        reply_markup=keyboards.main_menu(user.role),
    )


# --- 小区改造: the compound's public board ---------------------------------------------------


async def send_board(
    message: Message, *, session: AsyncSession, user: User, settings: Settings
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
    items = await plan_items(session=session, compound_id=id_of(compound))
    acceptance = await acceptance_results(session=session, compound_id=id_of(compound))
    if items:
        for item in items:
            rated = acceptance.items.get(id_of(item))
            lines.append(
                _("• {title}（{category}） {status} {bar}").format(
                    title=escape(item.title),
                    category=taxonomy.get(item.category).name(user.language),
                    status=_(PLAN_STATUS_LABELS[item.status]),
                    bar=progress_bar(item.progress, 5),
                )
                + (" · " + _("验收 {score} 分").format(score=f"{rated[0]:.1f}") if rated else "")
                + (
                    " · " + _("计划 {date} 前完成").format(date=item.due_date.isoformat())
                    if item.due_date is not None and item.status != PlanItemStatus.done
                    else ""
                )
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
    menu = await demand_menu(session=session, compound_ids=[id_of(compound)])
    if menu:
        for category, count in menu[:6]:
            lines.append(
                _("• {category}：{count}").format(
                    category=taxonomy.get(category).name(user.language), count=count
                )
            )
    else:
        lines.append(_("还没有居民反映问题。"))
    kpis = await compute_kpis(session=session, compound_ids=[id_of(compound)])
    lines += [
        "",
        _("<b>办理情况</b>"),
        _("响应率 {response} · 解决率 {resolution} · 满意率 {satisfaction}").format(
            response=kpis.response.percent(),
            resolution=kpis.resolution.percent(),
            satisfaction=kpis.satisfaction.percent(),
        ),
    ]
    lines += kpi_legend(kpis, settings)
    await message.answer("\n".join(lines))


# --- 什么时候改造？ the short answer (its button: bot/handlers/plan_question.py) ------------------

# What comes after each stage, in the words a resident would use.
NEXT_STEPS = {
    RenovationStage.surveying: N_("下一步：根据居民反映的问题定改造方案。"),
    RenovationStage.planning: N_("下一步：方案定下来以后开工。"),
    RenovationStage.construction: N_("下一步：完工后请居民验收打分。"),
    RenovationStage.completed: N_("下一步：居民验收打分（民意验收）。"),
}


class WholeBoardCb(CallbackData, prefix="board"):
    """The button under the short answer: the whole board of the resident's compound."""


def _whole_board_button() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🏘 查看完整改造公示"), callback_data=WholeBoardCb())
    return builder.as_markup()


def plan_answer(status: RenovationStatus, *, notified: bool) -> str:
    """The short answer; ``notified``: the resident gets stage changes as messages."""
    stage = _(STAGE_LABELS[status.stage])
    if not status.started:
        now = _("现在：{stage}，还没开工。").format(stage=stage)
    elif status.stage == RenovationStage.construction:
        now = _("现在：{stage}，已经开工。").format(stage=stage)
    else:
        now = _("现在：{stage}，已经完工。").format(stage=stage)
    lines = [_("🏘 <b>{name}</b> 的改造").format(name=escape(status.compound.name)), now]
    if status.started:
        lines.append(
            _("总进度：{bar}").format(bar=progress_bar(status.compound.renovation_progress))
        )
    if status.compound.renovation_year:
        lines.append(_("计划改造年份：{year} 年").format(year=status.compound.renovation_year))
    if status.items:
        lines.append(
            _("改造内容 {n} 项：已完成 {done} 项，施工中 {doing} 项。").format(
                n=status.items, done=status.items_done, doing=status.items_in_progress
            )
        )
    elif status.stage == RenovationStage.surveying:
        lines.append(_("改造方案还没有定下来。您想改什么，直接打字告诉我。"))
    else:
        lines.append(_("改造方案还没有公布。"))
    if status.planned_finish is not None:
        lines.append(_("计划完工：{date}").format(date=status.planned_finish.strftime("%Y-%m-%d")))
    if status.next_stage is None:
        lines.append(_("改造已经完成并通过验收。"))
    else:
        lines.append(_(NEXT_STEPS[status.stage]))
        if notified:
            lines.append(_("进入下一阶段时，我会发消息告诉您。"))
    return "\n".join(lines)


async def answer_plan_question(message: Message, *, session: AsyncSession, user: User) -> None:
    """A free question about the renovation ("什么时候开始改造？"): a few lines from the board's
    figures (the stage, whether the works have begun, the planned year and finish, the next
    step) and a button to the whole board, rather than the whole board at once."""
    status = (
        await renovation_status(session=session, compound_id=user.compound_id)
        if user.compound_id
        else None
    )
    if status is None:
        await message.answer(_("您还没有选择小区。发送 /start 选择后就能看到本小区的改造公示。"))
        return
    await message.answer(
        plan_answer(status, notified=user.notifications_enabled),
        reply_markup=_whole_board_button(),
    )


# --- 我的诉求: the tickets a resident follows --------------------------------------------------

PAGE_SIZE = 5


class PageCb(CallbackData, prefix="mine"):
    page: int


async def send_ticket_list(
    message: Message, *, session: AsyncSession, user: User, settings: Settings, page: int,
    edit: bool = False,
) -> None:  # fmt: skip
    tickets, total = await tickets_followed_by(
        session=session, user=user, offset=page * PAGE_SIZE, limit=PAGE_SIZE
    )
    if total == 0:
        await message.answer(_("您还没有反映过问题。有什么想说的，直接打字告诉我就行。"))
        return
    taxonomy = load_taxonomy()
    lines = [_("📋 <b>我的诉求</b>（共 {total} 条）").format(total=total)]
    builder = InlineKeyboardBuilder()
    for ticket in tickets:
        mark = "" if ticket.author_id == user.id else _("（附议）")
        lines.append(
            _("• <b>{reference}</b>【{category}】{status}{mark} · {time}").format(
                reference=ticket.reference,
                category=taxonomy.get(ticket.category).name(user.language),
                status=status_label(ticket.status),
                mark=mark,
                time=local_time(ticket.updated_at, settings.tz),
            )
        )
        builder.button(
            text=f"{ticket.reference} · {snippet(ticket.text_original)}",
            callback_data=TicketCb(id=id_of(ticket)),
        )
    builder.adjust(1)
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(("◀️", page - 1))
        if page < pages - 1:
            nav.append(("▶️", page + 1))
        for label, target in nav:
            builder.button(text=label, callback_data=PageCb(page=target))
        builder.adjust(*([1] * len(tickets)), len(nav))
        lines.append(_("第 {page}/{pages} 页").format(page=page + 1, pages=pages))
    text, markup = "\n".join(lines), builder.as_markup()
    if edit:
        await message.edit_text(text, reply_markup=markup)
    else:
        await message.answer(text, reply_markup=markup)


# --- the staff's help -------------------------------------------------------------------------


def staff_help(role: Role) -> str:
    lines = [
        _("<b>工作台怎么用</b>"),
        _("• 📥 待办：新诉求、超时、紧急、今日到期和我负责的，点编号打开工单。"),
        _("• 在工单里：受理、派给、纳入计划、开始处理、办结、不予采纳、合并、延期、回复、请补充。"),
        _("• 直接输入编号（如 2611-0001）或关键词可以查找工单；多选后可以批量回复、办结或合并。"),
        _("• 📢 公告：给居民发通知。🏘 小区：改造计划和进度。📊 统计：三率。"),
    ]
    if role.oversees:
        lines.append(_("• /workers 管理社区工作者，/invite 生成邀请链接，/report 月度通报。"))
    lines.append(_("/cancel 取消当前操作。"))
    return "\n".join(lines)


# --- the staff menu's 📢 公告 and 🏘 小区 ---------------------------------------------------------


async def open_notices(message: Message, *, session: AsyncSession, user: User) -> None:
    """The staff menu's 公告 button: 发布公告 and the author's recent notices."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("📝 发布公告"), callback_data=ManageCb(id=0, a="new"))
    for notice in await notices.notices_of_author(session=session, author=user):
        builder.button(
            text=f"{kind_icon(notice.kind)} #{notice.id} {_state_label(notice)} "
            f"{notice_texts.snippet(notice.text, 14)}",
            callback_data=ManageCb(id=id_of(notice), a="view"),
        )
    builder.adjust(1)
    await message.answer(
        _("📢 <b>公告</b>：发布新公告，或查看已发布的。"), reply_markup=builder.as_markup()
    )


def _state_label(notice: Notice) -> str:
    if notice.recalled_at is not None:
        return _("已撤回")
    return {
        NoticeState.scheduled: _("已预约"),
        NoticeState.sending: _("发送中"),
        NoticeState.sent: _("已发送"),
        NoticeState.cancelled: _("已取消"),
    }.get(NoticeState(notice.state), "")


async def open_plan(
    message: Message, *, session: AsyncSession, user: User, state: FSMContext, **data: Any
) -> None:
    """The staff menu's 小区 button: choose one of the user's compounds, then its plan."""
    await show_picker(
        message,
        purpose="plan",
        prompt=_("要更新哪个小区的改造计划？"),
        data={"session": session, "user": user, "state": state, **data},
        auto_single=True,
    )
